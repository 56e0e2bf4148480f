"""An image's bill of materials, from whatever package database its root file system holds."""

from __future__ import annotations

import re

from fsdgimg.oci.image import Image
from fsdgimg.sbom import debian, pacman
from fsdgimg.sbom.files import LayerFiles, Wanted, read_root
from fsdgimg.sbom.model import Bom, Package

STORE = "gnu/store/"
_STORE_ITEM = re.compile(r"^gnu/store/[0-9a-df-np-sv-z]{32}-([^/]+)")
_NAME_VERSION = re.compile(r"^(.+?)-(\d[^-]*)$")


def _store_item(path: str) -> str | None:
    m = _STORE_ITEM.match(path)
    return m.group(1) if m else None


def _wanted_file(path: str) -> bool:
    return debian.wanted(path) or pacman.wanted(path)


# The files every distribution's SBOM reader needs, and the Guix store items an image holds.
WANTED = Wanted(file=_wanted_file, link=debian.wanted_link, note=_store_item,
                prefixes=debian.PREFIXES + pacman.PREFIXES + (STORE,))


def collector(what: str | None = None) -> LayerFiles:
    """What an import pass feeds each layer's members to (sources' `collect=`), so that the SBOM
    of the imported image reads no layer again."""
    return LayerFiles(WANTED)


def _store_package(item: str) -> Package:
    """`/gnu/store/HASH-NAME-VERSION` -> a package with that name and version (no license: the
    channel knows it, the image does not; `build` asks the channel instead)."""
    m = _NAME_VERSION.match(item)
    name, ver = (m.group(1), m.group(2)) if m else (item, None)
    return Package(name=name, version=ver, supplier="Organization: GNU Guix",
                   purl=f"pkg:guix/{name}@{ver}" if ver else f"pkg:guix/{name}")


def bom_for_image(image: Image, name: str) -> Bom:
    view = read_root(image, WANTED)
    store_items = view.notes
    bom = Bom(name=name, distribution="unknown", packages=[], image_digest=str(image.digest),
              created=image.created)
    if debian.is_debian(view):
        bom.distribution, _, bom.packages, bom.database_packages = debian.packages(view)
    elif pacman.is_pacman(view):
        bom.packages, bom.database_packages = pacman.packages(view)
        bom.distribution = debian.os_release(view).get("ID", "parabola") or "parabola"
    elif store_items:
        bom.distribution = "guix"
        items = sorted(i for i in store_items if not i.endswith((".drv", "-profile", ".scm")))
        bom.packages = [_store_package(i) for i in items]
        bom.notes.append("packages read from store item names; licenses come from the channel "
                         "(fsdgimg build records them)")
    else:
        bom.notes.append("no package database found (dpkg, pacman or a Guix store)")
    return bom


def bom_of_published(where: str, digest, registry=None) -> Bom:
    """The bill of materials recomputed from a published image's own layers (`verify
    --from-layers`): the image at `where` (docker://… or static:…), pinned to `digest`."""
    from fsdgimg.transports.read import open_source
    head, _, last = where.split("@", 1)[0].rpartition("/")
    ref = f"{head}/{last.split(':', 1)[0]}@{digest}"   # the image, pinned: never what a tag says now
    with open_source(ref, registry=registry) as image:
        return bom_for_image(image, str(digest))
