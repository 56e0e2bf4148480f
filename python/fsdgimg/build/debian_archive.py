"""A Debian archive as a build sees it and as a rebuild remakes it.

- `capture_hooks`/`locked_inputs`: mmdebstrap copies out, just before it cleans up, the .debs it
  downloaded, the index files apt resolved them from and the image's apt sources; from those the
  build's lock is made (every .deb checked against the index's SHA256 and size).
- `assemble_repository`: a local apt repository holding exactly the locked .debs, at their pool
  paths, with a Packages index made from each .deb's own control file and the priority the original
  index gave it (mmdebstrap's variants choose packages by priority, and the archive's override may
  differ from the .deb's control). apt then resolves the same set the original build did.

Nothing here trusts a file it was handed: every .deb is hashed before it is placed, and every path
comes through lock.check_pool_path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shlex
import shutil
import tarfile
from pathlib import Path

from fsdgimg.build.lock import DebianInputs, DebPackage, check_pool_path
from fsdgimg.errors import DigestMismatch, InputError
from fsdgimg.sbom.deb822 import paragraphs

CAPTURE = ("var/cache/apt/archives", "var/lib/apt/lists", "etc/apt")
_MAX_CONTROL = 4 << 20


def capture_hooks(stage: str, into: Path) -> list[str]:
    """mmdebstrap hooks (of `stage`: customize, or extract for that variant) that copy what the lock
    is made of out of the root before mmdebstrap's clean-up removes it."""
    # A plain copy on the host ($1 is the root; mmdebstrap's copy-out fails on a path a variant
    # never made, e.g. no package cache when nothing was downloaded).
    return [f'--{stage}-hook=if [ -d "$1/{path}" ]; then cp -a "$1/{path}" {shlex.quote(str(into / name))}/; fi'
            for path, name in zip(CAPTURE, ("archives", "lists", "apt"))]


def prepare_capture(into: Path) -> None:
    for name in ("archives", "lists", "apt"):
        (into / name).mkdir(parents=True, exist_ok=True)


def debs_by_sha256(directory: Path) -> dict[str, Path]:
    """The .debs of a directory by their SHA256 — apt names a download after its version with the
    epoch escaped (busybox_1%3a1.35…), the pool does not, so the hash is what matches a lock."""
    return {sha256_file(p): p for p in sorted(Path(directory).glob("*.deb"))}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- from a build's capture to its lock ------------------------------------------------------------

def captured(capture: Path) -> tuple[Path, Path, Path]:
    """Where capture_hooks put the package cache, apt's lists and /etc/apt (copy-out keeps the name)."""
    return capture / "archives" / "archives", capture / "lists" / "lists", capture / "apt" / "apt"


def locked_inputs(archives: Path, lists: Path, apt: Path, mirror: str, suite: str, components: list[str],
                  arch: str, where: str) -> DebianInputs:
    """The Debian part of the lock: each downloaded .deb (in `archives`) as the index apt used (in
    `lists`) lists it, and the apt sources under `apt` (an etc/apt directory)."""
    release = _release_file(lists, suite, where)
    index: dict[tuple[str, str, str], dict] = {}
    for f in sorted(lists.glob(f"*_dists_{suite}_*_binary-{arch}_Packages*")):
        index.update(_stanzas(f))
    packages = []
    for deb in sorted(archives.glob("*.deb")):
        control = dict(next(paragraphs(deb_control(deb, where).decode("utf-8", "replace")), {}))
        key = (control.get("Package", ""), control.get("Version", ""), control.get("Architecture", ""))
        stanza = index.get(key)
        if stanza is None:
            raise InputError(f"{where}: {deb.name} is in none of the indices apt resolved from")
        digest, size = sha256_file(deb), deb.stat().st_size
        if stanza.get("SHA256") != digest or stanza.get("Size") != str(size):
            raise DigestMismatch(f"{where}: {deb.name} does not match the index (SHA256 or size)")
        filename = check_pool_path(stanza.get("Filename"), f"{where}: {deb.name}")
        packages.append(DebPackage(key[0], key[1], key[2], filename, size, digest, stanza.get("Priority", "")))
    if not packages:
        raise InputError(f"{where}: the build downloaded no .deb to lock")
    sources = {}
    for f in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]:
        if f.is_file() and (f.name == "sources.list" or f.suffix in (".list", ".sources")):
            sources[f"etc/apt/{f.relative_to(apt).as_posix()}"] = f.read_text(encoding="utf-8")
    return DebianInputs(mirror.rstrip("/"), suite, list(components), release, packages, sources)


def _release_file(lists: Path, suite: str, where: str) -> dict:
    for name in ("InRelease", "Release"):
        found = sorted(lists.glob(f"*_dists_{suite}_{name}"))
        if found:
            data = found[0].read_bytes()
            date = next((line.split(":", 1)[1].strip() for line in data.decode("utf-8", "replace").splitlines()
                         if line.startswith("Date:")), "")
            return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "date": date}
    raise InputError(f"{where}: apt left no InRelease or Release file for {suite}")


