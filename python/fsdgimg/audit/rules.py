"""Per-distribution rules: what a distribution's own records say beyond the license field.

Debian family: only the archive's free components count. Debian's `contrib` (free software that
needs nonfree software), `non-free` and `non-free-firmware`, Ubuntu-derived `restricted` and
`multiverse` are outside the FSDG whatever their license field says. Every other component
(Debian's, Trisquel's and PureOS's `main`, Ubuntu's `universe`) leaves the verdict to the license.
"""

from __future__ import annotations

from fsdgimg.audit.licenses import NONFREE
from fsdgimg.sbom.model import Package

DEBIAN_FAMILY = {"debian", "trisquel", "pureos", "ubuntu"}
NONFREE_COMPONENTS = {"contrib", "non-free", "non-free-firmware", "restricted", "multiverse"}


def judge(distribution: str, package: Package) -> tuple[str, str, str] | None:
    """(verdict, reason, rule) when a rule decides, else None (the license decides)."""
    if distribution in DEBIAN_FAMILY or package.component:
        if package.component in NONFREE_COMPONENTS:
            return (NONFREE, f"from the archive's {package.component} component",
                    f"{distribution} archive component {package.component}")
    return None
