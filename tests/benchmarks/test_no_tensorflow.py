"""The benchmark runs on a device: no module imports TensorFlow, and a run with TensorFlow blocked uses the
float32 TFLite model as the reference. With TensorFlow, the Keras checkpoint is the reference."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks

BLOCK_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"


def benchmark_modules() -> list[str]:
    return ["benchmarks"] + [f"benchmarks.{m.name}" for m in pkgutil.iter_modules(benchmarks.__path__)]


def run_python(code: str, repo_root: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # the project is installed (make setup): no PYTHONPATH
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=repo_root, timeout=timeout)


@pytest.mark.parametrize("module", benchmark_modules())
def test_importing_does_not_load_tensorflow(module: str, repo_root: Path) -> None:
    code = f"import sys; import {module}; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    proc = run_python(code, repo_root)
    assert proc.returncode == 0, proc.stderr


def test_no_module_level_imports_the_bundle_refuses(repo_root: Path) -> None:
    """The device bundle ships benchmarks/ without train/, convert/ or TensorFlow (deploy/bundle.py checks)."""
    from deploy.bundle import FORBIDDEN_IMPORTS, module_level_imports

    offenders = []
    for path in sorted((repo_root / "benchmarks").glob("*.py")):
        for line, module in module_level_imports(path.read_text(encoding="utf-8"), path.name):
            if module in FORBIDDEN_IMPORTS:
                offenders.append(f"{path.name}:{line}: {module}")
    assert offenders == []


def _manifest_with_checkpoint(models: Path, checkpoint: Path) -> None:
    entries = [{"variant": "weighted", "format": f, "file": f"weighted_{f}.tflite", "checkpoint": str(checkpoint)}
               for f in ("float32", "int8")]
    (models / "manifest.json").write_text(json.dumps({"models": entries}))


def test_run_with_tensorflow_blocked_uses_the_float32_reference(
    fixtures_dir: Path, synthetic_data: Path, tmp_path: Path, repo_root: Path
) -> None:
    from bench_helpers import make_models_dir

    models = make_models_dir(tmp_path / "models", fixtures_dir, ("weighted",))
    checkpoint = tmp_path / "best.keras"
    checkpoint.write_bytes(b"not reached: TensorFlow cannot be imported")
    _manifest_with_checkpoint(models, checkpoint)
    out = tmp_path / "report"
    code = BLOCK_TF + (
        "from benchmarks.__main__ import main\n"
        "rc = main(sys.argv[1:])\n"
        "assert sys.modules.get('tensorflow') is None, 'tensorflow was imported'\n"
        "sys.exit(rc)"
    )
    proc = run_python(code, repo_root, "run", "--models", str(models), "--data", str(synthetic_data), "--quick",
                      "--out", str(out), "--parts", "accuracy", "--no-progress", timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    (ref,) = results["reference"]["used"]
    assert ref["kind"] == "float32" and ref["source"].endswith("weighted_float32.tflite")
    assert any("TensorFlow is not installed" in n for n in ref["notes"])
    rows = {r["format"]: r for r in results["accuracy"]["rows"]}
    assert rows["float32"]["is_reference"] and rows["float32"]["agreement"] == 1.0
    assert "keras" not in rows
    assert "Float reference: float32 TFLite model (weighted)" in (out / "report.md").read_text()

    proc = run_python(code, repo_root, "run", "--models", str(models), "--data", str(synthetic_data), "--quick",
                      "--out", str(tmp_path / "r2"), "--parts", "accuracy", "--reference", "keras", "--no-progress")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --reference keras"), proc.stderr


@pytest.mark.needs_tf
def test_keras_checkpoint_is_the_reference_when_tensorflow_is_there(
    fixtures_dir: Path, synthetic_data: Path, tmp_path: Path
) -> None:
    keras = pytest.importorskip("keras")
    from bench_helpers import make_models_dir

    from benchmarks.__main__ import main

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    checkpoint = tmp_path / "best.keras"
    model.save(checkpoint)
    models = make_models_dir(tmp_path / "models", fixtures_dir, ("weighted",))
    _manifest_with_checkpoint(models, checkpoint)
    out = tmp_path / "report"
    assert main(["run", "--models", str(models), "--data", str(synthetic_data), "--quick", "--out", str(out),
                 "--parts", "accuracy", "--no-plots", "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    (ref,) = results["reference"]["used"]
    assert ref["kind"] == "keras" and ref["source"] == str(checkpoint) and ref["versions"]["tensorflow"]
    rows = results["accuracy"]["rows"]
    assert rows[0]["format"] == "keras" and rows[0]["is_reference"] and rows[0]["agreement"] == 1.0
    assert [r["format"] for r in rows[1:]] == ["float32", "float16", "dynamic", "int8"]
    assert all(0.0 <= r["agreement"] <= 1.0 and r["accuracy_delta_pp"] is not None for r in rows[1:])
    assert "Float reference: Keras float model (weighted)" in (out / "report.md").read_text()


DEVICE_ONLY = (
    "import sys\n"
    "for name in ('tensorflow', 'keras', 'train', 'convert', 'sklearn', 'matplotlib'):\n"
    "    sys.modules[name] = None\n"
)


def test_device_only_environment_writes_the_same_report(
    bench_models: Path, synthetic_data: Path, tmp_path: Path, repo_root: Path, quick_run
) -> None:
    """As in a device bundle without bench extras: no TensorFlow, training code, scikit-learn or matplotlib."""
    out = tmp_path / "report"
    code = DEVICE_ONLY + "from benchmarks.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    proc = run_python(code, repo_root, "run", "--models", str(bench_models), "--data", str(synthetic_data),
                      "--quick", "--out", str(out), "--threads-max", "2", "--no-progress", timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert set(results) == set(quick_run.results)
    assert results["plots"] == {} and any("matplotlib is not installed" in n for n in results["plot_notes"])
    theirs = {(r["variant"], r["format"]): r for r in quick_run.results["accuracy"]["rows"]}
    for row in results["accuracy"]["rows"]:  # the CSV fallback reader and numpy metrics give the same numbers
        other = theirs[(row["variant"], row["format"])]
        assert row["n"] == other["n"] and row["accuracy"] == pytest.approx(other["accuracy"])
        assert row["macro_f1"] == pytest.approx(other["macro_f1"])
    report = (out / "report.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("#") and not line.startswith("# ")]
    assert headings == [line for line in quick_run.report.splitlines() if line.startswith("#")
                        and not line.startswith("# ")]
