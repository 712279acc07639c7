"""core/ is the floor: importable with numpy alone, and the packages above import only downwards."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import core


def test_core_imports_with_numpy_alone(repo_root):
    modules = [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert {"core.manifest", "core.dataset", "core.labels", "core.provenance"} <= set(modules)
    blocked = ("cv2", "tensorflow", "keras", "sklearn", "scipy", "matplotlib")
    code = ("import sys\n" + "".join(f"sys.modules[{b!r}] = None\n" for b in blocked)
            + "".join(f"import {m}\n" for m in modules))
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_layer_rule_holds(repo_root):
    """pyproject.toml's import-linter contract: benchmarks | deploy > convert > train > device > core."""
    exe = shutil.which("lint-imports") or str(repo_root / ".venv" / "bin" / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (requirements/dev.txt)")
    proc = subprocess.run([exe], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


def test_provenance_names_the_command_and_the_machine():
    from core.provenance import command_line, provenance

    made = provenance(command_line(["--data", "x.csv"], module="train"))
    assert made["command"] == "python -m train --data x.csv"
    assert {"created", "host", "platform", "python", "cpus"} <= set(made)
    assert made["created"].endswith("+00:00")
