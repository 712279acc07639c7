"""The SSH deployment proof cannot vanish on CI: ``.ci/run`` stops when it cannot install openssh, and exports
``FEREDGE_REQUIRE_SSHD=1``, with which the ``sshd`` fixture fails where it would otherwise skip. The same for the
web view's browser test: chromium and chromium-driver, ``FEREDGE_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from deploy_helpers import REQUIRE_SSHD, ROOT, run, sshd_unavailable
from needs import REQUIRE_DATA, data_missing

pytestmark = pytest.mark.deploy

HERE = Path(__file__).resolve().parent
REQUIRE_BROWSER = "FEREDGE_REQUIRE_BROWSER"
ALL_PACKAGES = "openssh-server openssh-client chromium chromium-driver"


def write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("apt", ["fails", "works", "installs-nothing", "absent", "browser-only"])
def test_ci_run_installs_openssh_or_stops(apt: str, tmp_path: Path) -> None:
    """``.ci/run`` on a machine without ssh/sshd and chromium/chromedriver (PATH holds shims only): apt-get installs
    them, else CI stops before ``make`` with a clear message; ``make`` always sees ``FEREDGE_REQUIRE_SSHD=1`` and
    ``FEREDGE_REQUIRE_BROWSER=1``. ``browser-only``: ssh is there, only the browser packages are installed."""
    shims = tmp_path / "bin"
    shims.mkdir()
    os.symlink(shutil.which("dirname") or "/usr/bin/dirname", shims / "dirname")  # the one tool .ci/run uses
    sshd = tmp_path / "sbin" / "sshd"  # not there: openssh-server is "not installed"
    sshd.parent.mkdir()
    apt_log, make_log = tmp_path / "apt.log", tmp_path / "make.log"
    chmod = shutil.which("chmod") or "/bin/chmod"
    everything = f"{sshd} {shims}/ssh {shims}/ssh-keygen {shims}/chromium {shims}/chromedriver"
    install = {
        "fails": 'echo "E: Unable to locate package openssh-server" >&2; exit 100',
        "works": f'for f in {everything}; do printf "#!/bin/sh\\n" > "$f"; {chmod} +x "$f"; done',
        "installs-nothing": "true",
    }
    install["browser-only"] = install["works"]
    if apt == "browser-only":  # ssh and sshd already installed
        for path in (sshd, shims / "ssh", shims / "ssh-keygen"):
            write_script(path, "#!/bin/sh\n")
    if apt != "absent":
        write_script(shims / "apt-get", f'#!/bin/bash\necho "apt-get $*" >> {apt_log}\n'
                                        f'if [ "$1" = install ]; then {install[apt]}; fi\n')
    write_script(shims / "make", f'#!/bin/bash\necho "make $* {REQUIRE_SSHD}=${{{REQUIRE_SSHD}:-}} '
                                 f'{REQUIRE_BROWSER}=${{{REQUIRE_BROWSER}:-}} '
                                 f'{REQUIRE_DATA}=${{{REQUIRE_DATA}:-}}" >> {make_log}\n')
    env = {"PATH": str(shims), "HOME": str(tmp_path), "FEREDGE_SSHD": str(sshd), "LANG": "C"}
    proc = run(["/bin/bash", str(ROOT / ".ci" / "run")], check=False, env=env, cwd=tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    if apt in ("works", "browser-only"):
        assert proc.returncode == 0, out
        packages = ALL_PACKAGES if apt == "works" else "chromium chromium-driver"
        assert f"apt-get install -y -qq {packages}\n" in apt_log.read_text()
        assert make_log.read_text().splitlines() == [f"make {t} {REQUIRE_SSHD}=1 {REQUIRE_BROWSER}=1 {REQUIRE_DATA}=1"
                                                     for t in ("setup", "test", "lint")]
        return
    assert proc.returncode != 0, out
    assert not make_log.exists(), "CI must stop before the tests when the SSH or browser test cannot run"
    assert ALL_PACKAGES in proc.stderr and ".ci/run: error:" in proc.stderr, out
    if apt == "fails":
        assert "apt-get could not install" in proc.stderr and "Unable to locate package" in proc.stderr, out
    elif apt == "installs-nothing":
        assert "still missing" in proc.stderr, out
    else:
        assert "no apt-get" in proc.stderr, out


FAKE_SSHD = {
    "missing": None,
    "config-refused": '#!/bin/sh\necho "bad configuration options" >&2\nexit 255\n',
    "dies-at-start": '#!/bin/sh\n[ "$1" = -t ] && exit 0\necho "fatal: cannot bind" >&2\nexit 1\n',
}


@pytest.mark.parametrize(("kind", "require"), [("missing", ""), ("missing", "1"), ("config-refused", "1"),
                                               ("dies-at-start", "1")])
def test_sshd_fixture_fails_instead_of_skipping_when_required(kind: str, require: str, tmp_path: Path) -> None:
    """The real ``sshd`` fixture (conftest.py, in a pytest of its own) with an sshd that is missing or cannot
    start: a skip with the reason by default, a failure (error) under ``FEREDGE_REQUIRE_SSHD=1``."""
    if kind != "missing" and (shutil.which("ssh") is None or shutil.which("ssh-keygen") is None):
        sshd_unavailable("the fixture's start-up paths need ssh and ssh-keygen (openssh-client)")
    for source in (HERE / "conftest.py", HERE / "deploy_helpers.py", HERE.parent / "needs.py"):
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "test_probe.py").write_text("def test_probe(sshd):\n    pass\n")
    sshd = tmp_path / "fake_sshd"
    if FAKE_SSHD[kind] is not None:
        write_script(sshd, FAKE_SSHD[kind])
    env = {k: v for k, v in os.environ.items() if k not in (REQUIRE_SSHD, "PYTEST_ADDOPTS")}
    env.update(FEREDGE_SSHD=str(sshd), **({REQUIRE_SSHD: require} if require else {}))
    proc = run([sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                "-c", os.devnull, "test_probe.py"], check=False, env=env, cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    reason = {"missing": "not installed", "config-refused": "bad configuration options",
              "dies-at-start": "cannot bind"}[kind]
    assert reason in out, out
    if require:
        assert proc.returncode == 1 and "1 error" in out and f"{REQUIRE_SSHD}=1" in out, out
    else:
        assert proc.returncode == 0 and "1 skipped" in out, out


def test_a_test_that_needs_the_shared_data_skips_locally_and_fails_on_ci(monkeypatch) -> None:
    """tests/needs.data_missing: a skip with the reason, a failure under FEREDGE_REQUIRE_DATA (.ci/run)."""
    outcomes = []
    for required in (False, True):
        if required:
            monkeypatch.setenv(REQUIRE_DATA, "1")
        else:
            monkeypatch.delenv(REQUIRE_DATA, raising=False)
        with pytest.raises(BaseException) as outcome:  # a skip and a failure both end the call: tell them apart
            data_missing("real photos not found")
        outcomes.append((outcome.type, str(outcome.value)))
    assert outcomes[0] == (pytest.skip.Exception, "real photos not found")
    assert outcomes[1][0] is pytest.fail.Exception and "must have ../shared/data" in outcomes[1][1]
