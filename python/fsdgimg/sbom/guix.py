"""Guix images: the bill of materials from the channel, through guile/sbom.scm and the Guix driver.

No build is needed: the packages, their inputs, licenses and origins are what the operating system
or manifest declares. A url-fetch origin's hash is the source file's SHA256 (an SPDX checksum); a
git checkout's is a hash of its normalized archive, kept in the download location's commit only.
"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.catalog import Entry
from fsdgimg.errors import FsdgimgError, UsageError
from fsdgimg.guix import Guix
from fsdgimg.sbom.model import Bom, Package

PROGRAM = Path(__file__).resolve().parent.parent / "guile" / "sbom.scm"


def _package(p: dict) -> Package:
    source = p.get("source") if isinstance(p.get("source"), dict) else {}
    pkg = Package(
        name=str(p.get("name")), version=str(p.get("version")) if p.get("version") else None,
        license=p.get("license") if p.get("license") not in (None, "", "NOASSERTION") else None,
        license_source=", ".join(p.get("licenses") or []) or None,
        supplier="Organization: GNU Guix", home_page=p.get("home-page") or None,
        download=source.get("uri") or None, source_name=source.get("file-name") or None,
        kind="input" if p.get("role") == "input" else "package",
        purl=f"pkg:guix/{p.get('name')}@{p.get('version')}", depends=list(p.get("depends") or []))
    if source.get("algorithm") == "sha256" and source.get("hash") and not source.get("recursive"):
        pkg.checksums["SHA256"] = source["hash"]
    return pkg


def describe(entries: list[Entry], guix: Guix | None = None) -> dict[str, Bom]:
    """One `guix repl` run for all `entries` (guix-system and guix-pack ones)."""
    args = []
    for e in entries:
        if not e.is_guix:
            raise UsageError(f"{e.name}: built by {e.builder}; its SBOM is read from the built image")
        kind, key = ("system", "file") if e.builder == "guix-system" else ("manifest", "manifest")
        args += [kind, e.name, str(e.path(key))]
    if guix is None:
        channel = entries[0].base / "channel"
        guix = Guix(load_path=[channel] if channel.is_dir() else [])
    answer = guix.repl_json(PROGRAM, args, "guix repl (bill of materials)")
    out = {}
    for image in answer.get("images", []) if isinstance(answer, dict) else []:
        if not isinstance(image, dict) or "name" not in image:
            continue
        if "error" in image:
            first = str(image["error"]).strip().splitlines()[0] if str(image["error"]).strip() else "?"
            raise FsdgimgError(f"{image['name']}: guix could not load {image.get('file')}: {first}")
        packages = [_package(p) for p in image.get("packages", []) if isinstance(p, dict)]
        out[image["name"]] = Bom(name=image["name"], distribution="guix", packages=packages,
                                 notes=[f"from the channel with guix {answer.get('guix')}"])
    return out
