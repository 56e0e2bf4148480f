"""Every architecture of a catalog entry under one tag: one build per platform, then one OCI index.

The per-platform builds are the ordinary single-platform pipeline (build, import, check, annotate,
write) run on the entry restricted to one architecture; this module adds the loop around it and
the index over the results, assembled as `fsdgimg index` assembles one (fsdgimg.oci.assemble). An index
of builds depends only on its children (canonical platform order, annotations derived from theirs),
so `fsdgimg index` of per-architecture builds made on several hosts gives the very index a
single-host build writes.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from fsdgimg import platforms
from fsdgimg.build.builders import builder_for
from fsdgimg.catalog import Entry
from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.image import Image, Index

A = "org.fsdgimg."
PLATFORMS = A + "platforms"                 # the platforms of the index, in its order
MISSING = A + "platforms.missing"           # --skip-unavailable: platforms not built
BUILT_FROM = A + "built-from"               # per platform: what its image was built from
VERDICT = A + "check.verdict"
BUILDER = A + "builder"                     # every fsdgimg build says what built it
REPRODUCIBLE, NOT_REPRODUCIBLE = "reproducible", "not-reproducible"
# Annotations that are per build, never the index's even when every child has the same value.
_PER_CHILD = ("org.fsdgimg.check.first", "org.fsdgimg.check.second", "org.fsdgimg.check.digests")
PLATFORMS_DIR = "platforms"                 # per-platform provenance and reports, in the layout


def _order(image: Image) -> tuple:
    """Canonical platform order (the table's), whatever order the images were given or built in."""
    p = image.platform
    try:
        arch = platforms.lookup(f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else ""))
        return (0, platforms.names().index(arch.name), str(p))
    except InputError:
        return (1, 0, str(p))


def are_builds(images: list[Image]) -> bool:
    """Whether every image is an `fsdgimg build` result (it says what built it)."""
    return all(BUILDER in i.manifest.annotations for i in images)


def index_annotations(children: list[Image], missing: list[str] = ()) -> dict[str, str]:
    """What the index of fsdgimg builds says, from its children alone: the annotations they all share
    (title, created, distribution, pin, source…), its platforms, the whole-index check verdict
    (reproducible only when every platform is), and per platform what was built from what."""
    maps = [c.manifest.annotations for c in children]
    shared = {k: v for k, v in maps[0].items()
              if k not in _PER_CHILD and k != VERDICT and all(m.get(k) == v for m in maps[1:])}
    out = dict(shared)
    plats = [str(c.platform) for c in children]
    out[PLATFORMS] = " ".join(plats)
    verdicts = [m.get(VERDICT) for m in maps]
    if any(verdicts):
        out[VERDICT] = REPRODUCIBLE if all(v == REPRODUCIBLE for v in verdicts) else NOT_REPRODUCIBLE
    built = {}
    for plat, child, m in zip(plats, children, maps):
        own = {k[len(A):]: v for k, v in sorted(m.items()) if k.startswith(A) and k not in shared
               and k not in _PER_CHILD}
        built[plat] = {"manifest": str(child.digest), **own}
    out[BUILT_FROM] = json.dumps(built, sort_keys=True, separators=(",", ":"))
    if missing:
        out[MISSING] = " ".join(missing)
    return out


def index_of_builds(children: list[Image], *, name: str | None = None, tag: str | None = None,
                    missing: list[str] = ()) -> Index:
    """The index of per-platform builds: assembled (fsdgimg.oci.assemble, as `fsdgimg index` does) in
    canonical platform order, annotated from the children. The same children, built on one host or
    on several, give the same index."""
    from fsdgimg.oci.assemble import assemble
    children = sorted(children, key=_order)
    return assemble(children, annotations=index_annotations(children, list(missing)), name=name, tag=tag)


def _attach_and_sign(destination: str, per: dict, kept: dict, opts) -> dict:
    """Each platform's SBOM, audit and check reports attached to its own manifest in the published
    index; then the index and every child signed (with --sign-key, --gpg-key)."""
    from fsdgimg.trust.publishing import after_publish
    per_child = {per[plat].digest: kept[plat] for plat in per if plat in kept}
    if not per_child and opts.sign_key is None and opts.sign_gpg_key is None:
        return {}
    # The credentials and CA the index was published with (not those of the environment).
    registry = opts.write_options.registry if opts.write_options is not None else None
    out = after_publish(destination, per_child=per_child, sign_key=opts.sign_key, identity=opts.sign_identity,
                        gpg_key=opts.sign_gpg_key, registry=registry)
    # Keyed by platform for the reader, as the outcome's "platforms" are.
    by_digest = out.get("platforms", {})
    out["platforms"] = {plat: by_digest[per[plat].digest] for plat in per if per[plat].digest in by_digest}
    return out


# -- building every platform of an entry -------------------------------------------------------------

@dataclass
class PlatformsOutcome:
    name: str
    layout: Path
    tag: str
    digest: str                                   # the index's
    platforms: dict[str, dict] = field(default_factory=dict)    # platform -> its outcome (JSON)
    missing: dict[str, str] = field(default_factory=dict)       # platform -> why not built
    verdict: str | None = None
    published: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    attached: dict | None = None      # per-child reports attached, signatures (registries, static trees)

    def to_json(self) -> dict:
        out = {"image": self.name, "layout": f"oci:{self.layout}:{self.tag}", "digest": self.digest,
               "platforms": self.platforms, "missing": self.missing, "verdict": self.verdict,
               "published": self.published, "timings": {k: round(v, 3) for k, v in self.timings.items()}}
        if self.attached is not None:
            out["attached"] = self.attached
        return out


