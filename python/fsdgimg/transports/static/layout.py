"""The static tree: plain files under DIR that any web server maps onto the read side of the
distribution API (the configurations in fsdgimg/templates do the mapping).

    DIR/index.html                                  the human page
    DIR/v2/index.json                               GET /v2/                      -> {}
    DIR/v2/_catalog.json                            GET /v2/_catalog
    DIR/v2/_store/sha256/<hex>                      every blob and manifest, once
    DIR/v2/<name>/_blobs/sha256:<hex>               GET /v2/<name>/blobs/<digest>      (hard link)
    DIR/v2/<name>/_manifests/sha256:<hex>.<kind>    GET /v2/<name>/manifests/<digest>  (hard link)
    DIR/v2/<name>/_tags/<tag>                       GET /v2/<name>/manifests/<tag>
                                                    (symlink to ../_manifests/sha256:<hex>.<kind>)
    DIR/v2/<name>/_tags.json                        GET /v2/<name>/tags/list
    DIR/v2/<name>/_referrers/sha256:<hex>.json      GET /v2/<name>/referrers/<digest> (an OCI index of
                                                    the manifests whose subject is <digest>)
    DIR/v2/_referrers-none.json                     the same for a subject nothing refers to
    DIR/sigstore/<name>@sha256=<hex>/signature-<N>  OpenPGP signatures (containers simple signing) of a
                                                    manifest, N from 1: containers' lookaside layout, so
                                                    registries.d says `lookaside: https://HOST/sigstore`
    DIR/_web/                                       generated nginx, Apache and Caddy configurations,
                                                    tags.map (Apache, Caddy), tag.txt and list.txt (Caddy's
                                                    templates), errors/ (JSON error bodies), pages/ (each
                                                    repository's section of index.html, and the store's total),
                                                    signers/ (the public keys the tree's publisher signed with)
    DIR/.fsdgimg-attempt.json                       the journal of a publish under way (see writer.py)

Repository names never start with '_' (distribution grammar), so the '_' entries cannot collide with
a repository, whatever its depth. A manifest's file extension (<kind>) tells the web server its media
type; a tag is a symlink whose target names the digest, so a tag moves by one rename and a server
that follows it (nginx through $realpath_root) can answer with the right Docker-Content-Digest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.reference import NAME, TAG

KIND_OF = {mt.OCI_MANIFEST: "oci-manifest", mt.OCI_INDEX: "oci-index",
           mt.DOCKER_MANIFEST: "docker-manifest", mt.DOCKER_MANIFEST_LIST: "docker-list"}
MEDIA_TYPE_OF = {v: k for k, v in KIND_OF.items()}
KINDS = tuple(KIND_OF.values())

DIGEST_RE = r"sha256:[a-f0-9]{64}"
NAME_RE = NAME.pattern.removesuffix(r"\Z")
TAG_RE = TAG.pattern.removesuffix(r"\Z")
_MANIFEST_FILE = re.compile(rf"({DIGEST_RE})\.([a-z-]+)\Z")
LOCK_FILE = ".fsdgimg-lock"
TMP_PREFIX = ".tmp-"

# Lookaside storage of OpenPGP signatures, beside v2/ (no repository can be named so: repositories
# live under v2/). The one place the directory's name is written down: the writer, gc, the web
# configurations, `serve` and `web-config registries.d` take it from here.
LOOKASIDE_ROOT = "sigstore"
MAX_SIGNATURES = 100  # signature-1 .. signature-100 per manifest
SIGNATURE_RE = r"signature-[1-9][0-9]{0,2}"
# NAME@sha256=HEX/signature-N below the lookaside root (groups: name, hex, N)
LOOKASIDE_PATH_RE = rf"({NAME_RE})@sha256=([a-f0-9]{{64}})/signature-([1-9][0-9]{{0,2}})"


def lookaside_dir(base: Path, name: str, digest: Digest) -> Path:
    """Where containers/image looks for the signatures of `digest` of repository `name` under a
    lookaside base: BASE/NAME@ALGORITHM=HEX/ holding signature-1, signature-2, ..."""
    return base / f"{name}@{digest.algorithm}={digest.hex}"



class Tree:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.v2 = self.root / "v2"
        self.store = self.v2 / "_store" / "sha256"
        self.web = self.root / "_web"
        # name -> {tag: (digest, media type)}: tags a publish is about to move, seen by tags() so that
        # the files derived from them can be written before the tag symlinks are renamed into place
        self.pending: dict[str, dict[str, tuple[Digest, str]]] = {}
        # path -> bytes: referrers indexes a publish is about to write, read by the page through referrers()
        self.staged_referrers: dict[Path, bytes] = {}

    def store_path(self, digest: Digest) -> Path:
        return self.v2 / "_store" / digest.algorithm / digest.hex

    def blob_path(self, name: str, digest: Digest) -> Path:
        return self.v2 / name / "_blobs" / str(digest)

    def manifest_path(self, name: str, digest: Digest, media_type: str) -> Path:
        return self.v2 / name / "_manifests" / f"{digest}.{KIND_OF[media_type]}"

    def find_manifest(self, name: str, digest: Digest) -> Path | None:
        for kind in KINDS:
            p = self.v2 / name / "_manifests" / f"{digest}.{kind}"
            if p.is_file():
                return p
        return None

    @property
    def lookaside(self) -> Path:
        return self.root / LOOKASIDE_ROOT

    def signature_dir(self, name: str, digest: Digest) -> Path:
        return lookaside_dir(self.lookaside, name, digest)

    def signatures(self, name: str, digest: Digest) -> list[Path]:
        """signature-1, signature-2, ... of `digest`, up to the first missing one (as clients read them)."""
        directory = self.signature_dir(name, digest)
        out = []
        for n in range(1, MAX_SIGNATURES + 1):
            path = directory / f"signature-{n}"
            if not path.is_file():
                break
            out.append(path)
        return out

    def tag_path(self, name: str, tag: str) -> Path:
        return self.v2 / name / "_tags" / tag

    def tags_list_path(self, name: str) -> Path:
        return self.v2 / name / "_tags.json"

    def referrers_path(self, name: str, digest: Digest) -> Path:
        return self.v2 / name / "_referrers" / f"{digest}.json"

    def referrers(self, name: str, digest: Digest) -> bytes | None:
        """The referrers index of `digest` as it is about to be served (None: nothing refers to it)."""
        path = self.referrers_path(name, digest)
        if path in self.staged_referrers:
            return self.staged_referrers[path]
        try:
            with open(path, "rb") as f:
                return f.read(4 << 20)
        except OSError:
            return None

    def repositories(self) -> list[str]:
        """Every repository: a directory holding _tags or _manifests, found by walking v2/."""
        out = []
        if not self.v2.is_dir():
            return out
        for dirpath, dirnames, _ in os.walk(self.v2):
            rel = os.path.relpath(dirpath, self.v2)
            if "_manifests" in dirnames or "_tags" in dirnames:
                out.append(rel.replace(os.sep, "/"))
            dirnames[:] = [d for d in dirnames if not d.startswith("_") and not d.startswith(".")]
        return sorted(n for n in out if n != "." and NAME.match(n))

    def tags(self, name: str) -> dict[str, tuple[Digest, str]]:
        """tag -> (digest, media type), read from the tag symlinks."""
        out = {}
        d = self.v2 / name / "_tags"
        for entry in (os.listdir(d) if d.is_dir() else ()):
            if entry.startswith(".") or not TAG.match(entry):
                continue
            target = read_tag_link(d / entry)
            if target:
                out[entry] = target
        out.update(self.pending.get(name, {}))
        return dict(sorted(out.items()))


def parse_manifest_file(filename: str) -> tuple[Digest, str] | None:
    m = _MANIFEST_FILE.match(filename)
    if not m or m.group(2) not in MEDIA_TYPE_OF:
        return None
    return Digest.parse(m.group(1)), MEDIA_TYPE_OF[m.group(2)]


def tag_target(digest: Digest, media_type: str) -> str:
    return f"../_manifests/{digest}.{KIND_OF[media_type]}"


def read_tag_link(path: Path) -> tuple[Digest, str] | None:
    try:
        target = os.readlink(path)
    except OSError:
        return None
    if not target.startswith("../_manifests/"):
        return None
    return parse_manifest_file(target[len("../_manifests/"):])


def check_kind(media_type: str, where: str) -> str:
    if media_type not in KIND_OF:
        raise InputError(f"{where}: a static tree serves OCI and Docker schema 2 manifests and indexes, "
                         f"not {media_type}")
    return KIND_OF[media_type]
