"""Debian control-file syntax (deb822): paragraphs of fields, as dpkg's status database and DEP-5
copyright files write them. The one reader of both (sbom.debian, sbom.copyright)."""

from __future__ import annotations


def paragraphs(text: str, continuations: bool = True):
    """deb822 paragraphs as dicts (field names as written; continuation lines joined with newlines).

    Without `continuations` a field keeps only its first line: a copyright file's License fields
    carry whole license texts, and the first line is all that names the license."""
    fields: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield {k: "\n".join(v) for k, v in fields.items()}
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None and continuations:
                fields[last].append(line.strip())
            continue
        if line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        last = name.strip()
        fields[last] = [value.strip()]
    if fields:
        yield {k: "\n".join(v) for k, v in fields.items()}
