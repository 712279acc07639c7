"""Fixtures for the deployment tests: fixture-model bundles, one real install, a clip, and a throw-away sshd.

Cost control (the machine is shared): one venv + pip install of the device requirements per session
(``installed``); everything else reuses it. A test that changes an install works on its own copy of it
(``pi_home``: a "Pi" already running version A, venvs hard-linked), so ``make deploy`` upgrades in place without a
second pip install, and no test sees what another one changed (any order, any single test, gives the same result).

Where ``FEREDGE_REQUIRE_SSHD`` is set (``.ci/run`` does), a missing or broken sshd fails the SSH tests instead of
skipping them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # for ``import deploy_helpers`` (--import-mode=importlib)
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_helpers import (  # noqa: E402
    FIXTURES,
    INSTALL_TIMEOUT,
    SSHD,
    Built,
    Installed,
    SshServer,
    build,
    clean_env,
    copy_home,
    free_port,
    install_cmd,
    keygen,
    run,
    sshd_config,
    sshd_unavailable,
    unpack,
)


@pytest.fixture(scope="session")
def fixture_models() -> list[str]:
    names = ["tiny_int8", "tiny_float32"]
    missing = [n for n in names if not (FIXTURES / f"{n}.tflite").is_file()]
    if missing:
        pytest.fail(f"fixture models missing: {missing}; run: python tests/fixtures/make_fixtures.py")
    return names


@pytest.fixture(scope="session")
def bundle_a(tmp_path_factory: pytest.TempPathFactory, fixture_models: list[str]) -> Built:
    """Version A: both fixture models."""
    return build(tmp_path_factory.mktemp("dist_a"), fixture_models)


@pytest.fixture(scope="session")
def bundle_b(tmp_path_factory: pytest.TempPathFactory, fixture_models: list[str]) -> Built:
    """Version B: the int8 model only (another models sha, so another version)."""
    return build(tmp_path_factory.mktemp("dist_b"), ["tiny_int8"])


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-frame MJPG clip of a face (skimage's astronaut), or of noise where skimage is not installed."""
    import cv2
    import numpy as np

    try:
        from skimage import data

        frame = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (320, 320))
    except ImportError:
        frame = np.random.default_rng(0).integers(0, 255, (320, 320, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("clip") / "astronaut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 320))
    for i in range(12):
        writer.write(np.roll(frame, 2 * i, axis=1))
    writer.release()
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, bundle_a: Built) -> Installed:
    """Bundle A unpacked into a fresh folder and installed into a fresh home: the session's only pip install."""
    base = tmp_path_factory.mktemp("installed")
    unpacked = unpack(bundle_a, base / "unpacked")
    home = base / "home" / "feredge"
    proc = run(install_cmd(unpacked, home), timeout=INSTALL_TIMEOUT, env=clean_env(), cwd=base)
    return Installed(home, unpacked, bundle_a, proc.stdout + proc.stderr)


@pytest.fixture
def pi_home(installed: Installed, tmp_path: Path) -> Path:
    """This test's own home already running version A: a fresh copy of the session's install (no pip install)."""
    return copy_home(installed.home, tmp_path / "pi" / "feredge")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """Debian's sshd on 127.0.0.1:<free port> with temporary host and user keys. Skipped (with the reason) only where
    it cannot start, and then only without ``FEREDGE_REQUIRE_SSHD``: on CI it fails instead."""
    if not SSHD.is_file() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        sshd_unavailable(f"openssh-server/openssh-client not installed ({SSHD}, ssh, ssh-keygen; "
                         "apt-get install -y openssh-server openssh-client)")
    work = tmp_path_factory.mktemp("sshd")
    keygen(work / "host_ed25519")
    keygen(work / "user_ed25519")
    shutil.copy(work / "user_ed25519.pub", work / "authorized_keys")
    if os.getuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir (the service makes it)
    port = free_port()
    cfg = work / "sshd_config"
    cfg.write_text(sshd_config(work, port))
    checked = subprocess.run([str(SSHD), "-t", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        sshd_unavailable(f"sshd cannot run here: {checked.stderr.strip()}")
    log_path = work / "sshd.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                sshd_unavailable(f"sshd could not start (exit {proc.returncode}): {log_path.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sshd_unavailable("sshd did not accept connections within 15 s")
                time.sleep(0.1)
        host_pub = (work / "host_ed25519.pub").read_text().split()
        known = work / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        server = SshServer(port, pwd.getpwuid(os.getuid()).pw_name, work / "user_ed25519", known, work)
        probe = server.ssh("echo ok", check=False, timeout=30)
        if probe.returncode != 0 or probe.stdout.strip() != "ok":
            log_tail = log_path.read_text()[-500:]
            pytest.fail(f"sshd runs but the test key cannot log in: {probe.stderr.strip()} / {log_tail}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
