"""Proof 2: ``make deploy`` against a real SSH server (Debian's sshd on 127.0.0.1, temporary keys), then the
headless demo over SSH. Each test's target home (``pi_home``) starts as its own copy of the session's install (a Pi
running version A), so the tests do not depend on each other's order; the deploy upgrades it in place, keeps the
user's settings, and is idempotent. Bad input: unreachable host, missing or refused key, no space, failed remote
install; each a clear message and a non-zero exit. Without ssh/sshd these tests skip, or fail under
``FEREDGE_REQUIRE_SSHD=1`` (CI)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import (
    FIXTURES,
    ROOT,
    Built,
    Installed,
    SshServer,
    device_python,
    free_port,
    json_lines,
    keygen,
    run,
    sshd_unavailable,
)

pytestmark = pytest.mark.deploy


def make_cmd() -> list[str]:
    """``make`` with the repository Makefile when it has the deploy target, else deploy/deploy.mk directly."""
    probe = subprocess.run(["make", "-C", str(ROOT), "-n", "deploy", "PI=x"], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode == 0 and "deploy.deploy" in probe.stdout:
        return ["make", "-C", str(ROOT)]
    return ["make", "-C", str(ROOT), "-f", "deploy/deploy.mk"]


def make_deploy(server: SshServer, home: Path, dist: Path, clip: Path, models: str = "tiny_int8",
                check: bool = True) -> subprocess.CompletedProcess:
    args = ["--remote-dir", str(home), "--python", device_python()]
    cmd = [*make_cmd(), "deploy", f"PYTHON={sys.executable}", f"PI={server.target}", f"DIST={dist}",
           f"MODELS_DIR={FIXTURES}", f"MODELS={models}", f"BUNDLE_ARGS=--clip {shlex.quote(str(clip))}",
           f"DEPLOY_ARGS={shlex.join(args)}"]
    env = {**os.environ, "SSH_OPTS": shlex.join(server.opts())}
    return run(cmd, check=check, env=env, timeout=900)


def active(home: Path) -> str:
    return os.readlink(home / "current")


def test_make_deploy_upgrades_in_place_and_runs_the_demo_over_ssh(
    sshd: SshServer, pi_home: Path, installed: Installed, clip: Path, tmp_path: Path
) -> None:
    config = pi_home / "config.env"
    config.write_text(config.read_text() + "# set by the user on the Pi\nFEREDGE_SOURCE=" + str(clip) + "\n")
    user_config = config.read_text()
    old = installed.bundle.version

    proc = make_deploy(sshd, pi_home, tmp_path / "dist", clip)
    out = proc.stdout + proc.stderr
    new = next((tmp_path / "dist").glob("feredge-device-*.tar.gz")).name.removeprefix("feredge-device-")
    new = new.removesuffix(".tar.gz")
    assert new != old
    assert f"current version {old}" in out and f"installing {new}" in out, out
    assert "nothing to install" in out, "same requirements: the venv must be reused"
    assert f"active: {new} (was {old})" in out
    assert f"feredge {new} is active in {pi_home}/current" in out and "feredge demo" in out
    assert active(pi_home) == f"releases/{new}"
    assert (pi_home / "releases" / old / ".installed").is_file(), "the previous release is kept for rollback"
    assert config.read_text() == user_config, "a deploy must keep the user's settings"
    assert not list((pi_home / "incoming").iterdir()), "the upload and its unpacked copy are cleaned up"

    demo = sshd.ssh(f"{shlex.quote(str(pi_home))}/current/feredge demo --headless --max-frames 5", timeout=180)
    frames = json_lines(demo.stdout)
    assert [f["frame"] for f in frames] == [0, 1, 2, 3, 4], demo.stdout + demo.stderr

    bench = tmp_path / "bench"  # the on-device benchmark, on the clip shipped in the bundle
    sshd.ssh(f"{shlex.quote(str(pi_home))}/current/feredge bench --out {shlex.quote(str(bench))}", timeout=300)
    assert "Whole pipeline" in (bench / "report.md").read_text() and (bench / "results.json").is_file()

    again = make_deploy(sshd, pi_home, tmp_path / "dist", clip)
    assert f"release {new} is already installed" in again.stdout and f"active: {new} (unchanged)" in again.stdout
    assert active(pi_home) == f"releases/{new}" and config.read_text() == user_config


def deploy_cli(bundle: Built, home: Path, ssh_opts: list[str], target: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "deploy.deploy", "--bundle", str(bundle.path), "--remote-dir", str(home),
           "--python", device_python(), "--connect-timeout", "5", *extra, target]
    return run(cmd, check=False, cwd=ROOT, env={**os.environ, "SSH_OPTS": shlex.join(ssh_opts)}, timeout=600)


def test_failed_remote_install_keeps_the_previous_version(
    sshd: SshServer, pi_home: Path, bundle_b: Built, clip: Path
) -> None:
    before = active(pi_home)
    proc = deploy_cli(bundle_b, pi_home, sshd.opts(), sshd.target, "--pip-args=--no-index")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "install failed (exit 6)" in proc.stderr and "previously active version is unchanged" in proc.stderr
    assert active(pi_home) == before
    demo = sshd.ssh(f"{shlex.quote(str(pi_home))}/current/feredge demo --source {shlex.quote(str(clip))} "
                    "--headless --max-frames 1", timeout=180)
    assert len(json_lines(demo.stdout)) == 1


def test_unreachable_host(bundle_a: Built, tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        sshd_unavailable("ssh client not installed (apt-get install -y openssh-client)")
    port = free_port()  # nothing listens there
    opts = ["-F", "/dev/null", "-p", str(port), "-o", f"UserKnownHostsFile={tmp_path}/kh"]
    proc = deploy_cli(bundle_a, tmp_path / "home", opts, "nobody@127.0.0.1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot reach nobody@127.0.0.1 over SSH" in proc.stderr and "Connection refused" in proc.stderr


def test_missing_key_file(bundle_a: Built, tmp_path: Path) -> None:
    proc = deploy_cli(bundle_a, tmp_path / "home", ["-i", str(tmp_path / "no_such_key")], "pi@127.0.0.1")
    assert proc.returncode == 2
    assert f"SSH key file not found: {tmp_path / 'no_such_key'}" in proc.stderr and "ssh-keygen" in proc.stderr


def test_key_not_authorized(sshd: SshServer, bundle_a: Built, tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    proc = deploy_cli(bundle_a, tmp_path / "home", sshd.opts(key=tmp_path / "stranger"), sshd.target)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "refused the login" in proc.stderr and "ssh-copy-id" in proc.stderr


def test_not_enough_space_on_target(sshd: SshServer, pi_home: Path, bundle_b: Built) -> None:
    before = active(pi_home)
    proc = deploy_cli(bundle_b, pi_home, sshd.opts(), sshd.target, "--min-free-mb", str(10**9))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not enough disk space" in proc.stderr and "Nothing was changed" in proc.stderr
    assert active(pi_home) == before


def test_no_host_or_no_bundle(tmp_path: Path) -> None:
    proc = run([sys.executable, "-m", "deploy.deploy", "--bundle", str(tmp_path)], check=False, cwd=ROOT)
    assert proc.returncode == 2 and "make deploy PI=user@host" in proc.stderr
    proc = run([sys.executable, "-m", "deploy.deploy", "--bundle", str(tmp_path), "pi@127.0.0.1"], check=False,
               cwd=ROOT)
    assert proc.returncode == 2 and "make bundle" in proc.stderr


def test_ssh_option_checks_and_messages(tmp_path: Path) -> None:
    from deploy.deploy import DeployError, check_ssh_options, explain_ssh_failure, remote_path

    key = tmp_path / "key"
    key.write_text("k")
    check_ssh_options(["-p", "22", "-i", str(key), f"-i{key}", "-o", f"IdentityFile={key}", "-F", "/dev/null"])
    for opts in (["-i", str(tmp_path / "gone")], [f"-i{tmp_path}/gone"], ["-o", f"IdentityFile={tmp_path}/gone"]):
        with pytest.raises(DeployError, match="SSH key file not found"):
            check_ssh_options(opts)
    with pytest.raises(DeployError, match="ssh config file not found"):
        check_ssh_options(["-F", str(tmp_path / "no_config")])
    assert remote_path("feredge") == "feredge" and remote_path("~/x y") == "'x y'" and remote_path("~") == "."
    assert "ssh-copy-id" in explain_ssh_failure("pi@h", "pi@h: Permission denied (publickey).")
    assert "raspi-config" in explain_ssh_failure("pi@h", "ssh: connect to host h port 22: Connection refused")
    assert "powered on" in explain_ssh_failure("pi@h", "ssh: connect to host h port 22: Connection timed out")
    assert "mDNS" in explain_ssh_failure("pi@h", "ssh: Could not resolve hostname h: Name or service not known")


def test_several_hosts_from_an_ssh_config_one_down(sshd: SshServer, pi_home: Path, bundle_b: Built,
                                                   tmp_path: Path) -> None:
    """Host aliases from the user's ssh config; a dead host fails with a message, the others are still deployed."""
    config = tmp_path / "ssh_config"
    common = (f"  HostName 127.0.0.1\n  User {sshd.user}\n  IdentityFile {sshd.key}\n  IdentitiesOnly yes\n"
              f"  UserKnownHostsFile {sshd.known_hosts}\n  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n")
    config.write_text(f"Host pi-down\n  Port {free_port()}\n{common}\nHost pi-up\n  Port {sshd.port}\n{common}")
    proc = deploy_cli(bundle_b, pi_home, ["-F", str(config)], "pi-down,pi-up")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot reach pi-down over SSH" in proc.stderr and "FAILED on pi-down; ok on pi-up" in proc.stderr
    assert f"[pi-up] feredge {bundle_b.version} is active" in proc.stdout
    assert active(pi_home) == f"releases/{bundle_b.version}"
