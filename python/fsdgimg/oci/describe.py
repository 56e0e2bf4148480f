"""What `fsdgimg inspect` reports about an image or index, as plain data."""

from __future__ import annotations

from fsdgimg.errors import printable
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.image import Artifact, Index


def describe(x: Artifact) -> dict:
    if isinstance(x, Index):
        return {
            "name": x.name, "tag": x.tag, "digest": str(x.digest), "mediaType": x.manifest.media_type,
            "annotations": x.manifest.annotations,
            "manifests": [{**describe(child), "platform": str(d.platform) if d.platform else None}
                          for d, child in zip(x.index.manifests, x.children)],
        }
    config = x.config
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = []
    for desc, diff_id in zip(x.layers, x.diff_ids):
        layers.append({"digest": str(desc.digest), "diffID": str(diff_id), "size": desc.size,
                       "mediaType": desc.media_type,
                       "compression": mt.layer_compression(desc.media_type),
                       "annotations": desc.annotations})
    return {
        "name": x.name, "tag": x.tag, "digest": str(x.digest), "mediaType": x.manifest.media_type,
        "platform": str(x.platform), "created": x.created,
        "config": {"digest": str(x.manifest.config.digest), "size": x.manifest.config.size},
        "env": inner.get("Env") or [], "entrypoint": inner.get("Entrypoint"), "cmd": inner.get("Cmd"),
        "size": sum(d.size for d in x.layers) + x.manifest.config.size,
        "layers": layers, "annotations": x.manifest.annotations,
    }


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def render(info: dict, indent: str = "") -> str:
    lines = []
    # Names, annotations and dates come from the image: escaped so they cannot act on a terminal.
    label = printable(f"{info.get('name') or '(unnamed)'}:{info.get('tag') or '(untagged)'}")
    lines.append(f"{indent}{label}")
    lines.append(f"{indent}  digest:    {info['digest']}")
    lines.append(f"{indent}  type:      {info['mediaType']}")
    if "manifests" in info:
        for child in info["manifests"]:
            lines.append(f"{indent}  - platform {printable(str(child.get('platform') or '?'))}")
            lines.append(render(child, indent + "    "))
    else:
        lines.append(f"{indent}  platform:  {printable(str(info['platform']))}")
        lines.append(f"{indent}  created:   {printable(str(info['created'] or 'unknown'))}")
        lines.append(f"{indent}  size:      {_size(info['size'])} in {len(info['layers'])} layer(s)")
        for i, layer in enumerate(info["layers"]):
            lines.append(f"{indent}  layer {i}:   {layer['digest']} {_size(layer['size'])} "
                         f"({layer['compression']}) diff ID {layer['diffID'][:19]}…")
    for key, value in sorted(info.get("annotations", {}).items()):
        lines.append(f"{indent}  {printable(key)} = {printable(str(value))}")
    return "\n".join(lines)
