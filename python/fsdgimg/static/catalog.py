"""What a static tree holds, read back from its files: for the human page (index.html) and tools."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe

from fsdgimg import mediatypes as mt
from fsdgimg.digest import Digest
from fsdgimg.errors import InputError
from fsdgimg.jsonio import load_json
from fsdgimg.manifest import ImageIndex, parse_manifest
from fsdgimg.static.layout import Tree

MAX_CONFIG = 8 << 20


@dataclass
class PlatformEntry:
    platform: str
    digest: str
    size: int
    created: str | None
    blobs: dict[str, int] = field(default_factory=dict)  # digest -> size: manifest, config, layers


@dataclass
class TagEntry:
    tag: str
    digest: str
    media_type: str
    size: int = 0
    created: str | None = None
    platforms: list[PlatformEntry] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)


def _read(path: Path, limit: int = MAX_CONFIG) -> bytes:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit} bytes")
    return data


def _image_entry(tree: Tree, name: str, digest: Digest, media_type: str, platform_hint=None) -> PlatformEntry:
    path = tree.manifest_path(name, digest, media_type)
    m = parse_manifest(_read(path), str(path), media_type)
    size = len(m.to_bytes()) + m.config.size + sum(d.size for d in m.layers)
    created, platform = None, None
    try:
        cfg = load_json(_read(tree.blob_path(name, m.config.digest)), "config")
        if isinstance(cfg, dict):
            created = cfg.get("created") if isinstance(cfg.get("created"), str) else None
            if cfg.get("os"):
                platform = "/".join(str(p) for p in (cfg.get("os"), cfg.get("architecture"), cfg.get("variant")) if p)
    except (OSError, InputError):
        pass
    created = real_date(m.annotations.get("org.opencontainers.image.created") or created)
    blobs = {str(digest): len(m.to_bytes()), str(m.config.digest): m.config.size,
             **{str(d.digest): d.size for d in m.layers}}
    return PlatformEntry(str(platform_hint or platform or "unknown"), str(digest), size, created, blobs)


def real_date(created: str | None) -> str | None:
    """A creation time worth showing: reproducible builds often record the epoch (1970-01-01) or
    1980-01-01 (zip's, and some tools'), which is no creation time at all."""
    if not created or not isinstance(created, str):
        return None
    year = created[:4]
    return created if year.isdigit() and int(year) > 1980 else None


def describe(tree: Tree, names: list[str] | None = None) -> dict[str, list[TagEntry]]:
    out: dict[str, list[TagEntry]] = {}
    for name in (tree.repositories() if names is None else names):
        entries = []
        for tag, (digest, media_type) in tree.tags(name).items():
            entry = TagEntry(tag, str(digest), media_type)
            try:
                if media_type in mt.INDEXES:
                    path = tree.manifest_path(name, digest, media_type)
                    index = parse_manifest(_read(path), str(path), media_type)
                    assert isinstance(index, ImageIndex)
                    for d in index.manifests:
                        if d.media_type in mt.IMAGE_MANIFESTS:
                            entry.platforms.append(_image_entry(tree, name, d.digest, d.media_type, d.platform))
                    entry.size = len(index.to_bytes()) + sum(p.size for p in entry.platforms)
                    entry.blobs[str(digest)] = len(index.to_bytes())
                else:
                    p = _image_entry(tree, name, digest, media_type)
                    entry.platforms.append(p)
                    entry.size = p.size
                entry.created = max((p.created for p in entry.platforms if p.created), default=None)
                for p in entry.platforms:
                    entry.blobs.update(p.blobs)
            except (OSError, InputError):
                pass  # a tag whose files are being replaced right now: listed without details
            entries.append(entry)
        out[name] = entries
    return out


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


_env = jinja2.Environment(loader=jinja2.PackageLoader("fsdgimg", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined)
_env.filters["human_size"] = human_size


PAGE_VERSION = "2"  # change when the templates change: stored sections of older pages are then redone


def stored_bytes(tree: Tree) -> int:
    """What the tree stores: every blob and manifest once, however many tags share it."""
    total = 0
    try:
        with os.scandir(tree.store) as entries:
            for e in entries:
                if not e.name.startswith("."):
                    try:
                        total += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
    except OSError:
        pass
    return total


def page_files(tree: Tree, repositories: list[str], changed: list[str] | None,
               public_host: str | None = None, total: int | None = None) -> dict[Path, bytes]:
    """index.html and the per-repository sections it is assembled from (_web/pages/NAME.html): only the
    sections of `changed` repositories (all when None) are rendered again, and the total stored is kept
    is given by the caller (kept in _web/pages/stored, recounted on a full refresh), so a publish costs the same whatever the number
    of tags elsewhere."""
    host = public_host or ""
    key = f"<!-- fsdgimg page {PAGE_VERSION} host={host} -->\n".encode()
    out: dict[Path, bytes] = {}
    sections = []
    for name in repositories:
        path = tree.web / "pages" / f"{name}.html"
        data = None
        if changed is not None and name not in changed:
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is not None and not data.startswith(key):
                data = None
        if data is None:
            data = key + _env.get_template("repository.html.j2").render(
                name=name, tags=describe(tree, [name])[name], host=host,
                short=lambda d: d.split(":", 1)[-1][:12]).encode()
            out[path] = data
        sections.append(data[len(key):])
    marker = "<!-- fsdgimg sections -->"
    page = _env.get_template("index.html.j2").render(
        sections=[markupsafe.Markup(marker)], count=len(repositories), host=host, total=stored_bytes(tree) if total is None else total)
    head, _, tail = page.encode().partition(marker.encode())
    out[tree.root / "index.html"] = head + b"".join(sections) + tail
    return out
