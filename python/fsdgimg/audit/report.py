"""The audit report as text (CI logs), HTML (a browser, beside the image) and JSON (tools)."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from fsdgimg.audit.audit import AuditReport
from fsdgimg.audit.licenses import NONFREE, UNKNOWN

MAX_TEXT_UNKNOWN = 200


def render_text(r: AuditReport) -> str:
    c = r.counts
    lines = [f"FSDG license audit of {r.image}" + (f" ({r.digest})" if r.digest else ""),
             f"distribution: {r.distribution}",
             "license data: " + ", ".join(f"{k} {v}" for k, v in sorted(r.data.items())),
             f"packages: {len(r.findings)}: {c['free']} free, {c['nonfree']} nonfree, {c['unknown']} unknown",
             f"verdict: {r.verdict.upper()}" + (" (strict: unknown licenses fail)" if r.strict else "")]
    if r.of(NONFREE):
        lines.append("")
        lines.append("nonfree:")
        for f in r.of(NONFREE):
            lines.append(f"  {f.name} {f.version or ''}: {'; '.join(f.reasons)}")
    unknown = r.of(UNKNOWN)
    if unknown:
        lines.append("")
        lines.append("unknown:")
        for f in unknown[:MAX_TEXT_UNKNOWN]:
            lines.append(f"  {f.name} {f.version or ''}: {'; '.join(f.reasons)}")
        if len(unknown) > MAX_TEXT_UNKNOWN:
            lines.append(f"  … {len(unknown) - MAX_TEXT_UNKNOWN} more in report.json")
    return "\n".join(lines) + "\n"


_TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ r.image }}: FSDG audit {{ r.verdict }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:80em}.free{color:#1a7f37}.nonfree{color:#cf222e}
.unknown{color:#9a6700}table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f6f8fa}code{font-size:.9em}</style></head><body>
<h1>{{ r.image }}: <span class="{{ 'free' if r.verdict == 'pass' else 'nonfree' }}">{{ r.verdict }}</span></h1>
<p>distribution {{ r.distribution }}{% if r.digest %}, <code>{{ r.digest }}</code>{% endif %};
{{ r.counts.free }} free, {{ r.counts.nonfree }} nonfree, {{ r.counts.unknown }} unknown{% if r.strict %}
(strict){% endif %}. License data: {% for k, v in r.data|dictsort %}{{ k }} {{ v }}{% if not loop.last %},
{% endif %}{% endfor %}.</p>
<table><tr><th>package</th><th>version</th><th>component</th><th>license</th><th>verdict</th><th>why</th></tr>
{% for f in findings %}<tr><td>{{ f.name }}</td><td>{{ f.version or "" }}</td><td>{{ f.component or "" }}</td>
<td><code>{{ f.license or "" }}</code></td><td class="{{ f.verdict }}">{{ f.verdict }}</td>
<td>{{ f.reasons|join("; ") }}</td></tr>
{% endfor %}</table></body></html>
""")


def render_html(r: AuditReport) -> str:
    order = {NONFREE: 0, UNKNOWN: 1}
    findings = sorted(r.findings, key=lambda f: (order.get(f.verdict, 2), f.name))
    return _TEMPLATE.render(r=r, findings=findings)


def render_json(r: AuditReport) -> bytes:
    return json.dumps(r.to_json(), indent=2, sort_keys=True).encode() + b"\n"


def save(r: AuditReport, directory: Path) -> dict[str, Path]:
    from fsdgimg.static.files import write_bytes
    out = {"text": directory / "report.txt", "html": directory / "report.html", "json": directory / "report.json"}
    write_bytes(out["text"], render_text(r).encode())
    write_bytes(out["html"], render_html(r).encode())
    write_bytes(out["json"], render_json(r))
    return out
