"""`build --with-sources`: the corresponding source of every locked binary package, published
beside the image as one OCI 1.1 artifact — config the list of source packages (name, version,
pool directory, files with their SHA256), one layer per file (.dsc, .orig.tar.*, .debian.tar.*)
titled by its name, so that `oras pull` (or any client) gets a directory `dpkg-source -x` unpacks.
The GPL asks for the source beside the binary; the distribution's mirrors then carry both.

Trust: the sources come from the same archive state the image was built from. The release file
fetched now must be byte-identical to the one the lock records (apt verified its signature during
the build), its SHA256 list pins the Sources index, the index pins every file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.build import lock as lockmod
from fsdgimg.build.debian_archive import deb_control, debs_by_sha256, sha256_file
from fsdgimg.errors import DigestMismatch, InputError
from fsdgimg.signature import artifacts

SOURCES_TYPE = "application/vnd.fsdgimg.sources.v1+json"
SOURCE_LIST_TYPE = "application/vnd.fsdgimg.source-list.v1+json"
GUIX_SOURCE_LIST_TYPE = "application/vnd.fsdgimg.guix-source-list.v1+json"
GUIX_PROGRAM = Path(__file__).resolve().parent.parent / "guile" / "sources.scm"
DSC_TYPE = "application/vnd.fsdgimg.debian.dsc"
SOURCE_FILE_TYPE = "application/vnd.fsdgimg.debian.source-file"
MAX_INDEX = 512 << 20
MAX_SOURCE_FILE = 2 << 30
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~_-]*\Z")


@dataclass
class SourcePackage:
    package: str
    version: str
    directory: str
    files: list[tuple[str, str, int]] = field(default_factory=list)   # (name, sha256, size)

    def to_json(self) -> dict:
        return {"package": self.package, "version": self.version, "directory": self.directory,
                "files": [{"name": n, "sha256": h, "size": s} for n, h, s in self.files]}


def wanted_sources(lock: lockmod.Lock, packages_dir: Path) -> dict[tuple[str, str], list[str]]:
    """(source, version) -> the binaries built from it, from each locked .deb's own control."""
    from fsdgimg.sbom.deb822 import paragraphs
    have = debs_by_sha256(packages_dir)
    out: dict[tuple[str, str], list[str]] = {}
    for p in lock.debian.packages:
        if p.sha256 not in have:
            raise InputError(f"{p.deb_name}: the build's copy is missing or differs from the lock")
        control = next(paragraphs(deb_control(have[p.sha256], p.deb_name).decode("utf-8", "replace")), {})
        source, version = control.get("Source", p.package), p.version
        if "(" in source:                   # "glibc (2.36-9+deb12u4)": a binNMU or another version
            source, _, rest = source.partition("(")
            version = rest.rstrip(") ").strip()
        elif "+b" in version:               # a binNMU's binary version: the source's is before +bN
            version = re.sub(r"\+b\d+\Z", "", version)
        out.setdefault((source.strip(), version), []).append(p.package)
    return dict(sorted(out.items()))


def resolve(lock: lockmod.Lock, wanted: dict, get) -> list[SourcePackage]:
    """The source packages of `wanted` in the locked archive state. `get(url, limit)` -> bytes."""
    d = lock.debian
    release_url = f"{d.mirror}/dists/{d.suite}/{d.release['file']}"
    release = get(release_url, 64 << 20)
    if hashlib.sha256(release).hexdigest() != d.release.get("sha256"):
        raise InputError(f"{release_url}: differs from the release file the image was built from (the archive "
                         "has moved on since the build); publish the sources right after the build")
    listed = _release_sha256(release.decode("utf-8", "replace"))
    index: dict[tuple[str, str], SourcePackage] = {}
    for component in d.components:
        for name, opener in ((f"{component}/source/Sources.xz", lzma.decompress),
                             (f"{component}/source/Sources.gz", gzip.decompress), (f"{component}/source/Sources", bytes)):
            if name in listed:
                sha, size = listed[name]
                data = get(f"{d.mirror}/dists/{d.suite}/{name}", size)
                if hashlib.sha256(data).hexdigest() != sha:
                    raise DigestMismatch(f"{d.mirror}/dists/{d.suite}/{name}: does not match the release file")
                index.update(_sources_index(opener(data).decode("utf-8", "replace")))
                break
        else:
            raise InputError(f"{release_url}: lists no Sources index for {component} (no deb-src on this archive)")
    out = []
    for (source, version), binaries in wanted.items():
        found = index.get((source, version))
        if found is None:
            raise InputError(f"{d.mirror}: no source package {source} {version} (of {', '.join(binaries[:3])})")
        out.append(found)
    return out


def _release_sha256(text: str) -> dict[str, tuple[str, int]]:
    out, inside = {}, False
    for line in text.splitlines():
        if line.startswith("SHA256:"):
            inside = True
            continue
        if inside and line.startswith(" "):
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                out[parts[2]] = (parts[0], int(parts[1]))
        elif inside:
            inside = False
    return out


