"""Parabola (and any pacman system): pacman's local database, var/lib/pacman/local/NAME-VER/desc."""

from __future__ import annotations

from urllib.parse import quote

from fsdgimg.sbom.files import RootView
from fsdgimg.sbom.licenses import pacman_expression
from fsdgimg.sbom.model import Package

LOCAL = "var/lib/pacman/local"


PREFIXES = (LOCAL + "/",)    # of every path wanted() accepts


def wanted(path: str) -> bool:
    return path.startswith(LOCAL + "/") and path.endswith("/desc") and path.count("/") == 5


def is_pacman(view: RootView) -> bool:
    return any(wanted(p) for p in view.files)


def parse_desc(text: str) -> dict[str, list[str]]:
    """%SECTION% headers, each followed by its lines up to a blank line."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("%") and line.endswith("%") and len(line) > 2:
            current = line.strip("%")
            out[current] = []
        elif not line:
            current = None
        elif current is not None:
            out[current].append(line)
    return out


def packages(view: RootView, distribution: str = "parabola") -> tuple[list[Package], int]:
    """(the installed packages, how many desc files the database has: one this reader cannot use
    still counts there, so that the audit sees an SBOM short of its database)."""
    from fsdgimg.sbom.debian import os_release
    release = os_release(view)
    vendor = (release.get("ID") or distribution).lower()
    distro_name = release.get("NAME") or vendor
    out = []
    descs = sorted(p for p in view.files if wanted(p))
    for path in descs:
        desc = parse_desc(view.files[path].decode("utf-8", "replace"))
        name = (desc.get("NAME") or [""])[0]
        version = (desc.get("VERSION") or [""])[0]
        if not name or not version:
            continue
        arch = (desc.get("ARCH") or [""])[0]
        licenses = desc.get("LICENSE") or []
        base = (desc.get("BASE") or [name])[0]
        out.append(Package(
            name=name, version=version, license=pacman_expression(licenses),
            license_source=" | ".join(licenses) or None, supplier=f"Organization: {distro_name}",
            home_page=(desc.get("URL") or [None])[0], source_name=base,
            purl=f"pkg:alpm/{vendor}/{quote(name, safe='')}@{quote(version, safe='')}"
                 + (f"?arch={arch}" if arch else ""),
            depends=[d.split("=")[0].split(">")[0].split("<")[0] for d in desc.get("DEPENDS", [])]))
    return out, len(descs)
