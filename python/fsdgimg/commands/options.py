"""Command-line options several commands share, defined once: image options (compression, level,
platform, source date epoch, annotations) and --json.

Every command module imports this one to register its options, for `fsdgimg --help` too: it must
stay cheap to import. What parses or checks a value is imported when a value is given."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fsdgimg.errors import InputError, UsageError, printable
from fsdgimg.oci.compression import COMPRESSIONS

if TYPE_CHECKING:
    from fsdgimg.oci.compression import Compression


def parse_annotation(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def epoch(text: str) -> int:
    from fsdgimg.oci.imageconfig import parse_epoch
    try:
        return parse_epoch(text, "--source-date-epoch")
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e).partition("=")[2]) from None


def add_compression(p: argparse.ArgumentParser, default: str | None = None) -> None:
    keep = "" if default else "; default: layers stay as they are, archives and file systems get gzip"
    p.add_argument("--compression", choices=COMPRESSIONS, default=default,
                   help=f"layer compression (gzip: every client reads it{keep})")
    p.add_argument("--level", type=int, help="compression level (gzip 1-9, 1-3 by ISA-L; zstd 1-19)")


def add_epoch(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--source-date-epoch", type=epoch,
                   help=help or "creation time for reproducible output (default: $SOURCE_DATE_EPOCH)")


def add_platform(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--platform", help=help or "OS/ARCH[/VARIANT]: choose from an index, or set for a root file system")


def add_annotations(p: argparse.ArgumentParser) -> None:
    p.add_argument("--annotation", action="append", type=parse_annotation, default=[], metavar="KEY=VALUE",
                   help="add a manifest annotation, e.g. org.opencontainers.image.source=URL (repeatable)")


def add_json(p: argparse.ArgumentParser, help: str = "print the result as JSON") -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_image_options(p: argparse.ArgumentParser) -> None:
    add_compression(p)
    add_platform(p)
    add_epoch(p)
    add_annotations(p)


def compression_from(args) -> Compression | None:
    """None when neither --compression nor --level was given (keep what is compressed already)."""
    if args.level is not None and args.compression == "none":
        raise UsageError("--level makes no sense with --compression none")
    if args.compression is None and args.level is None:
        return None
    from fsdgimg.oci.compression import Compression
    return Compression(args.compression or "gzip", args.level)


def usage_value(parse, text: str):
    """parse(text) for a value the user typed: what it refuses is a usage error (exit status 2)."""
    try:
        return parse(text)
    except InputError as e:
        raise UsageError(str(e)) from None


def image_options_from(args):
    from fsdgimg.oci.descriptor import Platform
    from fsdgimg.oci.reference import check_tag
    from fsdgimg.transports.convert import ImageOptions
    return ImageOptions(
        tag=usage_value(check_tag, args.tag) if getattr(args, "tag", None) else None,
        compression=compression_from(args),
        platform=usage_value(Platform.parse, args.platform) if getattr(args, "platform", None) else None,
        source_date_epoch=getattr(args, "source_date_epoch", None),
        annotations=dict(getattr(args, "annotation", []) or []))


def emit_json(obj) -> None:
    import json
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def emit(args, obj, line: str) -> int:
    """--json: the object; else the line."""
    if getattr(args, "json", False):
                emit_json(obj)
    else:
        print(printable(line))  # names and paths in it may come from an archive or a registry
    return 0


def emit_text(args, kind: str, text: str | bytes) -> int:
    """A generated file (a configuration, a policy): as it is, or with --json inside
    {"server": KIND, "config": TEXT}, for tools that take every answer as JSON."""
    if getattr(args, "json", False):
                emit_json({"server": kind, "config": text.decode() if isinstance(text, bytes) else text})
    elif isinstance(text, bytes):
        sys.stdout.buffer.write(text)
    else:
        sys.stdout.write(text)
    return 0


def check_output_file(path: str, flag: str) -> None:
    """Before anything is published: an output file that cannot be written would turn a publish that
    happened into a failure."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{flag} {path}: not writable")


