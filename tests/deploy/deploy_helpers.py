"""Helpers for the deployment tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from needs import unavailable

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SSHD = Path(os.environ.get("FEREDGE_SSHD") or "/usr/sbin/sshd")  # the sshd the SSH tests start
REQUIRE_SSHD = "FEREDGE_REQUIRE_SSHD"  # set (to 1) by .ci/run: no SSH server means a failure, not a skip
NICE = ["nice", "-n", "10"] if shutil.which("nice") else []
INSTALL_TIMEOUT = 900


def run(cmd: list[str], timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command, text output captured; on an unexpected exit show everything it printed."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def sshd_unavailable(reason: str) -> NoReturn:
    """Skip a test that needs ssh/sshd, with the reason; fail instead where ``FEREDGE_REQUIRE_SSHD`` is set (CI),
    so that the end-to-end ``make deploy`` test cannot vanish while CI stays green."""
    unavailable(REQUIRE_SSHD, reason, "the SSH deployment tests must run here")


def device_python() -> str:
    """Python for the test venvs: the system one (as on the Pi), else this interpreter's base."""
    if os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return str(Path(sys.base_prefix) / "bin" / "python3")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment minus the test venv, so nothing of it leaks into the bundle's own venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix))
    env.update(extra)
    return env


@dataclass(frozen=True)
class Built:
    path: Path
    version: str
    top: str  # the tarball's top folder


def build(out: Path, models: list[str]) -> Built:
    from deploy.bundle import BUNDLE_PREFIX, build_bundle

    result = build_bundle(out, FIXTURES, models)
    return Built(result.path, result.version, f"{BUNDLE_PREFIX}{result.version}")


def unpack(bundle: Built, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle.path, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / bundle.top


@dataclass(frozen=True)
class Installed:
    home: Path  # the feredge home: releases/, venvs/, current, config.env
    unpacked: Path  # the unpacked bundle the install ran from
    bundle: Built
    output: str

    @property
    def launcher(self) -> Path:
        return self.home / "current" / "feredge"


def copy_home(src: Path, dest: Path) -> Path:
    """A copy of an installed feredge home that a test may change freely: releases, config and logs are copied,
    the (large, never modified in place) venvs are hard-linked where the file system allows it."""
    venvs = src / "venvs"

    def copy(s: str, d: str) -> None:
        if Path(s).is_relative_to(venvs):
            try:
                os.link(s, d)
                return
            except OSError:
                pass
        shutil.copy2(s, d)

    shutil.copytree(src, dest, symlinks=True, copy_function=copy)
    return dest


def install_cmd(unpacked: Path, home: Path, *extra: str) -> list[str]:
    return [*NICE, "bash", str(unpacked / "install.sh"), "--prefix", str(home), "--python", device_python(), *extra]


def json_lines(text: str) -> list[dict]:
    import json

    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> None:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "feredge-test", "-f", str(path)])


@dataclass(frozen=True)
class SshServer:
    port: int
    user: str
    key: Path
    known_hosts: Path
    workdir: Path

    @property
    def target(self) -> str:
        return f"{self.user}@127.0.0.1"

    def opts(self, key: Path | None = None, port: int | None = None) -> list[str]:
        """Hermetic client options: no user config, this server's host key only, this key only."""
        return [
            "-F", "/dev/null", "-p", str(port or self.port), "-i", str(key or self.key), "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR",
        ]

    def ssh(self, command: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["ssh", *self.opts(), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", self.target, command]
        return run(cmd, timeout=timeout, check=check)


def sshd_config(work: Path, port: int) -> str:
    return "\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {work / 'host_ed25519'}",
        f"PidFile {work / 'sshd.pid'}",
        f"AuthorizedKeysFile {work / 'authorized_keys'}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin yes",
        "X11Forwarding no",
        "PrintMotd no",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "LogLevel INFO",
        "",
    ])
