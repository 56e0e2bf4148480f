"""The audit report as text (CI logs), HTML (a browser, beside the image) and JSON (tools)."""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import escape

from fsdgimg.audit.audit import AuditReport
from fsdgimg.audit.licenses import FREE, NONFREE, UNKNOWN

MAX_TEXT_UNKNOWN = 200


def render_text(r: AuditReport) -> str:
    c = r.counts
    lines = [f"FSDG license audit of {r.image}" + (f" ({r.digest})" if r.digest else ""),
             f"distribution: {r.distribution}",
             "license data: " + ", ".join(f"{k} {v}" for k, v in sorted(r.data.items())),
             f"packages: {len(r.findings)}: {c['free']} free, {c['nonfree']} nonfree, {c['unknown']} unknown"
             + (f" ({100 * r.unknown_rate:.1f} % unknown)" if r.findings else ""),
             f"verdict: {r.verdict.upper()}" + (" (strict: unknown licenses fail)" if r.strict else "")]
    if r.sbom_problem:
        lines.append(f"SBOM: {r.sbom_problem}")
    if r.of(NONFREE):
        lines.append("")
        lines.append("nonfree:")
        for f in r.of(NONFREE):
            lines.append(f"  {f.name} {f.version or ''} [{f.rule}]: {'; '.join(f.reasons)}")
    unknown = r.of(UNKNOWN)
    if unknown:
        lines.append("")
        lines.append("unknown:")
        for f in unknown[:MAX_TEXT_UNKNOWN]:
            by = f" [license by {f.detector}]" if f.detector else ""
            lines.append(f"  {f.name} {f.version or ''}{by}: {'; '.join(_why_unknown(f.reasons))}")
        if len(unknown) > MAX_TEXT_UNKNOWN:
            lines.append(f"  … {len(unknown) - MAX_TEXT_UNKNOWN} more in report.json")
    return "\n".join(lines) + "\n"


def _why_unknown(reasons: list[str]) -> list[str]:
    """An unknown package's reasons without the free licenses it also has: what is left to know."""
    return [r for r in reasons if ": free (" not in r] or reasons


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{image}: FSDG audit {verdict}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}.free{{color:#1a7f37}}.nonfree{{color:#cf222e}}
.unknown{{color:#9a6700}}table{{border-collapse:collapse}}th,td{{border:1px solid #d0d7de;padding:.25em .6em;
text-align:left;vertical-align:top}}th{{background:#f6f8fa}}code{{font-size:.9em}}</style></head><body>
<h1>{image}: <span class="{verdict_class}">{verdict}</span></h1>
<p>distribution {distribution}{digest};
{free} free, {nonfree} nonfree, {unknown} unknown{strict}. License data: {data}.</p>
{sbom_problem}<table><tr><th>package</th><th>version</th><th>component</th><th>license</th><th>verdict</th><th>decided by</th><th>why</th></tr>
"""
_ROW = """<tr><td>{}</td><td>{}</td><td>{}</td>
<td><code>{}</code></td><td class="{}">{}</td>
<td>{}</td><td>{}</td></tr>
"""


def render_html(r: AuditReport) -> str:
    # Plain formatting with every value escaped (markupsafe, as jinja2's autoescape does): compiling
    # a template cost more than rendering the report.
    order = {NONFREE: 0, UNKNOWN: 1}
    findings = sorted(r.findings, key=lambda f: (order.get(f.verdict, 2), f.name))
    c = r.counts
    parts = [_HEAD.format(
        image=escape(r.image), verdict=escape(r.verdict),
        verdict_class="free" if r.verdict == "pass" else "nonfree", distribution=escape(r.distribution),
        digest=f", <code>{escape(r.digest)}</code>" if r.digest else "",
        free=c[FREE], nonfree=c[NONFREE], unknown=c[UNKNOWN], strict="\n(strict)" if r.strict else "",
        sbom_problem=f'<p class="nonfree">SBOM: {escape(r.sbom_problem)}</p>\n' if r.sbom_problem else "",
        data=",\n".join(f"{escape(k)} {escape(v)}" for k, v in sorted(r.data.items(), key=lambda kv: kv[0].lower())))]
    parts.extend(_ROW.format(escape(f.name), escape(f.version or ""), escape(f.component or ""),
                             escape(f.license or ""), escape(f.verdict), escape(f.verdict),
                             escape(f.rule + (f" ({f.detector})" if f.detector else "")),
                             "; ".join(map(escape, f.reasons))) for f in findings)
    parts.append("</table></body></html>")
    return "".join(parts)


def render_json(r: AuditReport) -> bytes:
    # Compact: with `indent` Python's json leaves its C encoder for the pure-Python one (4x slower
    # on a distribution's report, which tools read, not people).
    return json.dumps(r.to_json(), sort_keys=True, separators=(",", ":")).encode() + b"\n"


def save(r: AuditReport, directory: Path) -> dict[str, Path]:
    from fsdgimg.transports.static.files import write_bytes
    out = {"text": directory / "report.txt", "html": directory / "report.html", "json": directory / "report.json"}
    write_bytes(out["text"], render_text(r).encode())
    write_bytes(out["html"], render_html(r).encode())
    write_bytes(out["json"], render_json(r))
    return out
