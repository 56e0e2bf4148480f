"""Debian-family images (Debian, Trisquel, PureOS): dpkg's status database, the machine-readable
copyright file of each package, and the archive component each package came from.

The component comes from apt's lists when the image kept them (they also give the .deb's pool path
and SHA256), else from the package's Section: Debian-family archives prefix the sections of every
component but main (`non-free/utils`, `contrib/net`; Ubuntu-based ones `universe/…`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fsdgimg.sbom import copyright, detect
from fsdgimg.sbom.deb822 import paragraphs
from fsdgimg.sbom.files import RootView
from fsdgimg.sbom.model import Package

STATUS = "var/lib/dpkg/status"
DOC = "usr/share/doc"
LISTS = "var/lib/apt/lists"
_LIST_NAME = re.compile(r"^(?P<site>.+?)_dists_(?P<suite>[^_]+)_(?P<component>[^_]+)_binary-(?P<arch>[^_]+)_Packages$")


# Every path wanted() or wanted_link() accepts starts with one of these.
PREFIXES = (STATUS, "etc/os-release", "usr/lib/os-release", DOC + "/", LISTS + "/")


def wanted(path: str) -> bool:
    if path == STATUS or path in ("etc/os-release", "usr/lib/os-release"):
        return True
    if path.startswith(DOC + "/") and path.endswith("/copyright") and path.count("/") == 4:
        return True
    return path.startswith(LISTS + "/") and path.endswith("_Packages")


def wanted_link(path: str) -> bool:
    return (path.startswith(DOC + "/") and path.count("/") == 3) or path in ("etc/os-release",)


def is_debian(view: RootView) -> bool:
    return view.get(STATUS) is not None


def os_release(view: RootView) -> dict[str, str]:
    data = view.get("etc/os-release") or view.get("usr/lib/os-release") or b""
    out = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"\'')
    return out


_DEP_NAME_END = re.compile(r"[\s(:\[]")


def _license_lines(text: str) -> list[str]:
    """The first line of each paragraph's License field, for paragraphs that also have Files or
    Format (a stand-alone License paragraph only gives a text): paragraphs(text, False) inlined.
    A copyright file is mostly license text on continuation lines, passed over at the cost of two
    comparisons each."""
    out: list[str] = []
    lic, files = None, False
    for line in text.splitlines():
        # Blank is what paragraphs() calls `not line.strip()`; isspace() decides it without copying
        # the line, mostly from its first two characters.
        if not line or line.isspace():       # a blank line ends the paragraph
            if lic is not None and files:
                out.append(lic)
            lic, files = None, False
            continue
        first = line[0]
        if first == " " or first == "\t" or first == "#":     # a continuation line, a comment
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        if name == "License":
            lic = value.strip()
        elif name == "Files" or name == "Format":
            files = True
    if lic is not None and files:
        out.append(lic)
    return out


def copyright_license(data: bytes | None) -> tuple[str | None, str | None]:
    """(SPDX expression, the License lines verbatim) of a DEP-5 copyright file as it declares it
    (no detector); (None, None) when the file is missing or not machine-readable."""
    c = copyright.read(data, _license_lines)
    if c is None or c.whole is not None:
        return None, None
    return c.declared, c.raw


def _apt_index(view: RootView) -> dict[tuple[str, str, str], dict]:
    """(package, version, arch) -> {component, download, sha256} from apt's Packages lists."""
    index = {}
    for path in view.glob_dir(LISTS):
        m = _LIST_NAME.match(path.rsplit("/", 1)[1])
        if not m:
            continue
        site = "http://" + m.group("site").replace("_", "/")
        for para in paragraphs(view.files[path].decode("utf-8", "replace")):
            key = (para.get("Package", ""), para.get("Version", ""), para.get("Architecture", ""))
            index[key] = {"component": m.group("component"), "sha256": para.get("SHA256"),
                          "download": f"{site}/{para['Filename']}" if para.get("Filename") else None}
    return index


def _purl(vendor: str, name: str, version: str, arch: str, source: str | None) -> str:
    q = [f"arch={arch}"] if arch else []
    if source and source != name:
        q.append(f"upstream={quote(source, safe='')}")
    return f"pkg:deb/{vendor}/{quote(name, safe='')}@{quote(version, safe='')}" + ("?" + "&".join(q) if q else "")


def _dep_names(field: str | None) -> list[str]:
    names = []
    for alt in (field or "").split(","):
        first = alt.split("|")[0].strip()
        name = _DEP_NAME_END.split(first, maxsplit=1)[0]
        if name:
            names.append(name)
    return names


def packages(view: RootView) -> tuple[str, str, list[Package], int]:
    """(distribution id, its name, the installed packages, how many the status file lists as
    installed: a paragraph this reader cannot use still counts there, so that the audit sees
    an SBOM short of its database)."""
    release = os_release(view)
    vendor = release.get("ID", "debian").lower() or "debian"
    distro_name = release.get("NAME") or vendor
    apt = _apt_index(view)
    status = view.get(STATUS) or b""
    out: list[tuple[Package, bytes | None]] = []
    read: dict[bytes | None, copyright.Copyright | None] = {}
    listed = 0
    for para in paragraphs(status.decode("utf-8", "replace")):
        state = para.get("Status", "").split()
        name, version = para.get("Package"), para.get("Version")
        if name and not (len(state) >= 3 and state[2] in ("not-installed", "config-files")):
            listed += 1
        if not name or not version or len(state) < 3 or state[2] in ("not-installed", "config-files"):
            continue
        arch = para.get("Architecture", "")
        source = para.get("Source", name).split(" ")[0] or name
        section = para.get("Section", "")
        from_apt = apt.get((name, version, arch), {})
        component = from_apt.get("component") or (section.split("/", 1)[0] if "/" in section else "main")
        copyright_file = view.get(f"{DOC}/{name}/copyright")
        if copyright_file not in read:
            # Packages of one source often ship the same file (or a symlinked doc directory).
            read[copyright_file] = copyright.read(copyright_file, _license_lines)
        pkg = Package(
            name=name, version=version,
            supplier=f"Organization: {distro_name}", home_page=para.get("Homepage"),
            source_name=source, component=component, download=from_apt.get("download"),
            purl=_purl(vendor, name, version, arch, source),
            depends=_dep_names(para.get("Pre-Depends")) + _dep_names(para.get("Depends")))
        if from_apt.get("sha256"):
            pkg.checksums["SHA256"] = from_apt["sha256"]
        out.append((pkg, copyright_file))
    # One detector run for every text DEP-5 does not name, across all the packages.
    answers = detect.detect([t for c in read.values() for t in copyright.needs(c)])
    resolved = {key: copyright.resolve(c, answers) for key, c in read.items()}
    for pkg, key in out:
        lic = resolved[key]
        pkg.license, pkg.license_declared, pkg.license_source = lic.expression, lic.declared, lic.raw
        pkg.license_detector, pkg.license_notes = lic.detector, list(lic.notes)
    packages = sorted((p for p, _ in out), key=lambda p: (p.name, p.version or ""))
    return vendor, distro_name, packages, listed