def add_digestfile(p: argparse.ArgumentParser, what: str = "manifest") -> None:
    p.add_argument("--digestfile", metavar="FILE", help=f"write the {what}'s digest to FILE")


def add_catalog(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--catalog", type=Path,
                   help=help or "image catalog (default: $FSDGIMG_CATALOG or manifests/catalog.toml)")


def add_rebuild_inputs(p: argparse.ArgumentParser) -> None:
    """What a rebuild builds from (rebuild, verify --rebuild): the signed lock and its packages, a
    lock file, or today's catalog."""
    p.add_argument("--inputs", type=Path, metavar="DIR",
                   help="the locked packages are in DIR (default: the image's published inputs, else the "
                        "locked mirror)")
    p.add_argument("--lock", type=Path, metavar="FILE", help="rebuild from this lock file (you vouch for it)")
    p.add_argument("--from-catalog", action="store_true",
                   help="build today's catalog entry instead of the lock: shows what the archive changed since")
    add_catalog(p, "image catalog for --from-catalog")


def add_tools(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--tools", choices=("auto", "host", "guix"), default="auto", help=help)


def add_strict(p: argparse.ArgumentParser, help: str = "unknown licenses fail the audit too") -> None:
    p.add_argument("--strict", action="store_true", help=help)


def add_insecure(p, help: str = "plain HTTP or unverified TLS to the registry") -> None:
    p.add_argument("--insecure", action="store_true", help=help)


def add_static_writing(g, copy_help: str) -> None:
    """How a static tree is written: --no-fsync, --copy-blobs."""
    g.add_argument("--no-fsync", action="store_true", help="do not fsync files (faster; not crash-safe)")
    g.add_argument("--copy-blobs", action="store_true", help=copy_help)


# -- signing what is published (build --publish, publish) ----------------------------------------
def add_publish_signing(g, *, sign_help: str, gpg_help: str, identity_help: str) -> None:
    """--sign-key, --gpg-key, --sign-identity: sign what the command writes, right after writing it."""
    g.add_argument("--sign-key", type=Path, metavar="KEY", help=sign_help)
    g.add_argument("--gpg-key", metavar="KEYID", help=gpg_help)
    g.add_argument("--sign-identity", metavar="HOST/NAME", help=identity_help)


def check_publish_signing(args, dest_kind: str | None, dest_flag: str) -> None:
    """Refuse, before anything is built or written, signing options that cannot apply to the
    destination (`dest_kind`: its location kind, None without one; `dest_flag` names it in the
    messages), an unknown OpenPGP key, and a cosign key that does not open."""
    if args.sign_key:
        if dest_kind is None:
            raise UsageError(f"--sign-key signs what {dest_flag} writes: give {dest_flag} docker://… or static:…")
        if dest_kind not in ("docker", "static"):
            raise UsageError("--sign-key: signatures live in registries and static trees (docker://, static:)")
        if dest_kind == "static" and not args.sign_identity:
            raise UsageError("--sign-key to a static tree needs --sign-identity HOST[:PORT]/NAME, where users pull it")
    if args.gpg_key:
        if dest_kind != "static":
            raise UsageError(f"--gpg-key signs into the lookaside storage of the static tree {dest_flag} writes: "
                             f"give {dest_flag} static:DIR; for a registry use "
                             "'fsdgimg sign REF --gpg-key ID --lookaside DIR'")
        if not args.sign_identity:
            raise UsageError("--gpg-key needs --sign-identity HOST[:PORT]/NAME, where users pull it")
        from fsdgimg.trust.openpgp import key_identity
        key_identity(args.gpg_key)
    if args.sign_key:
        from fsdgimg.signature.keys import load_private_key
        load_private_key(args.sign_key)


def require_identity(target, identity: str | None, ref: str) -> None:
    """What a signature or attestation names an image in a static tree by must be given: the
    tree does not know the host it is served from."""
    if target.kind == "static" and not identity:
        raise UsageError(f"{ref}: a static tree does not know where it is served: give "
                         "--identity HOST[:PORT]/NAME, the reference users pull")


# -- a registry written to -------------------------------------------------------------------------
def add_registry(g, *,
                 insecure_help: str = "allow plain HTTP and unverified TLS (always allowed for loopback: "
                                      "plain HTTP only)",
                 ca_help: str = "CA certificate(s) to verify the registry's TLS certificate with",
                 jobs_help: str = "blobs uploaded at once (default 4)",
                 username_help: str = "user name (the password comes from --password-stdin)") -> None:
    """--username, --password-stdin, --insecure, --ca-file, --jobs, --retries (the help texts say
    what a registry written to needs; `sync` names its several registries)."""
    g.add_argument("--username", help=username_help)
    g.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_insecure(g, insecure_help)
    g.add_argument("--ca-file", metavar="PEM", help=ca_help)
    g.add_argument("--jobs", type=int, default=4, help=jobs_help)
    g.add_argument("--retries", type=int, default=5, help="retries of a failed request, with backoff (default 5)")


def registry_from(args, **more):
    """The RegistryOptions of add_registry's options (`more`: mount_from, remember); reads the
    password from standard input when asked."""
    from fsdgimg.transports.options import RegistryOptions
    if args.password_stdin and not args.username:
        raise UsageError("--password-stdin needs --username")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    password = None
    if args.password_stdin:
        if sys.stdin is None or sys.stdin.closed:
            raise UsageError("--password-stdin: standard input is closed")
        password = sys.stdin.readline().rstrip("\r\n")
    return RegistryOptions(args.username, password, args.insecure, args.ca_file, args.jobs, args.retries, **more)


# -- the registry an image is read from (skopeo's names) ------------------------------------------
def tls_verify(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_source_registry(p: argparse.ArgumentParser, what: str = "SRC") -> None:
    """--src-creds, --src-tls-verify, --src-cert-dir: how to read a docker:// source, apart from how
    to write the destination (a mirror reads one registry with one account and CA and writes another)."""
    g = p.add_argument_group(f"registry read from (docker:// {what})")
    g.add_argument("--src-creds", metavar="USER:PASSWORD",
                   help="credentials for the registry read from, and for it only (default: as for any "
                        "registry, $FSDGIMG_REGISTRY_USERNAME and _PASSWORD, then the auth files); other "
                        "users of this machine can see a command line: prefer an auth file")
    g.add_argument("--src-tls-verify", type=tls_verify, nargs="?", const=True, default=None, metavar="BOOL",
                   help="verify its TLS certificate (default true; false also allows plain HTTP, "
                        "as --insecure does)")
    g.add_argument("--src-cert-dir", metavar="DIR",
                   help="CA certificates (*.crt) its TLS certificate is checked against, as in "
                        "/etc/containers/certs.d/HOST[:PORT]/")


def source_registry_from(args, insecure: bool = False, ca_file: str | None = None, jobs: int = 4,
                         retries: int = 5):
    """The RegistryOptions for reading SRC. Without --src-tls-verify/--src-cert-dir, the command's
    own --insecure/--ca-file apply (they name every registry of the command); credentials are the
    source's own, never the destination's."""
    from fsdgimg.transports.options import RegistryOptions
    username = password = None
    if getattr(args, "src_creds", None) is not None:
        username, sep, password = args.src_creds.partition(":")
        if not username or not sep:
            raise UsageError("--src-creds needs USER:PASSWORD (or leave it out: the environment and "
                             "auth files are read as for any registry)")
    if getattr(args, "src_tls_verify", None) is not None:
        insecure = not args.src_tls_verify
    if getattr(args, "src_cert_dir", None):
        from fsdgimg.transports.registry.connect import ca_bundle
        ca_file = usage_value(ca_bundle, args.src_cert_dir)
    return RegistryOptions(username, password, insecure, ca_file, jobs, retries)
