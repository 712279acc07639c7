"""Deploy the device bundle to one or more Raspberry Pis over SSH: ``python -m deploy.deploy pi@raspberrypi.local``.

Uses the system ``ssh`` with the user's own configuration (``~/.ssh/config``, agent, keys); extra options come
from ``--ssh-opts`` or the ``SSH_OPTS`` environment variable (e.g. ``-p 2222 -i ~/.ssh/pi``). Per host:

1. probe: log in (``BatchMode``, ``ConnectTimeout``), create the remote folder, read the free space (``df``);
2. upload the tarball into ``<remote-dir>/incoming/`` (``ssh ... cat >``; no scp/sftp needed) and verify its sha256;
3. unpack into a fresh ``incoming/`` folder and run its ``install.sh --prefix <remote-dir>``, streaming the output.

``install.sh`` switches ``<remote-dir>/current`` only after a successful install, so a failure anywhere leaves
the previous version active, and ``<remote-dir>/config.env`` (the user's settings) is never overwritten.
Exit status: 0 when every host succeeded, 1 when one failed, 2 on a local problem (no bundle, missing key).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from core.argtypes import number_type, whole
from core.fileio import sha256_file
from deploy.bundle import BUNDLE_PREFIX, REPO_ROOT

INSTALL_EXIT_MESSAGES: dict[int, str] = {
    2: "unsupported system or bad option",
    3: "no camera found (fix the camera, or deploy with --no-camera-check)",
    4: "not enough disk space",
    5: "apt could not install python3-picamera2",
    6: "the Python environment could not be installed",
    7: "the new release failed its self-check",
    8: "the bundle arrived damaged",
    9: "another install is running on that host",
}


FIRST_INSTALL_MB = 400  # the venv: numpy, OpenCV, LiteRT (about 250 MB) plus room
UPGRADE_MB = 100


class DeployError(Exception):
    """A deployment step failed; the message says what to do."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    top: str  # folder inside the tarball: feredge-device-<version>
    version: str
    sha256: str
    unpacked_bytes: int


