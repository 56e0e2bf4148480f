"""`fsdgimg build`: build a catalog entry, import it through the image core, check it, write it out.

    builder ──► archive/rootfs ──► image core (scratch store) ──► [rebuild + compare + report]
            ──► annotations (provenance, verdict, both digests) ──► OCI layout ──► [publish]

Nothing is written at the destination until every step before it has succeeded: builds happen in
a scratch directory beside it, and the layout is assembled under a temporary name and renamed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.blobstore import BlobStore
from fsdgimg.builders import builder_for
from fsdgimg.builders.base import BuildResult, Context
from fsdgimg.builders.guix_builders import GuixBuilder
from fsdgimg.catalog import Entry
from fsdgimg.check import compare as cmp
from fsdgimg.check import diffoscope as diffoscope_runner
from fsdgimg.check.report import NOT_REPRODUCIBLE, CheckReport, save
from fsdgimg.compression import Compression
from fsdgimg.convert import standard_annotations
from fsdgimg.descriptor import Platform
from fsdgimg.errors import InputError, UsageError
from fsdgimg.guix import Guix
from fsdgimg.image import Image
from fsdgimg.jsonio import dump_json
from fsdgimg.mutate import annotate
from fsdgimg.progress import Progress
from fsdgimg.source import scratch_store

A = "org.fsdgimg."
VERDICT = A + "check.verdict"
FIRST = A + "check.first"
SECOND = A + "check.second"
ROUNDS = A + "check.rounds"
METHOD = A + "check.method"
EXTRA_DIR = "fsdgimg"          # provenance and reports, inside the OCI layout directory


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

    def to_json(self) -> dict:
        return {"image": self.name, "layout": f"oci:{self.layout}:{self.tag}", "digest": self.digest,
                "builds": self.digests, "verdict": self.verdict,
                "report": {k: str(v) for k, v in self.report.items()}, "published": self.published,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def _interactive(opts: BuildOptions) -> bool:
    return sys.stderr.isatty() if opts.progress is None else opts.progress


def _say(opts: BuildOptions, text: str) -> None:
    if _interactive(opts):
        print(f"fsdgimg build: {text}", file=sys.stderr, flush=True)


def import_result(result: BuildResult, entry: Entry, store: BlobStore, opts: BuildOptions,
                  label: str) -> Image:
    """The builder's output as an image of the core, in `store` (one pass: hash and compress)."""
    size = result.path.stat().st_size if result.path.is_file() else None
    with Progress(f"{entry.name}: importing {label}", size, enabled=_interactive(opts)) as bar:
        if result.kind == "docker-archive":
            from fsdgimg.sources.docker_archive import load_docker_archive
            if not result.path.exists():
                raise InputError(f"{entry.name}: build output {result.path} is not visible on this machine "
                                 "(set FSDGIMG_GUIX_STORE_PREFIX when guix-daemon runs in a chroot)")
            return load_docker_archive(result.path, store, opts.compression, progress=bar)
        from fsdgimg.sources.rootfs import load_rootfs
        return load_rootfs(result.path, store, opts.compression,
                           platform=Platform("linux", entry.architecture), epoch=opts.epoch or 0,
                           cmd=entry.get("cmd"), progress=bar)


def _discard(result: BuildResult) -> None:
    """Free the disk a rootfs build took once it is imported (Guix outputs belong to the store)."""
    if result.kind == "rootfs":
        if result.path.is_dir():
            shutil.rmtree(result.path, ignore_errors=True)
        else:
            result.path.unlink(missing_ok=True)


