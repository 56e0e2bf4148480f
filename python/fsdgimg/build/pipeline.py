"""`fsdgimg build`: a catalog entry carried through explicit stages, above the builders.

    build ──► import ──► check ──► annotate ──► write ──► publish

Each stage is a function of one `BuildRun` (what the stages before it made) with a name; STAGES is
the default order. Other stages slot in by name — an SBOM or audit before "annotate", a signature
after "write" — with `insert(stages, before=..., after=...)`, and a per-platform loop calls
`run_build` once per platform with its own options. The builder is only asked to `build` and to
`rebuild` (its own way: `guix build --check`, or a second build); nothing here knows its class.

Nothing is written at the destination until every stage before "write" has succeeded: builds happen
in a scratch directory beside it, and the layout is assembled under a temporary name and renamed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fsdgimg.build import EXTRA_DIR
from fsdgimg.build.builders import builder_for
from fsdgimg.build.builders.base import Builder, BuildResult, Context
from fsdgimg.build.check import compare as cmp
from fsdgimg.build.check import diffoscope as diffoscope_runner
from fsdgimg.build.check.report import NOT_REPRODUCIBLE, CheckReport, save
from fsdgimg.catalog import Entry
from fsdgimg.errors import InputError, UsageError
from fsdgimg.guix import Guix
from fsdgimg.oci.blobstore import BlobStore, scratch_store
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.image import Image
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.oci.mutate import annotate
from fsdgimg.progress import Progress
from fsdgimg.transports.convert import standard_annotations

A = "org.fsdgimg."
VERDICT = A + "check.verdict"
FIRST = A + "check.first"
SECOND = A + "check.second"
ROUNDS = A + "check.rounds"
METHOD = A + "check.method"


@dataclass
class BuildOptions:
    out: Path
    check: bool = False
    rounds: int = 2
    publish: str | None = None
    epoch: int | None = None
    tools: str = "auto"
    compression: Compression = field(default_factory=Compression)
    diffoscope: bool = True
    diffoscope_timeout: float = diffoscope_runner.DEFAULT_TIMEOUT
    keep: bool = False             # keep the scratch directory (builds, rootfs) for inspection
    progress: bool | None = None   # None: on a terminal
    platform: Platform | None = None   # None: the catalog entry's architecture
    annotations: dict[str, str] = field(default_factory=dict)   # added last (--annotation)
    write_options: object = None   # fsdgimg.transports.write.WriteOptions for --publish (None: defaults)
    strict: bool = False           # the FSDG audit fails on unknown licenses too
    sign_key: Path | None = None   # sign what --publish wrote (cosign's format)
    sign_identity: str | None = None   # the HOST/NAME a signature names (static trees)
    sign_gpg_key: str | None = None    # also sign with this OpenPGP key (static trees: their lookaside)
    publish_inputs: bool = False   # attach the locked packages beside what --publish wrote (build/inputs.py)
    with_sources: bool = False     # attach their source packages too (build/sources.py)
    lock: object = None            # a rebuild: build from this fsdgimg.build.lock.Lock (build/rebuild.py)
    fetch: object = None           # with `lock`: where the locked packages come from


@dataclass
class BuildOutcome:
    name: str
    layout: Path
    tag: str
    digest: str                    # of the annotated manifest written to the layout
    digests: list[str]             # of each round's image, before annotations
    verdict: str | None            # None without --check
    report: dict[str, Path] = field(default_factory=dict)
    published: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)   # what added stages report (sbom, signature, …)

    def to_json(self) -> dict:
        out = {"image": self.name, "layout": f"oci:{self.layout}:{self.tag}", "digest": self.digest,
               "builds": self.digests, "verdict": self.verdict,
               "report": {k: str(v) for k, v in self.report.items()}, "published": self.published,
               "timings": {k: round(v, 3) for k, v in self.timings.items()}}
        out.update(self.extra)
        return out


@dataclass
class BuildRun:
    """Everything the stages share. Each stage reads what earlier ones set and sets its own part."""
    entry: Entry
    opts: BuildOptions
    builder: Builder
    ctx: Context
    out: Path
    stack: ExitStack
    first: BuildResult | None = None        # build
    lock: object = None                     # lock: fsdgimg.build.lock.Lock of the first build
    image: Image | None = None              # import: the first build in the image core
    digests: list[str] = field(default_factory=list)
    report: CheckReport | None = None       # check
    annotations: dict[str, str] = field(default_factory=dict)   # stages add; "annotate" applies
    files: dict[str, bytes] = field(default_factory=dict)       # extra files for EXTRA_DIR/provenance
    final: Image | None = None              # annotate
    outcome: BuildOutcome | None = None     # write
    timings: dict[str, float] = field(default_factory=dict)

    def say(self, text: str) -> None:
        if _interactive(self.opts):
            print(f"fsdgimg build: {text}", file=sys.stderr, flush=True)

    @property
    def platform(self) -> Platform:
        return self.opts.platform or self.entry.platform

    def scratch(self) -> BlobStore:
        """A blob store that lives as long as the run, beside the output (blobs are linked out)."""
        return self.stack.enter_context(scratch_store(self.out.parent))


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[BuildRun], None]


def _interactive(opts: BuildOptions) -> bool:
    return sys.stderr.isatty() if opts.progress is None else opts.progress


# -- the stages ------------------------------------------------------------------------------------

def stage_build(r: BuildRun) -> None:
    r.say(f"{r.entry.name}: building ({r.builder.name})")
    r.first = r.builder.build(r.entry, r.ctx, 1)


def stage_lock(r: BuildRun) -> None:
    """The lock of the first build's exact inputs (fsdgimg.build.lock): into the layout, the
    provenance and, with --publish-inputs, beside the published image."""
    from fsdgimg.build.lock import DebianInputs, Lock
    first = r.first
    inputs = first.inputs
    r.lock = Lock(r.entry.table() | {"name": r.entry.name}, str(r.platform), r.entry.builder, first.tool,
                  r.opts.epoch, debian=inputs if isinstance(inputs, DebianInputs) else None,
                  guix=inputs if isinstance(inputs, dict) else None)


def stage_import(r: BuildRun) -> None:
    from fsdgimg.sbom.generate import collector
    # The SBOM's files are collected in this pass, the one read of every layer ("sbom-audit" then
    # only parses them).
    r.image = import_result(r.first, r.entry, r.scratch(), r.opts, "build 1", r.platform, collector)
    r.builder.discard(r.first)
    r.digests = [str(r.image.digest)]


def stage_check(r: BuildRun) -> None:
    if not r.opts.check:
        return
    entry, opts, image = r.entry, r.opts, r.image
    report = CheckReport(entry.name, entry.distribution, entry.pin, entry.architecture,
                         r.builder.check_method(), opts.epoch, r.digests)
    for key in ("rebuild", "check-import", "compare", "explain"):
        r.timings[key] = 0.0
    for n in range(2, opts.rounds + 1):
        t = time.monotonic()
        r.say(f"{entry.name}: rebuilding (round {n} of {opts.rounds})")
        again = r.builder.rebuild(entry, r.ctx, r.first, n)
        r.timings["rebuild"] += time.monotonic() - t
        if again is None:
            # The builder's own check found the rebuild bit-identical (guix build --check).
            r.digests.append(r.digests[0])
            report.comparisons.append((n, cmp.compare(image, image)))
            continue
        t = time.monotonic()
        other = import_result(again, entry, r.scratch(), opts, f"build {n}", r.platform)
        r.timings["check-import"] += time.monotonic() - t
        r.builder.discard(again)
        t = time.monotonic()
        comparison = cmp.compare(image, other)
        r.timings["compare"] += time.monotonic() - t
        r.digests.append(str(other.digest))
        if not comparison.identical:
            t = time.monotonic()
            r.say(f"{entry.name}: builds differ; comparing their layers file by file")
            cmp.explain(comparison, image, other)
            if opts.diffoscope and not report.diffoscope:
                reports = r.ctx.workdir / "diffoscope"
                reports.mkdir(exist_ok=True)
                r.say(f"{entry.name}: running diffoscope")
                report.diffoscope = diffoscope_runner.run_on_layers(
                    image, other, [l.index for l in comparison.differing_layers], reports,
                    r.ctx.workdir, opts.diffoscope_timeout)
            r.timings["explain"] += time.monotonic() - t
        report.comparisons.append((n, comparison))
    report.timings = dict(r.timings)
    r.report = report


def stage_annotate(r: BuildRun) -> None:
    r.final = annotate(r.image, {**build_annotations(r), **r.annotations, **r.opts.annotations})


def stage_write(r: BuildRun) -> None:
    r.outcome = write_layout(r)


def stage_publish(r: BuildRun) -> None:
    if not r.opts.publish:
        return
    if r.report is not None and r.report.verdict == NOT_REPRODUCIBLE:
        r.say(f"{r.entry.name}: not published: the builds differ")
        return
    r.outcome.published = publish(r.final, r.entry, r.opts.publish, r.opts.write_options)


def stage_publish_inputs(r: BuildRun) -> None:
    """--publish-inputs, --with-sources: the locked packages, and their sources, beside the image."""
    if not ((r.opts.publish_inputs or r.opts.with_sources) and r.outcome.published):
        return
    from fsdgimg.trust.publishing import published_target
    if r.lock is not None and r.lock.guix is not None and not r.opts.publish_inputs:
        from fsdgimg.build.builders.guix_builders import guix_for
        from fsdgimg.build.sources import publish_guix_sources
        t = published_target(r.outcome.published.split()[0], registry=getattr(r.opts.write_options, "registry", None))
        r.say(f"{r.entry.name}: publishing the list of its packages' source derivations beside it")
        r.outcome.extra["sources"] = publish_guix_sources(t, r.entry, guix_for(r.entry, r.ctx))
        return
    if r.lock is None or r.lock.debian is None or r.first.inputs_dir is None:
        raise UsageError(f"{r.entry.name}: --publish-inputs/--with-sources: this build ({r.entry.builder}) "
                         "locks no package files")
    t = published_target(r.outcome.published.split()[0], registry=getattr(r.opts.write_options, "registry", None))
    if r.opts.publish_inputs:
        from fsdgimg.build.inputs import publish_inputs
        r.say(f"{r.entry.name}: publishing its {len(r.lock.debian.packages)} locked packages beside it")
        r.outcome.extra["inputs"] = publish_inputs(t, r.lock, r.first.inputs_dir)
    if r.opts.with_sources:
        from fsdgimg.build.sources import publish_sources
        r.say(f"{r.entry.name}: publishing the source packages of its binaries beside it")
        r.outcome.extra["sources"] = publish_sources(t, r.lock, r.first.inputs_dir, r.ctx.workdir)


def _trust(name: str):
    """A stage of fsdgimg.build.trust_stage (SBOM, FSDG audit, attachments, signature), imported when run."""
    def run(r: BuildRun) -> None:
        from fsdgimg.build import trust_stage as stage
        getattr(stage, name)(r)
    return run


STAGES: list[Stage] = [Stage("build", stage_build), Stage("lock", stage_lock), Stage("import", stage_import),
                       Stage("check", stage_check),
                       Stage("sbom-audit", _trust("stage_sbom_audit")),
                       Stage("annotate", stage_annotate), Stage("write", stage_write),
                       Stage("trust-reports", _trust("stage_trust_reports")),
                       Stage("publish", stage_publish), Stage("publish-inputs", stage_publish_inputs),
                       Stage("attach-sign", _trust("stage_attach_sign"))]


def insert(stages: list[Stage], stage: Stage, *, before: str | None = None, after: str | None = None) -> list[Stage]:
    """A copy of `stages` with `stage` before or after the one named."""
    names = [s.name for s in stages]
    anchor = before or after
    if anchor not in names:
        raise ValueError(f"no stage named {anchor!r} (stages: {', '.join(names)})")
    i = names.index(anchor) + (0 if before else 1)
    return stages[:i] + [stage] + stages[i:]


# -- running them ----------------------------------------------------------------------------------

def run_build(entry: Entry, opts: BuildOptions, builder: Builder | None = None,
              stages: list[Stage] | None = None) -> BuildOutcome:
    """Build `entry` (with the catalog's builder for it, unless one is given) through `stages`."""
    if opts.rounds < 2:
        raise UsageError("--rounds must be at least 2 (the first build and one rebuild)")
    builder = builder or builder_for(entry)
    echo = _interactive(opts)
    out = opts.out.resolve()
    if out.exists() and not (out / "oci-layout").is_file() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an OCI image layout")
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{entry.name}-build-", dir=out.parent))
    ctx = Context(workdir, opts.epoch, Guix(echo=echo), opts.tools, echo, lock=opts.lock, fetch=opts.fetch)
    if opts.check and opts.epoch is None and builder.needs_epoch:
        print(f"fsdgimg build: note: SOURCE_DATE_EPOCH is not set; {entry.name}'s files will carry "
              "the time of each build", file=sys.stderr)
    try:
        with ExitStack() as stack:
            r = BuildRun(entry, opts, builder, ctx, out, stack)
            for stage in stages or STAGES:
                t = time.monotonic()
                stage.run(r)
                if stage.name not in r.timings:
                    r.timings[stage.name] = time.monotonic() - t
            if r.outcome is None:
                raise AssertionError("the stages did not include 'write'")
            r.outcome.timings = r.timings
            return r.outcome
    finally:
        if opts.keep:
            print(f"fsdgimg build: kept the scratch directory {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def import_result(result: BuildResult, entry: Entry, store: BlobStore, opts: BuildOptions,
                  label: str, platform: Platform | None = None, collect=None) -> Image:
    """The builder's output as an image of the core, in `store` (one pass: hash and compress; and
    `collect`'s collector fed each layer's members, see fsdgimg.oci.tarwalk.TarWalker)."""
    size = result.path.stat().st_size if result.path.is_file() else None
    with Progress(f"{entry.name}: importing {label}", size, enabled=_interactive(opts)) as bar:
        if result.kind == "docker-archive":
            from fsdgimg.transports.archive import load_docker_archive
            if not result.path.exists():
                raise InputError(f"{entry.name}: build output {result.path} is not visible on this machine "
                                 "(set FSDGIMG_GUIX_STORE_PREFIX when guix-daemon runs in a chroot)")
            image = load_docker_archive(result.path, store, opts.compression, progress=bar, collect=collect)
            # Guix writes the architecture without its variant (arm64, arm): the entry's platform
            # spells it out (arm64/v8, arm/v7), as the rootfs builds' configs and the index do.
            want = platform or entry.platform
            got = image.platform
            if (got.os, got.architecture) == (want.os, want.architecture) and want.variant and not got.variant:
                from fsdgimg.oci.mutate import set_platform
                image = set_platform(image, want)
            return image
        from fsdgimg.transports.rootfs import load_rootfs
        return load_rootfs(result.path, store, opts.compression,
                           platform=platform or entry.platform, epoch=opts.epoch or 0,
                           cmd=entry.get("cmd"), progress=bar, collect=collect)


def build_annotations(r: BuildRun) -> dict[str, str]:
    entry, first, report, digests = r.entry, r.first, r.report, r.digests
    out = standard_annotations(r.image, r.opts.epoch)
    out["org.opencontainers.image.title"] = entry.name
    if entry.description:
        out["org.opencontainers.image.description"] = entry.description
    out[A + "distribution"] = entry.distribution
    out[A + "pin"] = entry.pin
    out[A + "builder"] = first.method or entry.builder
    out.update(first.annotations)
    if report is not None:
        out[VERDICT] = report.verdict
        out[FIRST] = digests[0]
        out[SECOND] = digests[1]
        out[ROUNDS] = str(len(digests))
        out[METHOD] = report.method
        if len(digests) > 2:
            out[A + "check.digests"] = ",".join(digests)
    return out


def write_layout(r: BuildRun) -> BuildOutcome:
    """The annotated image into the OCI layout --out, through the one writer; provenance and the
    check's reports beside it (in EXTRA_DIR, which no image references)."""
    from fsdgimg.transports.location import Location
    from fsdgimg.transports.options import WriteOptions
    from fsdgimg.transports.write import write
    entry, opts, report, out = r.entry, r.opts, r.report, r.out
    r.final.name, r.final.tag = entry.name, entry.tag
    written = write(r.final, Location("oci", out, entry.tag), WriteOptions(tag=entry.tag))
    extra = out / EXTRA_DIR
    provenance = extra / "provenance"
    provenance.mkdir(parents=True, exist_ok=True)
    for name, data in {**r.first.files, **r.files}.items():
        (provenance / name).write_bytes(data)
    record = {"image": entry.to_json(), "digest": written.digest, "builds": r.digests,
              "annotations": dict(sorted(r.final.manifest.annotations.items())),
              "derivation": r.first.derivation, "store_path": r.first.store_path,
              "source_date_epoch": opts.epoch}
    (provenance / "build.json").write_bytes(dump_json(record) + b"\n")
    if r.lock is not None:
        from fsdgimg.build import lock
        (extra / lock.FILE).write_bytes(r.lock.to_bytes())
    outcome = BuildOutcome(entry.name, out, entry.tag, written.digest, r.digests,
                           report.verdict if report else None)
    if report is not None:
        check_dir = extra / "check"
        if check_dir.exists():
            shutil.rmtree(check_dir)
        check_dir.mkdir(parents=True)
        for run in report.diffoscope:
            for p in (run.text, run.html):
                if p is not None and p.exists():
                    shutil.move(str(p), check_dir / p.name)
            run.text = check_dir / run.text.name if run.text else None
            run.html = check_dir / run.html.name if run.html else None
        outcome.report = save(report, check_dir)
    return outcome


def publish(image: Image, entry: Entry, dest: str, write_options=None) -> str:
    """--publish: the one writer, as `fsdgimg publish` uses it (registry, static tree, layout, archive)."""
    from fsdgimg.transports.options import WriteOptions
    from fsdgimg.transports.write import write
    image.name, image.tag = entry.name, entry.tag   # what a static tree or an archive names it
    options = write_options or WriteOptions()
    if options.tag is None:
        options.tag = entry.tag
    from fsdgimg.transports.registry.connect import sharing
    options.registry = sharing(options.registry, dest)  # the attach-sign stage uses the same client
    return str(write(image, dest, options))
