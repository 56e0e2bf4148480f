"""Builders: one per way of making an image (see manifests/catalog.toml)."""

from __future__ import annotations

from fsdgimg.build.builders.base import Builder
from fsdgimg.catalog import Entry


def builder_for(entry: Entry) -> Builder:
    if entry.builder == "guix-system":
        from fsdgimg.build.builders.guix_builders import GuixSystemBuilder
        return GuixSystemBuilder()
    if entry.builder == "guix-pack":
        from fsdgimg.build.builders.guix_builders import GuixPackBuilder
        return GuixPackBuilder()
    if entry.builder == "debootstrap":
        from fsdgimg.build.builders.debootstrap import DebootstrapBuilder
        return DebootstrapBuilder()
    if entry.builder == "pacstrap":
        from fsdgimg.build.builders.pacstrap import PacstrapBuilder
        return PacstrapBuilder()
    raise AssertionError(entry.builder)  # the catalog admits only the builders above
