"""The architectures fsdgimg builds images for, and what each tool calls them: the one table.

The catalog names architectures as OCI does (`amd64`, `arm64`, `arm/v7`, …); each builder speaks its
own dialect — Debian's dpkg architecture for mmdebstrap and arch-test, Guix's system type for
`--system` and its GNU triplet for `--target`, pacman's `Architecture` — and every image's config
and index entry carry the OCI platform with its variant (`linux/arm64/v8`, `linux/arm/v7`), which
is what docker, podman and containerd match `--platform` against. The table itself is data,
`architectures.toml` beside this module, which the Cuirass jobs read too.
"""

from __future__ import annotations

from dataclasses import dataclass

from fsdgimg.errors import InputError
from fsdgimg.oci.descriptor import Platform


@dataclass(frozen=True)
class Arch:
    name: str                  # the catalog's OCI name: "arm64", "arm/v7"
    architecture: str          # OCI/Go GOARCH: "arm64", "arm"
    variant: str | None        # OCI variant: "v8", "v7", or None
    debian: str | None         # dpkg --print-architecture
    guix_system: str | None    # guix … --system=
    guix_target: str | None    # guix … --target= (cross-compilation)
    pacman: str | None         # pacman.conf Architecture (Parabola)
    uname: str                 # `uname -m` inside an image of it

    @property
    def platform(self) -> Platform:
        return Platform("linux", self.architecture, self.variant)

    def __str__(self) -> str:
        return self.name


def _load() -> tuple[Arch, ...]:
    # The table is data shared with the Cuirass jobs (channel/fsdgimg/ci.scm), which evaluate in
    # Guix without this package: architectures.toml beside this module is its one place.
    import tomllib
    from pathlib import Path
    table = tomllib.loads((Path(__file__).with_name("architectures.toml")).read_text(encoding="utf-8"))
    return tuple(Arch(name, t["architecture"], t.get("variant"), t.get("debian"), t.get("guix-system"),
                      t.get("guix-target"), t.get("pacman"), t["uname"])
                 for name, t in table["architectures"].items())


ARCHES: tuple[Arch, ...] = _load()
_BY_NAME = {a.name: a for a in ARCHES}
# Spellings that mean the same OCI platform: the variant containerd would add anyway.
_ALIASES = {"arm64/v8": "arm64", "linux/arm64/v8": "arm64", "linux/arm64": "arm64", "linux/arm/v7": "arm/v7",
            **{f"linux/{a.name}": a.name for a in ARCHES}}


def names() -> list[str]:
    return [a.name for a in ARCHES]


def lookup(text: str, where: str = "") -> Arch:
    """The architecture an OCI name (or OS/ARCH[/VARIANT]) means; one line naming it when unknown,
    with the OCI name when the text is another tool's name for it (armhf, aarch64, x86_64, …)."""
    name = _ALIASES.get(text, text)
    if name in _BY_NAME:
        return _BY_NAME[name]
    prefix = f"{where}: " if where else ""
    for a in ARCHES:
        if text in (a.debian, a.guix_system, a.guix_target, a.pacman, a.uname, a.architecture):
            raise InputError(f"{prefix}unknown architecture {text!r}: the OCI name is {a.name!r}")
    raise InputError(f"{prefix}unknown architecture {text!r} (OCI names: {', '.join(names())})")


def for_guix_system(system: str, where: str = "") -> Arch:
    for a in ARCHES:
        if a.guix_system == system:
            return a
    known = ", ".join(a.guix_system for a in ARCHES if a.guix_system)
    raise InputError(f"{where + ': ' if where else ''}unknown Guix system {system!r} (known: {known})")


def host() -> Arch | None:
    """The architecture this machine runs natively, if it is one of ours."""
    try:
        return lookup(str(Platform.host()))
    except InputError:
        return None


def unrunnable(arch: Arch) -> str | None:
    """Why this host cannot run `arch`'s binaries (natively or under qemu-user through binfmt_misc),
    as Debian's arch-test finds it; None when it can. Builders whose tools run the target's own
    binaries (mmdebstrap's maintainer scripts, pacman's hooks) ask this."""
    import shutil
    import subprocess
    native = host()
    if native is not None and native.name == arch.name:
        return None
    if arch.debian is None:
        return f"no Debian architecture name for {arch.name} to test it with"
    if shutil.which("arch-test") is None:
        return (f"cannot tell whether {arch.platform} binaries run here: arch-test is not installed "
                "(scripts/setup.sh installs it with qemu-user-static and binfmt-support)")
    proc = subprocess.run(["arch-test", arch.debian], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (f"this host cannot run {arch.platform} binaries (arch-test {arch.debian}: "
            f"{(proc.stdout.strip() or proc.stderr.strip() or 'not runnable')[:120]}); "
            "install qemu-user-static and binfmt-support, with binfmt_misc mounted")
