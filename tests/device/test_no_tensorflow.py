"""The device runtime needs no TensorFlow: nothing in device/ imports it (except the interpreter's last resort)."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import device

FORBIDDEN = ("tensorflow", "keras", "tf_keras")
FALLBACK_MODULE = "interpreter.py"  # documented: tensorflow.lite only when no LiteRT/tflite_runtime is installed


def device_modules() -> list[str]:
    return ["device"] + [f"device.{m.name}" for m in pkgutil.iter_modules(device.__path__)]


def run_python(code: str, repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # the project is installed (make setup): no PYTHONPATH
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=repo_root, timeout=60
    )


def test_importing_every_module_does_not_load_tensorflow(repo_root: Path) -> None:
    modules = device_modules()
    assert {"device.classifier", "device.demo", "device.__main__", "device.sources"} <= set(modules)
    code = f"import sys; import {', '.join(modules)}; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    proc = run_python(code, repo_root)
    assert proc.returncode == 0, proc.stderr


def test_demo_runs_with_tensorflow_blocked(repo_root: Path, float_model: Path, astronaut_video: Path) -> None:
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from device.__main__ import main\n"
        "rc = main(sys.argv[1:]); assert 'tensorflow' not in sys.modules or sys.modules['tensorflow'] is None\n"
        "sys.exit(rc)"
    )
    proc = run_python(
        code,
        repo_root,
        "--source",
        str(astronaut_video),
        "--model",
        str(float_model),
        "--headless",
        "--max-frames",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_tensorflow_imports_in_device_sources(repo_root: Path) -> None:
    offenders = []
    for path in sorted((repo_root / "device").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _imports(tree):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.name}: import {name}")
        if path.name != FALLBACK_MODULE:
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(FORBIDDEN):
                    offenders.append(f"{path.name}: string {node.value!r} (dynamic import?)")
    assert offenders == []