def _stanzas(path: Path) -> dict[tuple[str, str, str], dict]:
    """The Packages index (uncompressed, as apt keeps it, or .gz/.xz) by (name, version, arch)."""
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    out = {}
    # Only the fields a lock takes are kept: a full index is ~60,000 stanzas.
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t", "") and ":" in line:
                k, _, v = line.partition(":")
                if k in ("Package", "Version", "Architecture", "Filename", "Size", "SHA256", "Priority"):
                    fields[k] = v.strip()
        if "Package" in fields:
            out[(fields["Package"], fields.get("Version", ""), fields.get("Architecture", ""))] = fields
    return out


def deb_control(deb: Path, where: str) -> bytes:
    """The `control` file of a binary package (an ar archive holding control.tar.{gz,xz,zst})."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise InputError(f"{where}: {deb.name} is not a Debian binary package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise InputError(f"{where}: {deb.name} has no control.tar member")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            try:
                size = int(header[48:58].decode("ascii").strip())
            except ValueError:
                raise InputError(f"{where}: {deb.name} has a malformed ar header") from None
            if name.startswith("control.tar"):
                if size > _MAX_CONTROL:
                    raise InputError(f"{where}: {deb.name}'s control archive is over 4 MiB")
                return _control_from_tar(f.read(size), name, deb, where)
            f.seek(size + (size & 1), os.SEEK_CUR)


def _control_from_tar(data: bytes, name: str, deb: Path, where: str) -> bytes:
    if name.endswith(".zst"):
        import zstandard
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        mode = "r:"
    else:
        mode = {"control.tar.gz": "r:gz", "control.tar.xz": "r:xz", "control.tar": "r:"}.get(name)
        if mode is None:
            raise InputError(f"{where}: {deb.name}: unknown control member {name}")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
            for member in tar:
                if member.isfile() and member.name in ("./control", "control") and member.size <= _MAX_CONTROL:
                    return tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as e:
        raise InputError(f"{where}: {deb.name}: unreadable control archive ({e})") from None
    raise InputError(f"{where}: {deb.name} has no control file")


# -- from a lock to a local repository -------------------------------------------------------------

def assemble_repository(debian: DebianInputs, arch: str, fetch, out: Path, where: str) -> Path:
    """A local apt repository at `out` with exactly the locked .debs. `fetch(package, dest)` puts a
    package's bytes at dest (from a directory, a published inputs artifact or the mirror); each is
    checked against the lock before it counts. Returns `out`."""
    stanzas: dict[str, list[bytes]] = {c: [] for c in debian.components}
    for p in sorted(debian.packages, key=lambda p: p.filename):
        dest = out / check_pool_path(p.filename, where)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        fetch(p, partial)
        size, digest = partial.stat().st_size, sha256_file(partial)
        if size != p.size or digest != p.sha256:
            partial.unlink()
            raise DigestMismatch(f"{where}: {p.deb_name} does not match the lock "
                                 f"(sha256:{digest[:12]}…, {size} bytes; the lock says sha256:{p.sha256[:12]}…, "
                                 f"{p.size} bytes)")
        os.replace(partial, dest)
        component = p.filename.split("/")[1] if p.filename.startswith("pool/") and p.filename.count("/") > 1 else ""
        component = component if component in stanzas else debian.components[0]
        stanzas[component].append(_stanza(deb_control(dest, where), p))
    files = []
    for component, entries in stanzas.items():
        rel = f"{component}/binary-{arch}/Packages"
        index = out / "dists" / debian.suite / rel
        index.parent.mkdir(parents=True, exist_ok=True)
        data = b"\n".join(entries)
        index.write_bytes(data)
        files.append((rel, data))
    release = [f"Suite: {debian.suite}", f"Codename: {debian.suite}", f"Architectures: {arch}",
               f"Components: {' '.join(debian.components)}", "SHA256:"]
    release += [f" {hashlib.sha256(d).hexdigest()} {len(d)} {rel}" for rel, d in files]
    (out / "dists" / debian.suite / "Release").write_text("\n".join(release) + "\n")
    return out


def _stanza(control: bytes, p: DebPackage) -> bytes:
    """The index stanza apt reads: the .deb's control, its place and hash, the archive's priority."""
    lines = [line for line in control.decode("utf-8", "replace").rstrip("\n").split("\n")
             if not (p.priority and line.startswith("Priority:"))]
    if p.priority:
        lines.insert(1, f"Priority: {p.priority}")
    lines += [f"Filename: {p.filename}", f"Size: {p.size}", f"SHA256: {p.sha256}"]
    return ("\n".join(lines) + "\n").encode()


def copy_from(directory: Path):
    """A `fetch` that takes .debs from a directory: at their pool paths, or anywhere in it by hash."""
    by_hash: dict[str, Path] = {}

    def fetch(p: DebPackage, dest: Path) -> None:
        candidate = directory / p.filename
        if not candidate.is_file():
            if not by_hash:
                by_hash.update(debs_by_sha256(directory))
            candidate = by_hash.get(p.sha256) or directory / p.deb_name
        if not candidate.is_file():
            raise InputError(f"{directory}: has no {p.deb_name} (locked as {p.filename})")
        shutil.copyfile(candidate, dest)
    return fetch