def find_bundle(path: Path) -> Path:
    """``path`` itself, or the newest ``feredge-device-*.tar.gz`` in it when it is a folder."""
    if path.is_dir():
        found = sorted(path.glob(f"{BUNDLE_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise DeployError(f"no {BUNDLE_PREFIX}*.tar.gz in {path}: build one first with 'make bundle'")
        return found[-1]
    if not path.is_file():
        raise DeployError(f"bundle {path} not found: build one first with 'make bundle'")
    return path


def inspect_bundle(path: Path) -> Bundle:
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            top = members[0].name.split("/")[0] if members else ""
            version_member = tar.extractfile(f"{top}/VERSION") if top else None
            version = version_member.read().decode().strip() if version_member else ""
            size = sum(m.size for m in members if m.isfile())
    except (tarfile.TarError, OSError, KeyError) as exc:
        raise DeployError(f"{path} is not a feredge bundle ({exc}); rebuild it with 'make bundle'") from exc
    if not top.startswith(BUNDLE_PREFIX) or not version:
        raise DeployError(f"{path} is not a feredge bundle (top folder {top!r}); rebuild it with 'make bundle'")
    return Bundle(path, top, version, sha256_file(path), size)


def check_ssh_options(opts: list[str]) -> None:
    """Fail early, with a clear message, on a missing ssh binary, key file or config file."""
    if shutil.which("ssh") is None:
        raise DeployError("the 'ssh' command is not installed (Debian/Ubuntu: sudo apt install openssh-client)")
    files: list[tuple[str, str]] = []
    i = 0
    while i < len(opts):
        opt = opts[i]
        value: str | None = None
        if opt in ("-i", "-F") and i + 1 < len(opts):
            value, i = opts[i + 1], i + 1
            files.append(("SSH key" if opt == "-i" else "ssh config", value))
        elif opt.startswith(("-i", "-F")) and len(opt) > 2:
            files.append(("SSH key" if opt[1] == "i" else "ssh config", opt[2:]))
        elif opt == "-o" and i + 1 < len(opts):
            value, i = opts[i + 1], i + 1
            key, _, val = value.partition("=")
            if key.strip().lower() == "identityfile" and val:
                files.append(("SSH key", val.strip()))
        i += 1
    for kind, name in files:
        if name.lower() == "none":
            continue
        if not Path(os.path.expanduser(name)).exists():
            hint = (
                "create one with 'ssh-keygen -t ed25519' and install it on the Pi with 'ssh-copy-id -i KEY user@host'"
                if kind == "SSH key" else "fix the -F path"
            )
            raise DeployError(f"{kind} file not found: {name} (from the SSH options); {hint}")


def remote_path(remote_dir: str) -> str:
    """Shell-quoted remote folder; relative paths (and ``~/...``) are relative to the remote home."""
    if remote_dir in ("~", "~/"):
        return "."
    if remote_dir.startswith("~/"):
        remote_dir = remote_dir[2:]
    return shlex.quote(remote_dir)


def explain_ssh_failure(host: str, stderr: str) -> str:
    last = " ".join(line.strip() for line in stderr.strip().splitlines()[-2:]) or "no message"
    low = stderr.lower()
    if "permission denied" in low or "too many authentication failures" in low:
        hint = (
            "the host refused the login. Set up key login: 'ssh-keygen -t ed25519' then 'ssh-copy-id "
            f"{host}' (or pass '-i KEY' in SSH_OPTS), and check the user name"
        )
    elif "host key verification failed" in low or "remote host identification has changed" in low:
        hint = f"the host key is unknown or changed: connect once by hand ('ssh {host}') to check and accept it"
    elif "could not resolve" in low or "name or service not known" in low:
        hint = "the host name does not resolve: check it (e.g. raspberrypi.local needs mDNS; try the IP address)"
    elif "connection refused" in low:
        hint = "nothing accepts SSH there: enable SSH on the Pi (sudo raspi-config, Interface Options, SSH)"
    elif "timed out" in low or "no route to host" in low or "network is unreachable" in low:
        hint = "the host does not answer: is it powered on, on this network, and is the address right?"
    else:
        hint = "check the address, the network and your SSH setup (try 'ssh -v ...' by hand)"
    return f"cannot reach {host} over SSH ({last}): {hint}"


class Target:
    """One host: runs commands over ssh with the user's options plus timeouts."""

    def __init__(self, host: str, ssh_opts: list[str], connect_timeout: int, batch: bool) -> None:
        self.host = host
        base = ["ssh", *ssh_opts, "-o", f"ConnectTimeout={connect_timeout}", "-o", "ServerAliveInterval=15",
                "-o", "ServerAliveCountMax=4"]
        if batch:
            base += ["-o", "BatchMode=yes"]
        self.base = base

    def cmd(self, remote: str) -> list[str]:
        return [*self.base, self.host, remote]

    def run(self, remote: str, timeout: float, stdin: Path | None = None, what: str = "command") -> str:
        """Run ``remote``; return stdout. Raise ``DeployError`` with a clear message on any failure."""
        try:
            if stdin is not None:
                with stdin.open("rb") as fh:
                    proc = subprocess.run(self.cmd(remote), stdin=fh, capture_output=True, timeout=timeout)
            else:
                proc = subprocess.run(self.cmd(remote), stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"{self.host}: {what} timed out after {timeout:.0f} s") from exc
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        if proc.returncode == 255:
            raise DeployError(explain_ssh_failure(self.host, err))
        if proc.returncode != 0:
            if "no space left on device" in err.lower():
                raise DeployError(f"{self.host}: no space left on the device during {what}; free some space "
                                  "(sudo apt clean; remove old files) and deploy again")
            detail = (err.strip() or out.strip()).splitlines()[-3:]
            raise DeployError(f"{self.host}: {what} failed (exit {proc.returncode}): {' | '.join(detail)}")
        return out

    def stream(self, remote: str, timeout: float, prefix: str) -> tuple[int, list[str]]:
        """Run ``remote``, echoing its output line by line; return (exit status, last lines)."""
        tail: deque[str] = deque(maxlen=60)
        proc = subprocess.Popen(self.cmd(remote), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            proc.kill()

        watchdog = threading.Timer(timeout, expire)  # a hung (or silent) remote command still ends
        watchdog.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                tail.append(line)
                print(f"{prefix}{line}", flush=True)
            rc = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if fired.is_set():
            raise DeployError(f"{self.host}: the install did not finish within {timeout:.0f} s")
        return rc, list(tail)


def probe(target: Target, rdir: str, timeout: float) -> dict[str, str]:
    script = (
        f"set -e; d={rdir}; mkdir -p \"$d\" || exit 20; "
        "echo \"arch=$(uname -m)\"; "
        "df -Pk \"$d\" | awk 'NR==2 {print \"avail_kb=\" $4}'; "
        "if [ -r /proc/device-tree/model ]; then echo \"model=$(tr -d '\\000' < /proc/device-tree/model)\"; fi; "
        "if [ -L \"$d/current\" ]; then echo \"current=$(basename \"$(readlink \"$d/current\")\")\"; fi; "
        "command -v tar >/dev/null && echo tar=yes; command -v bash >/dev/null && echo bash=yes; "
        "cd \"$d\" && echo \"dir=$(pwd -P)\""
    )
    try:
        out = target.run(f"sh -c {shlex.quote(script)}", timeout, what="probe")
    except DeployError as exc:
        if "(exit 20)" in str(exc):
            raise DeployError(f"{target.host}: cannot create the install folder {rdir} there ({exc})") from exc
        raise
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def deploy_host(host: str, bundle: Bundle, args: argparse.Namespace, ssh_opts: list[str]) -> str:
    """Deploy to one host; return the remote folder. Raise ``DeployError`` on failure."""
    target = Target(host, ssh_opts, args.connect_timeout, batch=not args.interactive)
    rdir = remote_path(args.remote_dir)
    print(f"[{host}] connecting", flush=True)
    facts = probe(target, rdir, timeout=args.connect_timeout + 30)
    for tool in ("tar", "bash"):
        if facts.get(tool) != "yes":
            raise DeployError(f"{host}: '{tool}' is not installed there")
    desc = facts.get("model") or "not a Raspberry Pi"
    current = facts.get("current", "none")
    print(f"[{host}] {desc}, {facts.get('arch', '?')}; {facts.get('dir', args.remote_dir)}: current version {current}",
          flush=True)
    avail_mb = int(facts.get("avail_kb", "0") or 0) // 1024
    headroom = args.min_free_mb
    if headroom is None:  # a first install builds the Python environment; an upgrade usually reuses it
        headroom = FIRST_INSTALL_MB if current == "none" else UPGRADE_MB
    need_mb = (bundle.path.stat().st_size + 2 * bundle.unpacked_bytes) // (1 << 20) + headroom
    if "avail_kb" in facts and avail_mb < need_mb:
        raise DeployError(
            f"{host}: not enough disk space in {facts.get('dir', args.remote_dir)}: {avail_mb} MB free, about "
            f"{need_mb} MB needed (bundle, unpacked copy and Python environment). Free some space "
            "(sudo apt clean; remove old files) and deploy again. Nothing was changed."
        )

    name = bundle.path.name
    incoming = f"{rdir}/incoming"
    print(f"[{host}] uploading {name} ({bundle.path.stat().st_size / 1e6:.1f} MB)", flush=True)
    upload = (
        f"set -e; mkdir -p {incoming}; cat > {incoming}/{shlex.quote(name)}.part; "
        f"mv -f {incoming}/{shlex.quote(name)}.part {incoming}/{shlex.quote(name)}; "
        f"if command -v sha256sum >/dev/null; then sha256sum {incoming}/{shlex.quote(name)}; fi"
    )
    out = target.run(upload, timeout=args.upload_timeout, stdin=bundle.path, what="upload")
    remote_sha = out.split()[0] if out.strip() else bundle.sha256
    if remote_sha != bundle.sha256:
        raise DeployError(f"{host}: the upload arrived damaged (sha256 {remote_sha[:12]} != {bundle.sha256[:12]})")

    install_args = ["--prefix", '"$d"']
    if args.python:
        install_args += ["--python", shlex.quote(args.python)]
    if args.pip_args:
        install_args += ["--pip-args", shlex.quote(args.pip_args)]
    for flag, on in (("--with-bench", args.with_bench), ("--systemd", args.systemd),
                     ("--no-camera-check", args.no_camera_check)):
        if on:
            install_args.append(flag)
    # bundle names and versions are [A-Za-z0-9._+-] only (deploy.bundle makes them so): safe unquoted
    script = (
        f"set -e; d=$(cd {rdir} && pwd -P); stage=\"$d/incoming/{bundle.version}.$$\"; "
        f"trap 'rm -rf \"$stage\" \"$d/incoming/{name}\"' EXIT; "
        "rm -rf \"$stage\"; mkdir -p \"$stage\"; "
        f"tar -xzf \"$d/incoming/{name}\" -C \"$stage\"; "
        f"bash \"$stage/{bundle.top}/install.sh\" {' '.join(install_args)}"
    )
    print(f"[{host}] installing {bundle.version}", flush=True)
    rc, tail = target.stream(f"sh -c {shlex.quote(script)}", timeout=args.install_timeout, prefix=f"[{host}]   ")
    if rc == 255:
        raise DeployError(explain_ssh_failure(host, "\n".join(tail)))
    if rc != 0:
        if any("no space left on device" in line.lower() for line in tail):
            reason = INSTALL_EXIT_MESSAGES[4]
        else:
            reason = INSTALL_EXIT_MESSAGES.get(rc, "see the output above")
        raise DeployError(f"{host}: install failed (exit {rc}): {reason}; the previously active version is unchanged")
    return facts.get("dir", args.remote_dir)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.deploy",
        description="Copy the feredge device bundle to Raspberry Pis over SSH and install it there.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("hosts", nargs="*", metavar="USER@HOST", help="targets (spaces or commas between several)")
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist",
                        help="bundle tarball, or a folder whose newest feredge-device-*.tar.gz is used")
    parser.add_argument("--remote-dir", default="feredge", help="install folder on the target (relative: to home)")
    parser.add_argument("--ssh-opts", default=os.environ.get("SSH_OPTS", ""),
                        help="extra ssh options, e.g. '-p 2222 -i ~/.ssh/pi' (default: $SSH_OPTS)")
    parser.add_argument("--connect-timeout", type=whole(1), default=10, help="ssh ConnectTimeout, seconds")
    parser.add_argument("--upload-timeout", type=number_type(float, 1.0, "seconds, at least 1"),
                        default=600.0, help="seconds for the upload")
    parser.add_argument("--install-timeout", type=number_type(float, 1.0, "seconds, at least 1"),
                        default=3600.0, help="seconds for the remote install")
    parser.add_argument("--min-free-mb", type=whole(0), default=None,
                        help=f"free space needed on the target beyond the bundle, MB (default: {FIRST_INSTALL_MB} for "
                        f"a first install, {UPGRADE_MB} for an upgrade; install.sh checks again, exactly)")
    parser.add_argument("--python", default=None, help="Python on the target for the venv (default: /usr/bin/python3)")
    parser.add_argument("--pip-args", default=None, help="extra pip arguments for the remote install")
    parser.add_argument("--with-bench", action="store_true", help="also install requirements/bench.txt")
    parser.add_argument("--systemd", action="store_true", help="install and (re)start the feredge systemd service")
    parser.add_argument("--no-camera-check", action="store_true", help="install on a Pi without a camera")
    parser.add_argument("--interactive", action="store_true",
                        help="allow ssh password/passphrase prompts (default: BatchMode, fail instead of asking)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hosts = [h for item in args.hosts for h in item.replace(",", " ").split()]
    if not hosts:
        print("deploy: error: no target given: make deploy PI=user@host (several: PI=\"pi@a pi@b\")", file=sys.stderr)
        return 2
    try:
        ssh_opts = shlex.split(args.ssh_opts)
        check_ssh_options(ssh_opts)
        bundle = inspect_bundle(find_bundle(args.bundle))
    except (DeployError, ValueError) as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return 2
    print(f"deploy: {bundle.path} (version {bundle.version}) to {', '.join(hosts)}", flush=True)
    failed: list[str] = []
    done: list[tuple[str, str]] = []
    for host in hosts:
        try:
            done.append((host, deploy_host(host, bundle, args, ssh_opts)))
        except DeployError as exc:
            print(f"deploy: error: {exc}", file=sys.stderr, flush=True)
            failed.append(host)
        except KeyboardInterrupt:
            print(f"\ndeploy: interrupted during {host}; a half-done install there leaves the previous version active",
                  file=sys.stderr)
            return 130
    for host, rdir in done:
        ssh, ssh_t = shlex.join(["ssh", *ssh_opts, host]), shlex.join(["ssh", *ssh_opts, "-t", host])
        print(f"\n[{host}] feredge {bundle.version} is active in {rdir}/current. Start the demo:\n"
              f"  {ssh_t} {rdir}/current/feredge demo --headless   # one JSON line per frame, Ctrl-C stops\n"
              f"  {ssh} {rdir}/current/feredge bench   # on-device latency benchmark\n"
              f"  settings: {rdir}/config.env on the Pi (kept across deploys)", flush=True)
    if failed:
        print(f"\ndeploy: FAILED on {', '.join(failed)}" + (f"; ok on {', '.join(h for h, _ in done)}" if done else ""),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
