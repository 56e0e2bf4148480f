"""The bill of materials model, independent of SPDX's spelling of it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Package:
    name: str
    version: str | None
    # The license as an SPDX expression; None when nothing machine-readable says it.
    license: str | None = None
    # What the distribution's own records said, verbatim (a DEP-5 License field, pacman's %LICENSE%).
    license_source: str | None = None
    # The expression the distribution's records declare, where `license` (what the audit judges)
    # differs from it: a detector named what the records do not (SPDX's licenseDeclared).
    license_declared: str | None = None
    license_detector: str | None = None  # who found `license`: "DEP-5 copyright file", "licensecheck v3.3.5 …"
    license_notes: list[str] = field(default_factory=list)   # what the detector said, per name
    supplier: str | None = None          # "Organization: Debian" (the distribution that ships it)
    originator: str | None = None        # upstream, where known
    download: str | None = None          # where the package's source comes from
    home_page: str | None = None
    source_name: str | None = None       # Debian's Source:, Guix's origin file name
    component: str | None = None         # Debian archive component (main, contrib, non-free, ...)
    checksums: dict[str, str] = field(default_factory=dict)   # "SHA256" -> hex, of what `download` names
    purl: str | None = None
    depends: list[str] = field(default_factory=list)         # names of packages of this SBOM
    kind: str = "package"                # Guix: "package" (in the image) or "input" (build input)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version or ''}"


@dataclass
class Bom:
    name: str                            # what the document describes (image name or reference)
    distribution: str                    # debian, trisquel, pureos, parabola, guix, unknown
    packages: list[Package]
    image_digest: str | None = None      # manifest digest of the image described
    created: str | None = None           # ISO 8601, from the image (reproducible), else now
    tool: str = "fsdgimg"
    namespace: str | None = None
    notes: list[str] = field(default_factory=list)   # what could not be read, said once each
    # How many packages the image's package database lists as installed (None: no database was
    # read, e.g. an SPDX document from elsewhere): fewer packages than that is a truncated SBOM.
    database_packages: int | None = None
