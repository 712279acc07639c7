"""Proof 1: the bundle stands alone. Unpacked into a fresh folder, installed into a fresh venv from its own
requirements only (no TensorFlow), it runs the headless demo and the latency benchmark on a clip, outside the
repository. Plus install.sh's bad-input paths: a Pi without camera, no disk space, a damaged bundle, and a
failed install that leaves the previous version active and runnable; and its safeguards: release pruning
(``--keep``), the one-install-at-a-time lock, and a failed self-check that must not activate the new release.
A test that changes an install works on its own copy (``pi_home``), never on the session's ``installed``."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import shutil
import time
from pathlib import Path

import pytest
from deploy_helpers import (
    ROOT,
    Built,
    Installed,
    clean_env,
    install_cmd,
    json_lines,
    run,
    unpack,
)

pytestmark = pytest.mark.deploy


def active(home: Path) -> str:
    return os.readlink(home / "current")


def test_fresh_install_is_standalone(installed: Installed, tmp_path: Path) -> None:
    out = installed.output
    assert "not a Raspberry Pi" in out and "skipping the apt packages" in out, out
    assert "creating venv" in out and "self-check" in out
    assert active(installed.home) == f"releases/{installed.bundle.version}"
    release = installed.home / "releases" / installed.bundle.version
    assert (release / ".installed").is_file()
    assert (installed.home / "config.env").read_text().count("FEREDGE_MODEL=models/tiny_int8.tflite") == 1
    probe = (
        "import importlib.util, sys, device, numpy, cv2, ai_edge_litert\n"
        "assert importlib.util.find_spec('tensorflow') is None, 'TensorFlow in the device venv'\n"
        "assert importlib.util.find_spec('keras') is None, 'Keras in the device venv'\n"
        "assert importlib.util.find_spec('train') is None and importlib.util.find_spec('convert') is None\n"
        "print(device.__file__); print(sys.prefix)\n"
    )
    proc = run([str(installed.launcher), "python", "-c", probe], env=clean_env(), cwd=tmp_path)
    device_file, prefix = proc.stdout.split()
    assert Path(device_file).resolve().is_relative_to(release.resolve())
    assert Path(prefix).resolve().is_relative_to((installed.home / "venvs").resolve())
    assert not Path(device_file).resolve().is_relative_to(ROOT)


def test_headless_demo_runs_from_the_install(installed: Installed, clip: Path, tmp_path: Path) -> None:
    proc = run([str(installed.launcher), "demo", "--source", str(clip), "--headless", "--max-frames", "5"],
               env=clean_env(), cwd=tmp_path, timeout=180)
    frames = json_lines(proc.stdout)
    assert [f["frame"] for f in frames] == [0, 1, 2, 3, 4], proc.stdout + proc.stderr
    assert all("faces" in f for f in frames)


def test_a_model_of_the_release_is_found_from_any_folder(installed: Installed, clip: Path, tmp_path: Path) -> None:
    """``feredge demo --model models/<file>`` (as README-pi shows it) from the home folder, not the release: the
    relative path names the release's model; a path that exists where the user is wins."""
    for model in ("models/tiny_int8.tflite", "--model=models/tiny_int8.tflite"):
        flag = [] if model.startswith("--") else ["--model"]
        proc = run([str(installed.launcher), "demo", "--source", str(clip), "--headless", "--max-frames", "2",
                    *flag, model], env=clean_env(), cwd=tmp_path, timeout=180)
        assert [f["frame"] for f in json_lines(proc.stdout)] == [0, 1], proc.stdout + proc.stderr
    missing = run([str(installed.launcher), "demo", "--source", str(clip), "--headless", "--max-frames", "2",
                   "--model", "models/no_such.tflite"], env=clean_env(), cwd=tmp_path, timeout=180, check=False)
    assert missing.returncode == 2 and "no_such.tflite" in missing.stderr