def select(entry: Entry, arch_option: str | None) -> list[Entry]:
    """The entry once per architecture to build: all it lists, or those --arch names (a,b)."""
    if not arch_option:
        return [replace(entry, architectures=(a,)) for a in entry.architectures]
    names = [n.strip() for n in arch_option.split(",") if n.strip()]
    if not names:
        raise UsageError("--arch needs at least one architecture")
    chosen = [entry.for_arch(n) for n in names]
    if len({e.arch for e in chosen}) != len(chosen):
        raise UsageError(f"--arch {arch_option}: an architecture is named twice")
    return chosen


def available(entries: list[Entry], skip_unavailable: bool) -> tuple[list[Entry], dict[str, str]]:
    """The entries this host can build and, with --skip-unavailable, why the others cannot be;
    without it, the first that cannot be built stops everything before any build starts."""
    from fsdgimg.build.builders.base import NotAvailable
    ok, missing = [], {}
    for e in entries:
        reason = builder_for(e).unavailable(e)
        if reason is None:
            ok.append(e)
        elif skip_unavailable:
            missing[str(e.platform)] = reason
        else:
            hint = " (--skip-unavailable builds the others)" if len(entries) > 1 else ""
            raise NotAvailable(f"{e.name}: not available on this host for {e.platform}: {reason}{hint}")
    if not ok:
        raise NotAvailable(f"{entries[0].name}: no platform can be built on this host "
                           f"({'; '.join(f'{p}: {r}' for p, r in missing.items())})")
    return ok, missing


def _say(opts, text: str) -> None:
    if (sys.stderr.isatty() if opts.progress is None else opts.progress):
        print(f"fsdgimg build: {text}", file=sys.stderr, flush=True)


def _keeping_attachments(kept: dict):
    """The pipeline's stages for one platform of an index, with the per-image "attach-sign" (which
    has nothing published to attach to) replaced by one that keeps that platform's reports in
    `kept` (plat -> (attachments, created)), for the child's manifest once the index is published."""
    from fsdgimg.build.pipeline import STAGES, Stage

    def keep(r) -> None:
        trust = getattr(r, "trust", None)
        if trust is not None:
            # The resource a verdict names: the platform's manifest, wherever the index is published.
            kept[str(r.platform)] = trust.reports(r, r.outcome.report.get("json"), r.outcome.digest,
                                                  r.opts.sign_key is not None or r.opts.sign_gpg_key is not None)
    return [s if s.name != "attach-sign" else Stage("keep-attachments", keep) for s in STAGES]


def build_platforms(entries: list[Entry], missing: dict[str, str], opts) -> PlatformsOutcome:
    """Build each platform with the single-platform pipeline into a scratch layout, then write one
    index over them to opts.out (tag: the entry's), then publish it when asked and reproducible,
    with each platform's reports attached to its manifest and, with a key, every manifest signed."""
    from fsdgimg.build.pipeline import run_build
    from fsdgimg.transports.layout import read_oci_layout
    from fsdgimg.transports.options import WriteOptions
    from fsdgimg.transports.write import write
    entry = entries[0]
    out = opts.out.resolve()
    if out.exists() and not (out / "oci-layout").is_file() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an OCI image layout")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}-platforms-", dir=out.parent))
    outcome = PlatformsOutcome(entry.name, out, entry.tag, "", missing=dict(missing))
    try:
        per, kept = {}, {}
        stages = _keeping_attachments(kept)
        for e in entries:
            plat = str(e.platform)
            _say(opts, f"{e.name}: {plat}")
            t = time.monotonic()
            one = run_build(e, replace(opts, out=scratch / plat.replace("/", "-"), publish=None), stages=stages)
            outcome.timings[f"build {plat}"] = time.monotonic() - t
            per[plat] = one
            outcome.platforms[plat] = one.to_json()
        t = time.monotonic()
        children = [read_oci_layout(one.layout, one.tag) for one in per.values()]
        index = index_of_builds(children, name=entry.name, tag=entry.tag, missing=sorted(missing))
        stored = write(index, f"oci:{out}:{entry.tag}")
        for plat, one in per.items():
            extra = one.layout / "fsdgimg"
            if extra.is_dir():
                dest = out / "fsdgimg" / PLATFORMS_DIR / plat.replace("/", "-")
                shutil.rmtree(dest, ignore_errors=True)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(extra), dest)
                outcome.platforms[plat]["report"] = {
                    k: str(dest / Path(v).relative_to(extra)) for k, v in outcome.platforms[plat]["report"].items()}
            outcome.platforms[plat]["layout"] = f"oci:{out}:{entry.tag}"
        outcome.timings["index"] = time.monotonic() - t
        outcome.digest = str(stored.digest)
        verdicts = [one.verdict for one in per.values()]
        if any(v is not None for v in verdicts):
            outcome.verdict = REPRODUCIBLE if all(v == REPRODUCIBLE for v in verdicts) else NOT_REPRODUCIBLE
        if opts.publish:
            if outcome.verdict == NOT_REPRODUCIBLE:
                _say(opts, f"{entry.name}: not published: the builds of a platform differ")
            else:
                t = time.monotonic()
                published = read_oci_layout(out, entry.tag)
                published.name, published.tag = entry.name, entry.tag
                wopts = opts.write_options or WriteOptions()
                written = write(published, opts.publish, replace(wopts, tag=wopts.tag or entry.tag))
                outcome.published = str(written)
                outcome.timings["publish"] = time.monotonic() - t
                t = time.monotonic()
                outcome.attached = _attach_and_sign(written.destination, per, kept, opts)
                if outcome.attached:
                    outcome.timings["attach-sign"] = time.monotonic() - t
        return outcome
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

