"""The reproducibility report of `fsdgimg build --check`: text, HTML (jinja2) and JSON.

Text is what a release engineer reads in a CI log; HTML is the same content for a browser, with
diffoscope's reports linked; JSON is for tools. All three come from one CheckReport.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from fsdgimg.build.check.compare import Comparison
from fsdgimg.build.check.diffoscope import DiffoscopeRun

REPRODUCIBLE = "reproducible"
NOT_REPRODUCIBLE = "not reproducible"
MAX_TEXT_FILES = 500       # differing paths listed per layer in the text report
MAX_HTML_FILES = 2000      # … and in the HTML page (all of them are in report.json)


@dataclass
class CheckReport:
    image: str
    distribution: str
    pin: str
    architecture: str
    method: str
    epoch: int | None
    digests: list[str]                                   # manifest digest of each round
    comparisons: list[tuple[int, Comparison]] = field(default_factory=list)   # (round, vs round 1)
    diffoscope: list[DiffoscopeRun] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return REPRODUCIBLE if len(set(self.digests)) == 1 else NOT_REPRODUCIBLE

    @property
    def differing_paths(self) -> list[str]:
        return sorted({d.path for _, c in self.comparisons for _, d in c.files})

    def to_json(self) -> dict:
        return {
            "image": self.image, "distribution": self.distribution, "pin": self.pin,
            "architecture": self.architecture, "method": self.method,
            "source_date_epoch": self.epoch, "verdict": self.verdict, "digests": self.digests,
            "comparisons": [{
                "round": n, "first": str(c.first), "second": str(c.second),
                "identical": c.identical,
                "config": {"first": str(c.first_config), "second": str(c.second_config),
                           "changes": [{"key": k, "first": a, "second": b} for k, a, b in c.config_changes]},
                "layers": [{"index": l.index, "first": str(l.first) if l.first else None,
                            "second": str(l.second) if l.second else None, "same": l.same,
                            "files": [{"path": d.path, "status": d.status,
                                       "aspects": [{"aspect": a, "first": x, "second": y}
                                                   for a, x, y in d.aspects]} for d in l.files]}
                           for l in c.layers]}
                for n, c in self.comparisons],
            "diffoscope": [{"label": r.label, "status": r.status,
                            "text": r.text.name if r.text else None,
                            "html": r.html.name if r.html else None} for r in self.diffoscope],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def render_text(r: CheckReport) -> str:
    out = [f"fsdgimg reproducibility check: {r.image}",
           f"  distribution {r.distribution}, {r.pin}, {r.architecture}",
           f"  method: {r.method}",
           f"  SOURCE_DATE_EPOCH: {r.epoch if r.epoch is not None else 'not set'}",
           f"  verdict: {r.verdict.upper()}"]
    for i, d in enumerate(r.digests, 1):
        out.append(f"  build {i}: {d}")
    for n, c in r.comparisons:
        out.append("")
        out.append(f"build 1 vs build {n}: {'identical' if c.identical else 'DIFFERENT'}")
        if c.identical:
            continue
        out.append(f"  config: {'same' if c.first_config == c.second_config else 'differs'}"
                   f" ({c.first_config.short} / {c.second_config.short})")
        for key, a, b in c.config_changes:
            out.append(f"    {key}: {a} -> {b}")
        if c.first_config != c.second_config and not c.config_changes:
            out.append("    (only in rootfs.diff_ids: see the layers)")
        for l in c.layers:
            if l.same and l.same_blob:
                continue
            if l.same:
                out.append(f"  layer {l.index}: same diff ID, different compressed blob "
                           f"({l.first_blob.short if l.first_blob else '-'} / "
                           f"{l.second_blob.short if l.second_blob else '-'})")
                continue
            out.append(f"  layer {l.index}: diff ID {l.first.short if l.first else 'absent'} / "
                       f"{l.second.short if l.second else 'absent'}; "
                       f"{len(l.files)} {'path differs' if len(l.files) == 1 else 'paths differ'}")
            for d in l.files[:MAX_TEXT_FILES]:
                out.append(f"    {d.path}: {d.what}")
                for aspect, a, b in d.aspects:
                    if aspect != "presence" or d.status != "changed":
                        out.append(f"        {aspect}: {a} -> {b}")
                if d.text_diff:
                    out += ["        " + line for line in d.text_diff.splitlines()]
            if len(l.files) > MAX_TEXT_FILES:
                out.append(f"    … and {len(l.files) - MAX_TEXT_FILES} more (see report.json)")
    if r.diffoscope:
        out.append("")
        for run in r.diffoscope:
            where = f" ({run.text.name}, {run.html.name})" if run.text and run.html and run.text.exists() else ""
            out.append(f"diffoscope, {run.label}: {run.status}{where}")
    return "\n".join(out) + "\n"


_env = jinja2.Environment(loader=jinja2.PackageLoader("fsdgimg", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(r: CheckReport) -> str:
    return _env.get_template("check-report.html").render(report=r, REPRODUCIBLE=REPRODUCIBLE,
                                                          limit=MAX_HTML_FILES)


def save(r: CheckReport, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"text": directory / "report.txt", "html": directory / "report.html",
             "json": directory / "report.json"}
    paths["text"].write_text(render_text(r), encoding="utf-8")
    paths["html"].write_text(render_html(r), encoding="utf-8")
    paths["json"].write_text(json.dumps(r.to_json(), indent=2) + "\n", encoding="utf-8")
    return paths