def test_latency_benchmark_runs_from_the_install(installed: Installed, clip: Path, tmp_path: Path) -> None:
    shutil.copy(clip, tmp_path / "clip.avi")
    out = tmp_path / "bench"  # relative paths, as a user types them
    proc = run([str(installed.launcher), "bench", "--clip", "clip.avi", "--out=bench"],
               env=clean_env(), cwd=tmp_path, timeout=600)
    assert (out / "report.md").is_file() and (out / "results.json").is_file(), proc.stdout + proc.stderr
    report = (out / "report.md").read_text()
    assert "## Classifier latency" in report and "## Whole pipeline" in report
    assert "| tiny | int8 |" in report and "| tiny | float32 |" in report
    assert "TensorFlow | not installed" in report and "failed" not in report


def test_second_install_is_a_no_op_that_keeps_settings(installed: Installed, pi_home: Path, tmp_path: Path) -> None:
    config = pi_home / "config.env"
    config.write_text(config.read_text() + "# my own setting\nFEREDGE_DEMO_ARGS=\"--max-faces 2\"\n")
    before = active(pi_home)
    proc = run(install_cmd(installed.unpacked, pi_home), env=clean_env(), cwd=tmp_path)
    assert "already installed" in proc.stdout and "nothing to install" in proc.stdout, proc.stdout
    assert "keeping your settings" in proc.stdout
    assert active(pi_home) == before
    assert config.read_text().endswith("# my own setting\nFEREDGE_DEMO_ARGS=\"--max-faces 2\"\n")


def test_failed_install_leaves_the_previous_version_runnable(
    installed: Installed, pi_home: Path, bundle_b: Built, clip: Path, tmp_path: Path
) -> None:
    unpacked = unpack(bundle_b, tmp_path / "b")
    before = active(pi_home)
    venvs = sorted(p.name for p in (pi_home / "venvs").iterdir())
    # --no-index: pip finds nothing, with no network access: a failure after the venv was created
    proc = run(install_cmd(unpacked, pi_home, "--pip-args", "--no-index"), check=False, env=clean_env(),
               cwd=tmp_path, timeout=300)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "pip could not install the device requirements" in proc.stderr
    assert f"the active version is unchanged: {installed.bundle.version}" in proc.stderr
    assert active(pi_home) == before
    assert not (pi_home / "releases" / bundle_b.version).exists()
    assert not list((pi_home / "releases").glob(".*.tmp.*"))
    assert sorted(p.name for p in (pi_home / "venvs").iterdir()) == venvs
    demo = run([str(pi_home / "current" / "feredge"), "demo", "--source", str(clip), "--headless", "--max-frames",
                "1"], env=clean_env(), cwd=tmp_path, timeout=180)
    assert len(json_lines(demo.stdout)) == 1


def fake_pi_path(tmp_path: Path, camera_output: str) -> str:
    """PATH shims making this machine look like a 64-bit Pi whose apt works and whose camera says ``camera_output``."""
    shims = tmp_path / "shims"
    shims.mkdir()
    scripts = {
        "uname": '#!/bin/sh\n[ "$1" = -m ] && { echo aarch64; exit 0; }\nexec /bin/uname "$@"\n',
        "apt-get": f'#!/bin/sh\necho "apt-get $*" >> {tmp_path}/apt.log\n',
        "sudo": '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n',
        "dpkg-query": "#!/bin/sh\nexit 1\n",
        "rpicam-hello": f"#!/bin/sh\nprintf '%s\\n' '{camera_output}'\n",
    }
    for name, text in scripts.items():
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    return f"{shims}{os.pathsep}{clean_env()['PATH']}"


