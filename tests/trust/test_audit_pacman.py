"""The audit on a pacman database (issue 21, item 6): a synthetic Parabola local database — its
archive is not reachable from the test machines — whose %LICENSE% fields are those Arch and
Parabola packages carry: SPDX expressions since Arch's 2024 move to SPDX, one per line where a
package has several, and the legacy names still met in older databases (`GPL`, `custom:NAME`).
The same coverage target as Debian's images."""

from __future__ import annotations

import io
import json
import tarfile

from .conftest import run_cli

MAX_UNKNOWN = 0.02
# name -> %LICENSE% lines (as pacman writes them in local/NAME-VERSION/desc).
FIELDS = {
    "acl": ["LGPL-2.1-or-later"], "attr": ["LGPL-2.1-or-later"], "audit": ["GPL-2.0-or-later"],
    "bash": ["GPL-3.0-or-later"], "brotli": ["MIT"], "bzip2": ["bzip2-1.0.6"],
    "ca-certificates-mozilla": ["MPL-2.0"], "coreutils": ["GPL-3.0-or-later"],
    "cryptsetup": ["GPL-2.0-or-later"], "curl": ["curl"], "dbus": ["AFL-2.1 OR GPL-2.0-or-later"],
    "device-mapper": ["GPL-2.0-only", "LGPL-2.1-only"], "diffutils": ["GPL-3.0-or-later"],
    "e2fsprogs": ["GPL-2.0-or-later AND LGPL-2.0-or-later AND BSD-3-Clause AND MIT"],
    "expat": ["MIT"], "file": ["BSD-2-Clause"], "filesystem": ["GPL"], "findutils": ["GPL-3.0-or-later"],
    "gawk": ["GPL-3.0-or-later"], "gcc-libs": ["GPL-3.0-or-later WITH GCC-exception-3.1"],
    "gdbm": ["GPL-3.0-or-later"], "gettext": ["GPL-3.0-or-later"], "glib2": ["LGPL-2.1-or-later"],
    "glibc": ["GPL-2.0-or-later", "LGPL-2.1-or-later"], "gmp": ["LGPL-3.0-or-later OR GPL-2.0-or-later"],
    "gnutls": ["GPL-3.0-or-later AND LGPL-2.1-or-later"], "gpgme": ["LGPL-2.1-or-later AND GPL-3.0-or-later"],
    "grep": ["GPL-3.0-or-later"], "gzip": ["GPL-3.0-or-later"], "hwdata": ["GPL-2.0-or-later OR XFree86-1.1"],
    "iana-etc": ["custom:none"], "icu": ["Unicode-3.0"], "iproute2": ["GPL-2.0-or-later"],
    "iptables": ["GPL-2.0-only"], "json-c": ["MIT"], "kbd": ["GPL-2.0-or-later"],
    "keyutils": ["GPL-2.0-or-later", "LGPL-2.1-or-later"], "kmod": ["LGPL-2.1-or-later", "GPL-2.0-or-later"],
    "krb5": ["MIT"], "less": ["GPL-3.0-or-later OR BSD-2-Clause"], "libarchive": ["BSD-2-Clause"],
    "libcap": ["BSD-3-Clause OR GPL-2.0-only"], "libffi": ["MIT"], "libgcrypt": ["LGPL-2.1-or-later"],
    "libidn2": ["GPL-2.0-or-later OR LGPL-3.0-or-later"], "libnghttp2": ["MIT"], "libpsl": ["MIT"],
    "libseccomp": ["LGPL-2.1-only"], "libssh2": ["BSD-3-Clause"], "libtasn1": ["GPL-3.0-or-later AND LGPL-2.1-or-later"],
    "libxcrypt": ["LGPL-2.1-or-later"], "linux-libre": ["GPL-2.0-only"], "lz4": ["BSD-2-Clause", "GPL-2.0-or-later"],
    "mpfr": ["LGPL-3.0-or-later"], "ncurses": ["X11"], "openssl": ["Apache-2.0"], "pacman": ["GPL-2.0-or-later"],
    "pam": ["BSD-3-Clause OR GPL-2.0-or-later"], "pcre2": ["BSD-3-Clause WITH PCRE2-exception"],
    "perl": ["GPL-1.0-or-later OR Artistic-1.0-Perl"], "popt": ["MIT"], "procps-ng": ["GPL-2.0-or-later AND LGPL-2.1-or-later"],
    "psmisc": ["GPL-2.0-or-later"], "readline": ["GPL3"], "sed": ["GPL-3.0-or-later"], "shadow": ["BSD-3-Clause"],
    "sqlite": ["blessing"], "systemd-libs": ["LGPL-2.1-or-later"], "tar": ["GPL-3.0-or-later"],
    "tzdata": ["custom:public domain"], "util-linux": ["BSD-2-Clause", "GPL-2.0-only", "GPL-2.0-or-later", "LGPL-2.1-or-later"],
    "xz": ["0BSD AND LGPL-2.1-or-later AND GPL-2.0-or-later"], "zlib": ["Zlib"],
    "zstd": ["BSD-3-Clause OR GPL-2.0-only"], "libedit": ["BSD-3-Clause"],
    "nettle": ["GPL-2.0-or-later OR LGPL-3.0-or-later"], "p11-kit": ["BSD-3-Clause"], "libsasl": ["custom:MIT"],
    "libtirpc": ["BSD-3-Clause"], "libnsl": ["LGPL-2.1-only"], "texinfo": ["GPL-3.0-or-later"],
}


def _database(path) -> None:
    files = {"etc/os-release": 'NAME="Parabola GNU/Linux-libre"\nID=parabola\n'}
    for name, lines in FIELDS.items():
        files[f"var/lib/pacman/local/{name}-1.0-1/desc"] = (
            f"%NAME%\n{name}\n\n%VERSION%\n1.0-1\n\n%ARCH%\nx86_64\n\n%LICENSE%\n" + "\n".join(lines) + "\n\n")
    with tarfile.open(path, "w") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo("./" + name)
            info.size, info.mtime = len(data), 1
            tar.addfile(info, io.BytesIO(data))


def test_coverage_of_a_pacman_database(tmp_path, capsys):
    _database(tmp_path / "parabola.tar")
    proc = run_cli("audit", tmp_path / "parabola.tar", "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    packages = report["packages"]
    unknown = [p for p in packages if p["verdict"] == "unknown"]
    rate = len(unknown) / len(packages)
    with capsys.disabled():
        print(f"\n[audit coverage] pacman database: {len(packages)} packages, {report['counts']}, "
              f"{100 * rate:.2f} % unknown")
        for p in unknown:
            print(f"  unknown: {p['name']} ({p['license']}): {'; '.join(p['reasons'])}")
    assert report["distribution"] == "parabola" and len(packages) == len(FIELDS)
    assert report["counts"]["nonfree"] == 0
    assert rate <= MAX_UNKNOWN, [p["name"] for p in unknown]
    assert proc.returncode == 0
    by = {p["name"]: p for p in packages}
    # Legacy names: pacman's `GPL` is GPL 2 or later, `custom:public domain` a public-domain work.
    assert by["filesystem"]["license"] == "GPL-2.0-or-later" and by["filesystem"]["verdict"] == "free"
    assert by["tzdata"]["verdict"] == "free" and by["readline"]["license"] == "GPL-3.0-only"
    assert [p["name"] for p in unknown] == ["iana-etc"]       # custom:none names no license