def _sources_index(text: str) -> dict[tuple[str, str], SourcePackage]:
    from fsdgimg.sbom.deb822 import paragraphs
    out = {}
    for para in paragraphs(text):
        name, version, directory = para.get("Package"), para.get("Version"), para.get("Directory")
        if not (name and version and directory):
            continue
        files = []
        for line in para.get("Checksums-Sha256", "").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                files.append((parts[2], parts[0], int(parts[1])))
        out[(name, version)] = SourcePackage(name, version, directory, files)
    return out


def download(sources: list[SourcePackage], mirror: str, out: Path, get_to) -> None:
    """Every file of `sources` into `out`, each checked against the index; names and directories are
    refused unless they are plain (they become paths here and titles in the artifact)."""
    out.mkdir(parents=True, exist_ok=True)
    for s in sources:
        lockmod.check_pool_path(s.directory, f"{mirror}: {s.package}")
        for name, sha, size in s.files:
            if not _FILE_NAME.match(name) or size > MAX_SOURCE_FILE:
                raise InputError(f"{mirror}: {s.package}: file {name[:80]!r} is not a plain source file name")
            dest = out / name
            if dest.is_file() and dest.stat().st_size == size and sha256_file(dest) == sha:
                continue
            get_to(f"{mirror}/{s.directory}/{name}", size, dest)
            if sha256_file(dest) != sha:
                dest.unlink()
                raise DigestMismatch(f"{mirror}/{s.directory}/{name}: does not match the Sources index")


def sources_manifest(subject: dict, sources: list[SourcePackage]) -> tuple[bytes, bytes]:
    config = (json.dumps({"sources": [s.to_json() for s in sources]}, sort_keys=True, indent=1) + "\n").encode()
    layers, seen = [], set()
    for s in sources:
        for name, sha, size in s.files:
            if name in seen:
                continue
            seen.add(name)
            layers.append({"mediaType": DSC_TYPE if name.endswith(".dsc") else SOURCE_FILE_TYPE,
                           "digest": f"sha256:{sha}", "size": size, "annotations": {artifacts.TITLE: name}})
    manifest = artifacts.manifest_bytes(config, SOURCE_LIST_TYPE, layers, subject=subject, artifact_type=SOURCES_TYPE)
    return manifest, config


def publish_sources(target, lock: lockmod.Lock, packages_dir: Path, work: Path) -> dict:
    """Find, fetch and attach the sources of the image `target` names (built with `lock`)."""
    from fsdgimg.build import archive_http
    from fsdgimg.trust.attachments import attach_artifact, subject_of
    subject, _ = subject_of(target)
    sources = resolve(lock, wanted_sources(lock, packages_dir), archive_http.get)
    files = work / "sources"
    download(sources, lock.debian.mirror, files, archive_http.get_to)
    manifest, config = sources_manifest(subject, sources)
    names = [l["annotations"][artifacts.TITLE] for l in json.loads(manifest)["layers"]]
    done = attach_artifact(target, manifest, SOURCES_TYPE, "sources",
                           [config, *((files / n).read_bytes() for n in names)])
    return {"sources": done["digest"], "packages": len(sources), "files": len(names),
            "bytes": sum(s for src in sources for _, _, s in src.files), "via": done["via"]}


def publish_guix_sources(target, entry, guix) -> dict:
    """A Guix image's sources: the source derivation (`guix build -S`) of every package in it, as
    Guix computes them (guile/sources.scm), attached as the sources artifact's config; the source
    itself comes from `guix build DERIVATION` (substitutes, or the origin and its fallbacks)."""
    from fsdgimg.errors import FsdgimgError
    from fsdgimg.trust.attachments import attach_artifact, subject_of
    kind, key = ("system", "file") if entry.builder == "guix-system" else ("manifest", "manifest")
    answer = guix.repl_json(GUIX_PROGRAM, [kind, entry.name, str(entry.path(key))], "guix repl (sources)")
    [image] = [i for i in answer.get("images", []) if isinstance(i, dict)] or [{}]
    if "error" in image or not isinstance(image.get("packages"), list):
        first = str(image.get("error", "no answer")).strip().splitlines()[:1] or ["?"]
        raise FsdgimgError(f"{entry.name}: guix could not list the sources of {entry.path(key)}: {first[0]}")
    sources = [{k: p.get(k) for k in ("name", "version", "derivation", "output")}
               for p in image["packages"] if isinstance(p, dict)]
    config = (json.dumps({"guix": answer.get("guix"), "sources": sources}, sort_keys=True, indent=1) + "\n").encode()
    subject, _ = subject_of(target)
    manifest = artifacts.manifest_bytes(config, GUIX_SOURCE_LIST_TYPE, [], subject=subject, artifact_type=SOURCES_TYPE)
    done = attach_artifact(target, manifest, SOURCES_TYPE, "sources", [config])
    return {"sources": done["digest"], "packages": len(sources), "files": 0, "via": done["via"]}
