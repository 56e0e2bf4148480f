"""diffoscope, where it is installed: its report on each pair of differing layers, beside ours.

Our own tar-level comparison always runs; diffoscope digs deeper into file formats (ELF, gzip
inside tar, …) but can take minutes on a large layer, so it runs with a time limit and its
absence or failure never changes the verdict.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.oci.digest import CHUNK
from fsdgimg.oci.image import Image

DEFAULT_TIMEOUT = 300.0


@dataclass
class DiffoscopeRun:
    label: str
    status: str                 # "differences", "no differences", "failed: …", "timed out", "not installed"
    text: Path | None = None
    html: Path | None = None


def installed() -> str | None:
    return shutil.which("diffoscope")


def _write_plain_layer(image: Image, i: int, path: Path) -> None:
    with image.layer(i).open_uncompressed() as plain, open(path, "wb") as out:
        while chunk := plain.read(CHUNK):
            out.write(chunk)


def run_on_layers(first: Image, second: Image, layers: list[int], out_dir: Path, scratch: Path,
                  timeout: float = DEFAULT_TIMEOUT) -> list[DiffoscopeRun]:
    exe = installed()
    if exe is None:
        return [DiffoscopeRun("all layers", "not installed")]
    runs = []
    for i in layers:
        if i >= len(first.layers) or i >= len(second.layers):
            continue
        a, b = scratch / f"first-layer-{i}.tar", scratch / f"second-layer-{i}.tar"
        _write_plain_layer(first, i, a)
        _write_plain_layer(second, i, b)
        text, html = out_dir / f"diffoscope-layer-{i}.txt", out_dir / f"diffoscope-layer-{i}.html"
        runs.append(run(exe, a, b, text, html, f"layer {i}", timeout))
        a.unlink()
        b.unlink()
    return runs


def run(exe: str, a: Path, b: Path, text: Path, html: Path, label: str, timeout: float) -> DiffoscopeRun:
    argv = [exe, "--no-progress", f"--text={text}", f"--html={html}", str(a), str(b)]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return DiffoscopeRun(label, f"timed out after {timeout:.0f} s",
                             text if text.exists() else None, html if html.exists() else None)
    # diffoscope: 0 no differences, 1 differences, 2 error
    if proc.returncode == 1:
        return DiffoscopeRun(label, "differences", text, html)
    if proc.returncode == 0:
        return DiffoscopeRun(label, "no differences", text, html)
    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return DiffoscopeRun(label, f"failed: {err[-1][:200] if err else f'exit {proc.returncode}'}")
