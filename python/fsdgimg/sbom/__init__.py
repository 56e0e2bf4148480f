"""Bills of materials: what packages an image holds, read from where each distribution records it.

    image layers ──► distribution database (dpkg status, pacman local db) ──► Bom ──► SPDX 2.3 JSON
    Guix channel ──► guile/sbom.scm through `guix repl` ─────────────────────┘

`Bom` is the one model; `spdx.to_spdx(bom)` writes it and `spdx.from_spdx(doc)` reads one back
(for the audit and for `verify`, which fetch SBOMs from where images are published).

May import: transports (to read an image's layers), catalog, guix, oci and the plumbing. Never audit,
trust, build, mirror or commands.
"""

from fsdgimg.sbom.model import Bom, Package

__all__ = ["Bom", "Package"]
