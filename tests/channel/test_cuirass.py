"""The Cuirass jobs, evaluated as Cuirass evaluates them: one call of (gnu ci)'s `cuirass-jobs` per
system of the specification, with `(systems . (SYSTEM))`. Each call returns exactly that system's
jobs — the channel's packages and the catalog's Guix images that ship for the system — and every
image job is the derivation `guix system image`/`guix pack --system=SYSTEM` computes.

The catalog used here is a copy of the real one whose Guix entries all ship for amd64 and arm64
(two of them also for riscv64, cross-compiled on x86_64-linux), plus an entry for arm64 only:
which images each system has comes from the catalog, which systems run from the specification.
So every Guix entry of the catalog yields derivations for aarch64-linux and x86_64-linux here."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest
from guixrun import CHROOT, REPO, derivations, guix, guix_chroot  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("guix_chroot")

SYSTEMS = ["x86_64-linux", "aarch64-linux"]
ARM64_ONLY = "hello-arm64-only"   # an extra entry: no job on x86_64-linux
CROSS = ("guix-hello", "guix-minimal")     # also riscv64, cross-compiled on x86_64-linux
CROSS_JOBS = [f"image.{name}.riscv64-linux-gnu.x86_64-linux" for name in CROSS]


def guix_entries() -> dict[str, dict]:
    catalog = tomllib.loads((REPO / "manifests/catalog.toml").read_text())
    return {name: entry for name, entry in catalog["images"].items()
            if entry.get("builder") in ("guix-system", "guix-pack")}


@lru_cache(maxsize=None)
def channel_packages() -> tuple[str, ...]:
    out = guix("repl", "-L", "channel", "--", "tests/guix/eval.scm",
               "(string-join (map (@ (guix packages) package-name) ((@ (fsdgimg ci) channel-packages))))").stdout
    names = tuple(out.split())
    assert {"distribution-registry", "fsdgimg"} <= set(names)
    return names


def toml_value(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value) if isinstance(value, int) else '"' + value + '"'


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the channel whose catalog lists its Guix entries for two architectures."""
    root = tmp_path_factory.mktemp("cuirass") / "checkout"
    for part in ("channel", "python", "manifests"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    tables = []
    for name, entry in guix_entries().items():
        entry = {k: v for k, v in entry.items() if k not in ("system", "systems", "architecture")}
        entry["architectures"] = ["amd64", "arm64"]
        if name in CROSS:
            entry["architectures"].append("riscv64")
            entry["systems"] = {"riscv64": "x86_64-linux"}
        tables.append(f"[images.{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items()))
    hello = {k: v for k, v in guix_entries()["guix-hello"].items() if k not in ("system", "systems", "architecture")}
    tables.append(f"[images.{ARM64_ONLY}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in
                                                       {**hello, "architectures": ["arm64"]}.items()))
    (root / "manifests/catalog.toml").write_text("\n".join(tables))
    return root


def jobs(checkout: Path, *args: str) -> list[tuple[str, str, str]]:
    out = guix("repl", "-L", str(checkout / "channel"), "--", str(REPO / "tests/guix/ci-jobs.scm"), *args,
               cwd=checkout).stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


@lru_cache(maxsize=None)
def derivation_system(drv: str) -> str:
    """The `system` field of a derivation file (ATerm: Derive(outputs,inputs,sources,"SYSTEM",…))."""
    text = (CHROOT / drv.lstrip("/")).read_text()
    return re.search(r'\],\[[^\]]*\],"([a-z0-9_]+-[a-z]+)",', text).group(1)


@pytest.fixture(scope="module")
def per_system(checkout):
    return jobs(checkout, *SYSTEMS)


def test_each_call_returns_exactly_its_systems_jobs(per_system):
    for system in SYSTEMS:
        names = sorted(name for label, name, _ in per_system if label == system)
        images = list(guix_entries()) + ([ARM64_ONLY] if system == "aarch64-linux" else [])
        cross = CROSS_JOBS if system == "x86_64-linux" else []
        assert names == sorted([f"{p}.{system}" for p in channel_packages()] + [f"image.{n}.{system}" for n in images] + cross)
    assert f"image.{ARM64_ONLY}.x86_64-linux" not in {name for _, name, _ in per_system}


def test_every_job_derivation_is_for_its_system(per_system):
    for label, name, drv in per_system:
        assert name.endswith("." + label)
        assert derivation_system(drv) == label, (name, drv)   # a cross build runs on the build system


def test_image_jobs_are_the_command_lines_derivations(checkout, per_system):
    """`guix system image --system=S` and `guix pack --system=S` with the catalog's options (those
    `fsdgimg build` passes) compute the very derivations of the image jobs, on both systems."""
    got = {name: drv for _, name, drv in per_system if name.startswith("image.")}
    for name, entry in guix_entries().items():
        for system in SYSTEMS[1:]:   # x86_64-linux: test_guix_channel compares with `fsdgimg build`
            if f"image.{name}.{system}" not in got:
                continue
            common = ["-L", "channel", "-d", "--no-grafts", "--save-provenance", f"--system={system}"]
            if entry["builder"] == "guix-system":
                out = guix("system", "image", "--image-type=docker", *common, entry["file"], cwd=checkout).stdout
            else:
                options = [f"--max-layers={entry['max-layers']}"] if "max-layers" in entry else []
                options += [f"--entry-point={entry['entry-point']}"] if "entry-point" in entry else []
                out = guix("pack", "-f", "docker", *common, *options, "-m", entry["manifest"], cwd=checkout).stdout
            assert derivations(out) == [got[f"image.{name}.{system}"]], (name, system)


def test_one_call_with_every_system_gives_the_same_jobs(checkout, per_system):
    """(gnu ci) given several systems calls the module once per system with the same arguments."""
    together = jobs(checkout, "--together", *SYSTEMS)
    assert sorted(t[1:] for t in together) == sorted(t[1:] for t in per_system)


def test_cross_compiled_image_jobs_are_the_command_lines_derivations(checkout, per_system):
    """An architecture the catalog builds on another system: `--system` and `--target`."""
    got = {name: drv for _, name, drv in per_system}
    common = ["-L", "channel", "-d", "--no-grafts", "--save-provenance", "--system=x86_64-linux",
              "--target=riscv64-linux-gnu"]
    for name, job in zip(CROSS, CROSS_JOBS):
        entry = guix_entries()[name]
        if entry["builder"] == "guix-pack":
            out = guix("pack", "-f", "docker", *common, f"--max-layers={entry['max-layers']}",
                       f"--entry-point={entry['entry-point']}", "-m", entry["manifest"], cwd=checkout).stdout
        else:
            out = guix("system", "image", "--image-type=docker", *common, entry["file"], cwd=checkout).stdout
        assert derivations(out) == [got[job]], name


def test_architecture_table_is_fsdgimgs():
    """ci.scm maps OCI names to Guix systems as fsdgimg/platforms.py does: both read
    python/fsdgimg/architectures.toml (the Cuirass evaluation runs in Guix alone, without the Python
    side), and both read it right."""
    from fsdgimg import platforms
    names = [a.name for a in platforms.ARCHES]
    out = guix("repl", "-L", "channel", "--", "tests/guix/eval.scm",
               "(map (@ (fsdgimg ci) architecture->system) '(" + " ".join(f'"{n}"' for n in names) + "))").stdout
    assert out == "(" + " ".join(f'"{a.guix_system}"' if a.guix_system else "#f" for a in platforms.ARCHES) + ")"


def test_builds_are_those_fsdgimg_lists(checkout):
    """Each (system, target) of the Cuirass jobs is the one `fsdgimg list` gives the architecture
    (catalog.py's Entry.guix_system and guix_target): the jobs are the builds fsdgimg runs."""
    from publish.conftest import run
    listed = json.loads(run("list", "--catalog", checkout / "manifests/catalog.toml", "--json").out)["images"]
    expected = sorted((image["name"], system, image.get("targets", {}).get(arch, "#f"))
                      for image in listed if image["builder"] in ("guix-system", "guix-pack")
                      for arch, system in image["systems"].items())
    out = guix("repl", "-L", str(checkout / "channel"), "--", str(REPO / "tests/guix/eval.scm"),
               "(string-join ((@ (srfi srfi-1) append-map) (lambda (entry) (map (lambda (build) (format #f \"~a ~a ~a\" (car entry)"
               " (car build) (or (cdr build) \"#f\"))) ((@ (fsdgimg ci) catalog-entry-builds) entry)))"
               " ((@@ (fsdgimg ci) guix-catalog-entries))) \"\\n\")", cwd=checkout).stdout
    got = sorted(tuple(line.split()) for line in out.splitlines())
    assert got == expected and any(target != "#f" for *_, target in got)


def test_catalog_systems_from_architectures():
    out = guix("repl", "-L", "channel", "--", "tests/guix/eval.scm",
               "(map (@ (fsdgimg ci) catalog-entry-systems)"
               " '((\"a\" (\"architectures\" \"arm64\" \"386\" \"s390x\"))"
               "   (\"b\" (\"architecture\" . \"amd64\") (\"system\" . \"x86_64-linux\"))"
               "   (\"c\" (\"architecture\" . \"riscv64\"))))").stdout
    # s390x: no Guix system type builds it, so no job.
    assert out == '(("aarch64-linux" "i686-linux") ("x86_64-linux") ("riscv64-linux"))'


def test_readme_specification_follows_main():
    readme = (REPO / "README.md").read_text()
    spec = re.search(r"\(specification.*?\n```", readme, re.S).group(0)
    assert '(branch "main")' in spec and "(build '(custom (fsdgimg ci)))" in spec



def test_a_pinned_image_has_jobs_only_when_evaluated_at_its_pin(checkout, tmp_path):
    """`fsdgimg pin`'s channels decide the Guix an image is built with: Cuirass evaluating at other
    commits gives it no job (and says why), at the same commits the job it always had."""
    copy = tmp_path / "checkout"
    shutil.copytree(checkout, copy)
    catalog = copy / "manifests" / "catalog.toml"
    pins = copy / "manifests" / "channels"
    pins.mkdir()
    head, _, rest = catalog.read_text().partition("[images.guix-hello]\n")
    table, sep, tail = rest.partition("\n[")
    catalog.write_text(head + "[images.guix-hello]\n"
                       + table.replace('channels = "host"', 'channels = "manifests/channels/hello.scm"') + sep + tail)
    assert catalog.read_text().count("manifests/channels/hello.scm") == 1
    # tests/guix/ci-jobs.scm evaluates as Cuirass would at guix commit 000…0.
    for commit, expected in (("a" * 40, False), ("0" * 40, True)):
        (pins / "hello.scm").write_text(f'(list (channel (name \'guix) (url "https://git.guix.gnu.org/guix.git") '
                                        f'(commit "{commit}")))\n')
        proc = guix("repl", "-L", str(copy / "channel"), "--", str(REPO / "tests/guix/ci-jobs.scm"), "x86_64-linux",
                    cwd=copy)
        names = {line.split()[1] for line in proc.stdout.splitlines() if line.strip()}
        assert ("image.guix-hello.x86_64-linux" in names) is expected, (commit, proc.stderr[-500:])
        assert "image.guix-minimal.x86_64-linux" in names          # unpinned: the evaluating Guix
        if not expected:
            assert f"image.guix-hello: pinned to guix {commit}, evaluated at {'0' * 40}; no job" in proc.stderr
