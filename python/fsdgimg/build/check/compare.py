"""Comparing two builds of one image: manifest, config and every layer's diff ID, then the details.

The first level is nearly free: both images were hashed when they were imported, so comparing
them is comparing digests. Only when they differ are the differing layers read again, to say
which paths differ and how (tardiff), and which configuration keys changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fsdgimg.build.check import tardiff
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.image import Image

_SKIP_CONFIG = {("rootfs", "diff_ids")}   # layers are reported one by one instead


@dataclass
class LayerComparison:
    index: int
    first: Digest | None            # diff ID in the first build (None: no such layer)
    second: Digest | None
    first_blob: Digest | None = None
    second_blob: Digest | None = None
    files: list[tardiff.Difference] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.first == self.second

    @property
    def same_blob(self) -> bool:
        return self.first_blob == self.second_blob


@dataclass
class Comparison:
    first: Digest                   # manifest digests
    second: Digest
    first_config: Digest
    second_config: Digest
    layers: list[LayerComparison]
    config_changes: list[tuple[str, str, str]] = field(default_factory=list)
    detailed: bool = False

    @property
    def identical(self) -> bool:
        return self.first == self.second

    @property
    def differing_layers(self) -> list[LayerComparison]:
        return [l for l in self.layers if not l.same]

    @property
    def files(self) -> list[tuple[int, tardiff.Difference]]:
        return [(l.index, d) for l in self.layers for d in l.files]


def compare(first: Image, second: Image) -> Comparison:
    """The digest-level comparison: no blob is read."""
    a_ids, b_ids = first.diff_ids, second.diff_ids
    layers = []
    for i in range(max(len(a_ids), len(b_ids))):
        la = first.layers[i] if i < len(first.layers) else None
        lb = second.layers[i] if i < len(second.layers) else None
        layers.append(LayerComparison(i, a_ids[i] if i < len(a_ids) else None,
                                      b_ids[i] if i < len(b_ids) else None,
                                      la.digest if la else None, lb.digest if lb else None))
    changes = [] if first.config_bytes == second.config_bytes else \
        _json_changes(first.config, second.config)
    return Comparison(first.digest, second.digest, first.manifest.config.digest,
                      second.manifest.config.digest, layers, changes)


def explain(comparison: Comparison, first: Image, second: Image, progress=None) -> Comparison:
    """Fill in, for every layer whose diff ID differs, the paths that differ and how."""
    for layer in comparison.differing_layers:
        if layer.first is None or layer.second is None:
            continue   # a layer only one build has: reported as such
        da, db = first.layers[layer.index], second.layers[layer.index]
        # Three passes at most: index the first layer; index the second, keeping the small files
        # that differ; then fetch those files' first versions, only if there are any.
        ia, _ = tardiff.index_layer(_plain(first, da, layer.index), f"first build, layer {layer.index}")
        ib, cb = tardiff.index_layer(_plain(second, db, layer.index), f"second build, layer {layer.index}",
                                     reference=ia)
        layer.files = tardiff.diff_indexes(ia, ib)
        wanted = tardiff.small_text_candidates(layer.files, ia, ib) & cb.keys()
        if wanted:
            ca = tardiff.read_members(_plain(first, da, layer.index), wanted, "first build")
            for d in layer.files:
                if d.path in ca and d.path in cb:
                    d.text_diff = tardiff.text_diff(d.path, ca[d.path], cb[d.path])
        if progress is not None:
            progress()
    comparison.detailed = True
    return comparison


def _plain(image: Image, desc: Descriptor, i: int):
    return image.layer(i).open_uncompressed()


def _json_changes(a, b, path: tuple = ()) -> list[tuple[str, str, str]]:
    """The keys of two JSON documents whose values differ, as (dotted path, first, second)."""
    if path in _SKIP_CONFIG:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(a.keys() | b.keys()):
            if k not in a:
                out.append((_dotted(path + (k,)), "absent", _short(b[k])))
            elif k not in b:
                out.append((_dotted(path + (k,)), _short(a[k]), "absent"))
            else:
                out += _json_changes(a[k], b[k], path + (k,))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _json_changes(x, y, path + (i,))
        return out
    return [] if a == b else [(_dotted(path), _short(a), _short(b))]


def _dotted(path: tuple) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(document)"


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "…"