def run_build(entry: Entry, opts: BuildOptions, builder=None) -> BuildOutcome:
    """Build `entry` (with the catalog's builder for it, unless one is given) and write it out."""
    if opts.rounds < 2:
        raise UsageError("--rounds must be at least 2 (the first build and one rebuild)")
    builder = builder or builder_for(entry)
    echo = _interactive(opts)
    out = opts.out.resolve()
    if out.exists() and not (out / "oci-layout").is_file() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an OCI image layout")
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{entry.name}-build-", dir=out.parent))
    ctx = Context(workdir, opts.epoch, Guix(echo=echo), opts.tools, echo)
    timings: dict[str, float] = {}
    if opts.check and opts.epoch is None and not isinstance(builder, GuixBuilder):
        print(f"fsdgimg build: note: SOURCE_DATE_EPOCH is not set; {entry.name}'s files will carry "
              "the time of each build", file=sys.stderr)
    try:
        with ExitStack() as stack:
            t = time.monotonic()
            _say(opts, f"{entry.name}: building ({builder.name})")
            first = builder.build(entry, ctx, 1)
            timings["build"] = time.monotonic() - t
            t = time.monotonic()
            image = import_result(first, entry, stack.enter_context(scratch_store(out.parent)), opts, "build 1")
            timings["import"] = time.monotonic() - t
            if not isinstance(builder, GuixBuilder):
                _discard(first)
            digests = [str(image.digest)]
            report = None
            if opts.check:
                report = _check(entry, builder, ctx, first, image, digests, opts, stack, timings)
            annotations = _annotations(entry, image, first, opts, report, digests)
            final = annotate(image, annotations)
            outcome = _write(entry, final, first, report, out, opts, digests, timings)
            if opts.publish:
                if report is not None and report.verdict == NOT_REPRODUCIBLE:
                    _say(opts, f"{entry.name}: not published: the builds differ")
                else:
                    outcome.published = _publish(final, entry, opts.publish)
            return outcome
    finally:
        if opts.keep:
            print(f"fsdgimg build: kept the scratch directory {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _check(entry: Entry, builder, ctx: Context, first: BuildResult, image: Image, digests: list[str],
           opts: BuildOptions, stack: ExitStack, timings: dict) -> CheckReport:
    report = CheckReport(entry.name, entry.distribution, entry.pin, entry.architecture,
                         builder.check_method(), opts.epoch, digests)
    timings["rebuild"] = timings["check-import"] = timings["compare"] = timings["explain"] = 0.0
    for n in range(2, opts.rounds + 1):
        t = time.monotonic()
        _say(opts, f"{entry.name}: rebuilding (round {n} of {opts.rounds})")
        if isinstance(builder, GuixBuilder):
            again = builder.check(entry, ctx, first)
        else:
            again = builder.build(entry, ctx, n)
        timings["rebuild"] += time.monotonic() - t
        if again is None:
            # `guix build --check` rebuilt the derivation and found it bit-identical to the store item.
            digests.append(digests[0])
            report.comparisons.append((n, cmp.compare(image, image)))
            continue
        t = time.monotonic()
        other = import_result(again, entry, stack.enter_context(scratch_store(opts.out.resolve().parent)),
                              opts, f"build {n}")
        timings["check-import"] += time.monotonic() - t
        if not isinstance(builder, GuixBuilder):
            _discard(again)
        t = time.monotonic()
        comparison = cmp.compare(image, other)
        timings["compare"] += time.monotonic() - t
        digests.append(str(other.digest))
        if not comparison.identical:
            t = time.monotonic()
            _say(opts, f"{entry.name}: builds differ; comparing their layers file by file")
            cmp.explain(comparison, image, other)
            if opts.diffoscope and not report.diffoscope:
                reports = ctx.workdir / "diffoscope"
                reports.mkdir(exist_ok=True)
                _say(opts, f"{entry.name}: running diffoscope")
                report.diffoscope = diffoscope_runner.run_on_layers(
                    image, other, [l.index for l in comparison.differing_layers], reports,
                    ctx.workdir, opts.diffoscope_timeout)
            timings["explain"] += time.monotonic() - t
        report.comparisons.append((n, comparison))
    report.timings = dict(timings)
    return report


def _annotations(entry: Entry, image: Image, first: BuildResult, opts: BuildOptions,
                 report: CheckReport | None, digests: list[str]) -> dict[str, str]:
    out = standard_annotations(image, opts.epoch)
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


def _write(entry: Entry, final: Image, first: BuildResult, report: CheckReport | None, out: Path,
           opts: BuildOptions, digests: list[str], timings: dict) -> BuildOutcome:
    from fsdgimg.sinks.oci_layout import write_oci_layout
    stored = write_oci_layout(out, final, entry.tag, trusted=True)
    extra = out / EXTRA_DIR
    provenance = extra / "provenance"
    provenance.mkdir(parents=True, exist_ok=True)
    for name, data in first.files.items():
        (provenance / name).write_bytes(data)
    record = {"image": entry.to_json(), "digest": str(stored.digest), "builds": digests,
              "annotations": dict(sorted(stored.manifest.annotations.items())),
              "derivation": first.derivation, "store_path": first.store_path,
              "source_date_epoch": opts.epoch}
    (provenance / "build.json").write_bytes(dump_json(record) + b"\n")
    outcome = BuildOutcome(entry.name, out, entry.tag, str(stored.digest), digests,
                           report.verdict if report else None, timings=timings)
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


def _publish(image: Image, entry: Entry, dest: str) -> str:
    """--publish: the same entry point as `fsdgimg publish` (registry, static tree, OCI layout, archive)."""
    from fsdgimg.publish import publish_artifact
    image.name, image.tag = entry.name, entry.tag   # what a static tree or an archive names it
    return str(publish_artifact(image, dest, tag=entry.tag))
