"""fsdgimg list [--json] [--packages]"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fsdgimg.commands.options import add_catalog, add_json

if TYPE_CHECKING:
    from fsdgimg import catalog

GUILE_PROGRAM = Path(__file__).resolve().parent.parent / "guile" / "images.scm"


def register(sub) -> None:
    p = sub.add_parser("list", help="show the image catalog",
                       description="List the images of the catalog: builder, distribution, pin, architectures. "
                                   "With --packages, ask Guix (guix repl) what each Guix image contains.")
    add_catalog(p)
    p.add_argument("--packages", action="store_true",
                   help="for Guix images, list packages and licenses (runs guix repl)")
    add_json(p)
    p.set_defaults(func=run)


def guix_details(entries: list[catalog.Entry]) -> dict[str, dict]:
    """Packages and licenses of the Guix images, from the channel's Scheme (one `guix repl` run)."""
    from fsdgimg.guix import Guix
    guix_entries = [e for e in entries if e.is_guix]
    if not guix_entries:
        return {}
    args = []
    for e in guix_entries:
        kind, key = ("system", "file") if e.builder == "guix-system" else ("manifest", "manifest")
        args += [kind, e.name, str(e.path(key))]
    channel = guix_entries[0].base / "channel"
    guix = Guix(load_path=[channel] if channel.is_dir() else [])
    answer = guix.repl_json(GUILE_PROGRAM, args, "guix repl (image contents)")
    return {i["name"]: i for i in answer.get("images", []) if isinstance(i, dict) and "name" in i}


def run(args) -> int:
    from fsdgimg import catalog
    cat = catalog.load(args.catalog)
    entries = list(cat.entries.values())
    details = guix_details(entries) if args.packages else {}
    if args.json:
        from fsdgimg.commands.options import emit_json
        items = []
        for e in entries:
            item = e.to_json()
            if e.name in details:
                d = details[e.name]
                item["packages"] = d.get("packages", [])
                if "error" in d:
                    item["error"] = d["error"]
            items.append(item)
        emit_json({"catalog": str(cat.path), "images": items})
        return 0
    rows = [("NAME", "BUILDER", "DISTRIBUTION", "PIN", "ARCHITECTURES", "TAG")]
    rows += [(e.name, e.builder, e.distribution, e.pin, ",".join(a.name for a in e.architectures), e.tag)
             for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for name, d in details.items():
        print()
        if "error" in d:
            print(f"{name}: cannot evaluate {d.get('file')}: {d['error'].strip()}")
            continue
        print(f"{name}:")
        for p in d.get("packages", []):
            print(f"  {p['name']} {p['version']}  ({', '.join(p.get('licenses', []))})")
    return 0