def test_pi_without_camera_fails_clearly_and_changes_nothing(bundle_a: Built, tmp_path: Path) -> None:
    unpacked = unpack(bundle_a, tmp_path / "bundle")
    home = tmp_path / "pi" / "feredge"
    env = clean_env(PATH=fake_pi_path(tmp_path, "No cameras available!"), FEREDGE_ASSUME_PI="1")
    proc = run(install_cmd(unpacked, home), check=False, env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no camera found on this Pi" in proc.stderr and "--no-camera-check" in proc.stderr
    assert "apt-get install -y --no-install-recommends python3-picamera2" in (tmp_path / "apt.log").read_text()
    assert not (home / "current").exists() and not (home / "config.env").exists()
    assert not any((home / "venvs").iterdir())


def test_not_enough_space_fails_clearly(bundle_a: Built, tmp_path: Path) -> None:
    unpacked = unpack(bundle_a, tmp_path / "bundle")
    home = tmp_path / "full" / "feredge"
    proc = run(install_cmd(unpacked, home), check=False, env=clean_env(FEREDGE_MIN_FREE_MB="999999999"),
               cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "not enough disk space" in proc.stderr and "Nothing was changed" in proc.stderr
    assert not (home / "current").exists()


def test_damaged_bundle_is_refused(bundle_a: Built, tmp_path: Path) -> None:
    unpacked = unpack(bundle_a, tmp_path / "bundle")
    target = unpacked / "device" / "__main__.py"
    target.write_text(target.read_text() + "\n# tampered\n")
    (unpacked / "models" / "tiny_float32.tflite").unlink()
    proc = run(install_cmd(unpacked, tmp_path / "home"), check=False, env=clean_env(), cwd=tmp_path)
    assert proc.returncode == 8, proc.stdout + proc.stderr
    assert "damaged" in proc.stderr and "device/__main__.py" in proc.stderr


@pytest.mark.skipif(shutil.which("systemctl") is not None and Path("/run/systemd/system").is_dir(),
                    reason="systemd runs here: not installing a real unit from a test")
def test_systemd_option_is_skipped_without_systemd(installed: Installed, pi_home: Path, tmp_path: Path) -> None:
    proc = run(install_cmd(installed.unpacked, pi_home, "--systemd"), env=clean_env(), cwd=tmp_path)
    assert "systemd is not running here" in proc.stdout


def test_systemd_option_installs_enables_and_starts_the_unit(installed: Installed, pi_home: Path,
                                                             tmp_path: Path) -> None:
    """--systemd where systemd runs (faked: its run folder, a systemctl that records its calls, a sudo that runs
    its command): the unit starts the release's launcher as this user, then daemon-reload, enable, restart."""
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "systemctl.log"
    for name, text in (("systemctl", f'#!/bin/sh\necho "$*" >> {calls}\n'),
                       ("sudo", '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'),
                       ("logrotate", "#!/bin/sh\n")):
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    (tmp_path / "run-systemd").mkdir()
    (tmp_path / "logrotate.d").mkdir()
    unit = tmp_path / "etc" / "feredge.service"
    unit.parent.mkdir()
    env = clean_env(PATH=f"{shims}{os.pathsep}{clean_env()['PATH']}", FEREDGE_SYSTEMD_RUN=str(tmp_path / "run-systemd"),
                    FEREDGE_UNIT=str(unit), FEREDGE_LOGROTATE_DIR=str(tmp_path / "logrotate.d"))
    proc = run(install_cmd(installed.unpacked, pi_home, "--systemd"), env=env, cwd=tmp_path)
    assert "feredge.service enabled and (re)started" in proc.stdout, proc.stdout + proc.stderr
    text = unit.read_text()
    assert f"ExecStart={pi_home}/current/feredge service" in text and f"Environment=FEREDGE_HOME={pi_home}" in text
    assert f"\nUser={pwd.getpwuid(os.getuid()).pw_name}\n" in text
    assert calls.read_text().splitlines() == ["daemon-reload", "enable feredge.service", "restart feredge.service"]
    assert f"{pi_home}/logs/demo.jsonl" in (tmp_path / "logrotate.d" / "feredge").read_text()


def releases(home: Path) -> set[str]:
    return {p.name for p in (home / "releases").iterdir()}


def fake_release(home: Path, name: str, age_s: float, venv: str | None = None, complete: bool = True) -> None:
    """An older release folder (``.installed`` marks a complete one), its mtime ``age_s`` seconds in the past."""
    rel = home / "releases" / name
    (rel / "models").mkdir(parents=True)
    if complete:
        (rel / ".installed").write_text("2024-01-01T00:00:00Z\n")
    if venv is not None:
        (home / "venvs" / venv).mkdir(exist_ok=True)
        (rel / ".venv").symlink_to(f"../../venvs/{venv}")
    then = time.time() - age_s
    os.utime(rel, (then, then))


@pytest.mark.parametrize("case", ["upgrade-keep-3", "reinstall-keep-1"])
def test_keep_prunes_the_oldest_releases_never_the_active_one(
    case: str, installed: Installed, pi_home: Path, bundle_b: Built, tmp_path: Path
) -> None:
    """``--keep N``: the newest N complete releases stay, counted by modification time; the active one (before
    and after the install) always stays, however old; incomplete leftovers and venvs no release uses go.
    ``--keep 1`` means 2: the active release and one to roll back to."""
    old = installed.bundle.version
    os.utime(pi_home / "releases" / old, (time.time() - 5000,) * 2)  # the active release is the oldest one
    fake_release(pi_home, "r-newer", 1000)
    fake_release(pi_home, "r-older", 2000, venv="py0.0-unused")
    fake_release(pi_home, "r-oldest", 3000)
    fake_release(pi_home, "r-partial", 500, complete=False)  # newest of all, but an interrupted install's leftover
    venv = os.readlink(pi_home / "releases" / old / ".venv").rsplit("/", 1)[-1]
    if case.startswith("upgrade"):
        source, new, keep = unpack(bundle_b, tmp_path / "b"), bundle_b.version, "3"
        expected = {new, old, "r-newer"}
    else:
        source, new, keep = installed.unpacked, old, "1"
        expected = {old, "r-newer"}
    proc = run(install_cmd(source, pi_home, "--keep", keep), env=clean_env(), cwd=tmp_path, timeout=300)
    assert active(pi_home) == f"releases/{new}", proc.stdout
    assert releases(pi_home) == expected, proc.stdout + proc.stderr
    assert {p.name for p in (pi_home / "venvs").iterdir()} == {venv}, "the venv only r-older used must go"


def test_a_second_concurrent_install_is_refused(pi_home: Path, bundle_b: Built, tmp_path: Path) -> None:
    """install.sh takes ``flock -n PREFIX/.install.lock``: while another install holds it, exit 9 and change
    nothing; the lock is the held flock, not the lock file's existence."""
    unpacked = unpack(bundle_b, tmp_path / "b")
    before, before_releases = active(pi_home), releases(pi_home)
    with (pi_home / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another install" holds the lock
        proc = run(install_cmd(unpacked, pi_home), check=False, env=clean_env(), cwd=tmp_path, timeout=60)
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert f"another install into {pi_home.resolve()} is running; wait for it to finish" in proc.stderr
    assert active(pi_home) == before and releases(pi_home) == before_releases
    # released: the next install gets past the lock (and stops at the disk-space check, before changing anything)
    proc = run(install_cmd(unpacked, pi_home), check=False, env=clean_env(FEREDGE_MIN_FREE_MB="999999999"),
               cwd=tmp_path, timeout=60)
    assert proc.returncode == 4 and "not enough disk space" in proc.stderr, proc.stdout + proc.stderr


def test_failed_self_check_does_not_activate_the_release(
    installed: Installed, pi_home: Path, bundle_b: Built, tmp_path: Path
) -> None:
    """A bundle that arrives intact (checksums match) but whose model does not load: exit 7 with the reason, the
    new release is neither activated nor left behind, the previous one stays active."""
    unpacked = unpack(bundle_b, tmp_path / "b")
    (unpacked / "models" / "tiny_int8.tflite").write_bytes(b"this is not a TFLite flatbuffer\n" * 32)
    sums = (unpacked / "SHA256SUMS").read_text().splitlines()
    (unpacked / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((unpacked / name).read_bytes()).hexdigest()}  {name}\n"
        for name in (line.split(maxsplit=1)[1] for line in sums)
    ))
    config = (pi_home / "config.env").read_text()
    venvs = {p.name for p in (pi_home / "venvs").iterdir()}
    proc = run(install_cmd(unpacked, pi_home), check=False, env=clean_env(), cwd=tmp_path, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 7, out
    assert "the new release failed its self-check" in proc.stderr, out
    assert "models/tiny_int8.tflite: the model does not load or run: " in out, "the reason must be shown: " + out
    assert f"the active version is unchanged: {installed.bundle.version}" in proc.stderr, out
    assert active(pi_home) == f"releases/{installed.bundle.version}"
    assert bundle_b.version not in releases(pi_home) and not list((pi_home / "releases").glob(".*"))
    assert {p.name for p in (pi_home / "venvs").iterdir()} == venvs, "the shared venv must survive"
    assert (pi_home / "config.env").read_text() == config
