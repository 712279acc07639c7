"""Training on a lent GPU machine (train.gpu): the run folders travel back intact and smaller, a damaged or missing
chunk is named before anything is written, the calls fit the transfer limit, and the trainer runs on JAX with no
TensorFlow importable (as on that machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_images

from train import gpu
from train.gpu import GpuJobError, collect, plan_calls, unpack


def _run_folder(runs: Path, name: str = "tiny-1ep/unweighted-seed0", finished: bool = True) -> Path:
    """A run folder with a trained (compiled, optimiser state and all) checkpoint and a Keras backup folder."""
    import keras

    from train.models import build_model
    from train.recipes import TINY

    folder = runs / name
    folder.mkdir(parents=True)
    model = build_model(TINY)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    x, y = synthetic_images(2, 0)
    model.fit(x.reshape(-1, 48, 48, 1).astype("float32"), y, epochs=1, verbose=0)
    model.save(folder / "best.keras")
    (folder / "config.json").write_text(json.dumps({"recipe": TINY.to_dict()}))
    (folder / "log.csv").write_text("epoch,accuracy\n0,0.5\n")
    (folder / "backup").mkdir()
    (folder / "backup" / "state.bin").write_bytes(b"x" * 1000)
    if finished:
        (folder / "metrics.json").write_text(json.dumps({"completed_epochs": 1}))
    return folder


def test_runs_come_back_intact_without_optimiser_state_or_backup(tmp_path: Path) -> None:
    from train.models import load_float32

    original = _run_folder(tmp_path / "remote")
    record = collect(tmp_path / "remote", tmp_path / "out")
    assert record["runs"] == ["tiny-1ep/unweighted-seed0"]
    assert unpack(tmp_path / "out", tmp_path / "here") == ["tiny-1ep/unweighted-seed0"]
    back = tmp_path / "here" / "tiny-1ep" / "unweighted-seed0"
    assert (back / "log.csv").read_text() == (original / "log.csv").read_text()
    assert not (back / "backup").exists()
    assert (back / "best.keras").stat().st_size < (original / "best.keras").stat().st_size
    x = synthetic_images(1, 5)[0].reshape(-1, 48, 48, 1).astype("float32")
    np.testing.assert_allclose(load_float32(back / "best.keras").predict(x, verbose=0),
                               load_float32(original / "best.keras").predict(x, verbose=0), atol=1e-6)


def test_a_partial_run_keeps_its_backup_to_resume_from(tmp_path: Path) -> None:
    _run_folder(tmp_path / "remote", finished=False)
    collect(tmp_path / "remote", tmp_path / "out")
    unpack(tmp_path / "out", tmp_path / "here")
    assert (tmp_path / "here" / "tiny-1ep" / "unweighted-seed0" / "backup" / "state.bin").stat().st_size == 1000


def test_best_only_brings_a_partial_run_back_lean_without_its_backup(tmp_path: Path) -> None:
    """A large teacher stopped by the job's limit: its backup and optimiser slots would not fit what comes back."""
    original = _run_folder(tmp_path / "remote", finished=False)
    collect(tmp_path / "remote", tmp_path / "out", resumable=False)
    unpack(tmp_path / "out", tmp_path / "here")
    back = tmp_path / "here" / "tiny-1ep" / "unweighted-seed0"
    assert not (back / "backup").exists() and not (back / "metrics.json").exists()
    assert (back / "best.keras").stat().st_size < (original / "best.keras").stat().st_size


def test_a_damaged_or_missing_chunk_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    _run_folder(tmp_path / "remote")
    collect(tmp_path / "remote", tmp_path / "out", chunk_mib=0.01)
    chunks = sorted((tmp_path / "out").glob("runs.tar.*"))
    assert len(chunks) >= 2
    chunks[1].write_bytes(chunks[1].read_bytes()[::-1])
    with pytest.raises(GpuJobError, match=rf"{chunks[1].name}: sha256 differs"):
        unpack(tmp_path / "out", tmp_path / "here")
    chunks[0].unlink()
    with pytest.raises(GpuJobError, match=rf"{chunks[0].name}: missing"):
        unpack(tmp_path / "out", tmp_path / "here")
    assert not (tmp_path / "here").exists()


def test_an_existing_run_is_replaced_only_when_asked(tmp_path: Path) -> None:
    _run_folder(tmp_path / "remote")
    collect(tmp_path / "remote", tmp_path / "out")
    unpack(tmp_path / "out", tmp_path / "here")
    (tmp_path / "here" / "tiny-1ep" / "unweighted-seed0" / "mine.txt").write_text("local")
    with pytest.raises(GpuJobError, match="already exist"):
        unpack(tmp_path / "out", tmp_path / "here")
    unpack(tmp_path / "out", tmp_path / "here", replace=True)
    assert not (tmp_path / "here" / "tiny-1ep" / "unweighted-seed0" / "mine.txt").exists()


def test_more_than_comes_back_in_one_call_is_refused_before_writing(tmp_path: Path, monkeypatch) -> None:
    _run_folder(tmp_path / "remote")
    monkeypatch.setattr(gpu, "RETURN_FILES", 2)
    with pytest.raises(GpuJobError, match="train fewer runs a call"):
        collect(tmp_path / "remote", tmp_path / "out", chunk_mib=0.01)
    assert not (tmp_path / "out").exists()


def test_each_call_must_fit_the_transfer_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    parts = []
    for i, size in enumerate((30, 30)):
        parts.append(data / f"part-{i + 1}-of-2.npz")
        parts[-1].write_bytes(b"0" * size * 2**20)
    (data / "packed.json").write_text("{}")
    calls = plan_calls(parts, [], tree=10 * 2**20, root=tmp_path)
    assert calls == [["data/part-1-of-2.npz"], ["data/part-2-of-2.npz", "data/packed.json"]]
    with pytest.raises(GpuJobError, match="call 1 would send 70.0 MiB"):
        plan_calls(parts, [], tree=40 * 2**20, root=tmp_path)


def test_cli_errors_are_exit_2_with_the_folder_named(tmp_path: Path, capsys) -> None:
    assert gpu.main(["unpack", "--from", str(tmp_path / "nothing"), "--runs", str(tmp_path / "runs")]) == 2
    assert "nothing/runs.json: not readable" in capsys.readouterr().err
    assert gpu.main(["collect", "--runs", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no run folders" in capsys.readouterr().err


NO_TENSORFLOW = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (as on the GPU machine)")
sys.meta_path.insert(0, Block())
from train.__main__ import main
rc = main(sys.argv[1:])
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
raise SystemExit(rc)
"""


def test_training_runs_on_jax_without_tensorflow_and_comes_back(tmp_path: Path, repo_root: Path) -> None:
    pytest.importorskip("jax", reason="jax is in requirements/dev.txt: the GPU machine's backend")
    from core.packed import write_packed
    from train.models import load_float32

    (xt, yt), (xv, yv) = synthetic_images(12, 0), synthetic_images(4, 1)
    write_packed({"train": (xt.reshape(-1, 48, 48, 1), yt), "val": (xv.reshape(-1, 48, 48, 1), yv)},
                 tmp_path / "data", 2, source="synthetic")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(repo_root)}
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, "--data", str(tmp_path / "data"), "--recipe", "tiny",
                           "--variants", "unweighted", "--epochs", "2", "--runs", str(tmp_path / "remote"),
                           "--no-report"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "remote" / "tiny-2ep" / "unweighted-seed0"
    config = json.loads((run / "config.json").read_text())
    assert config["backend"] == "jax" and "jax" in config
    assert json.loads((run / "metrics.json").read_text())["completed_epochs"] == 2
    collect(tmp_path / "remote", tmp_path / "out")
    unpack(tmp_path / "out", tmp_path / "here")
    model = load_float32(tmp_path / "here" / "tiny-2ep" / "unweighted-seed0" / "best.keras")  # on TensorFlow
    assert model.predict(xv[:3].reshape(-1, 48, 48, 1).astype("float32"), verbose=0).shape == (3, 7)


def _run_job(tmp_path: Path, repo_root: Path, args: list[str], **env_extra: str) -> tuple[Path, str]:
    """train/gpu_job.sh as the last call runs it (here with this Python, without wheels to install, on synthetic
    packed data): the folder that would come back and what it printed."""
    pytest.importorskip("jax", reason="jax is in requirements/dev.txt: the GPU machine's backend")
    from core.packed import write_packed

    (xt, yt), (xv, yv) = synthetic_images(8, 0), synthetic_images(3, 1)
    write_packed({"train": (xt.reshape(-1, 48, 48, 1), yt), "val": (xv.reshape(-1, 48, 48, 1), yv)},
                 tmp_path / "carried" / "data", 2, source="synthetic")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GPU_DIR": str(tmp_path / "carried"),
           "RUNS": str(tmp_path / "runs"), "JAX_PLATFORMS": "cpu", **env_extra}
    done = subprocess.run(["bash", "train/gpu_job.sh", "300", "train", *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    return out, done.stdout


def test_the_job_script_trains_under_its_limit_and_collects(tmp_path: Path, repo_root: Path) -> None:
    out, printed = _run_job(tmp_path, repo_root, ["--recipe", "tiny", "--epochs", "1", "--variants", "unweighted",
                                                  "--no-report"])
    assert "train: exit 0" in printed
    assert "[unweighted] val: accuracy" in (out / "train.log").read_text()
    assert unpack(out, tmp_path / "here") == ["tiny-1ep/unweighted-seed0"]


def test_the_job_script_trains_argument_groups_side_by_side_each_in_steps(tmp_path: Path, repo_root: Path) -> None:
    """Groups separated by ':::' train as processes of their own, each logged; steps separated by '::' run in turn
    within a group; COLLECT_ARGS reach the collection."""
    common = ["--recipe", "tiny", "--epochs", "1", "--variants", "unweighted", "--no-report"]
    out, printed = _run_job(tmp_path, repo_root, [*common, "::", *common, "--seed", "2", ":::", *common, "--seed", "1"],
                            COLLECT_ARGS="--best-only")
    assert "train 1 (" in printed and "train 2 (" in printed and "exit 0" in printed
    first = (out / "train-1.log").read_text()
    assert first.index("seed 0") < first.index("seed 2")
    assert "seed 1" in (out / "train-2.log").read_text()
    assert sorted(unpack(out, tmp_path / "here")) == [f"tiny-1ep/unweighted-seed{s}" for s in range(3)]


def test_the_job_script_names_its_usage_on_a_wrong_module(repo_root: Path, tmp_path: Path) -> None:
    done = subprocess.run(["bash", "train/gpu_job.sh", "10", "convert"], cwd=repo_root, capture_output=True,
                          text=True, env={**os.environ, "OUT": str(tmp_path)})
    assert done.returncode == 2 and "train|train.study" in done.stderr


def test_the_smoke_check_times_a_recipe_and_names_an_unknown_one(capsys) -> None:
    assert gpu.main(["smoke", "--recipes", "tiny", "--steps", "1"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["recipe"] == "tiny" and row["batch"] == 32
    assert row["augment_ms"] > 0 and row["step_ms"] > 0
    assert row["epoch_s"] == pytest.approx(-(-28_709 // 32) * max(row["augment_ms"], row["step_ms"]) / 1e3, rel=0.01)
    for argv, named in ((["--recipes", "no-such-recipe"], "no-such-recipe"),
                        (["--recipes", "tiny", "--steps", "0"], "'0'")):
        with pytest.raises(SystemExit) as stop:
            gpu.main(["smoke", *argv])
        assert stop.value.code == 2 and named in capsys.readouterr().err


def _git_repo(root: Path, files: dict[str, int]) -> None:
    root.mkdir()
    for cmd in (["init", "-q"], ["config", "user.email", "t@t"], ["config", "user.name", "t"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True)
    for name, size in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(bytes(range(256)) * (size // 256))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "files"], check=True)


def test_lean_takes_out_large_tracked_files_but_kept_ones_and_restore_brings_them_back(tmp_path: Path) -> None:
    from train.gpu import lean, restore, tracked_bytes

    root = tmp_path / "repo"
    _git_repo(root, {"reports/a.keras": 4096, "models/teachers/t/x.tflite": 4096, "train/code.py": 256,
                     "models/shipped.tflite": 2048})
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    removed = lean(root, tmp_path / "pack", keep=["models/teachers/t"], min_bytes=1024)
    assert sorted(removed) == ["models/shipped.tflite", "reports/a.keras"]
    assert not (root / "reports/a.keras").exists() and (root / "models/teachers/t/x.tflite").exists()
    assert tracked_bytes(root) == 4096 + 256
    with pytest.raises(GpuJobError, match="restore first"):
        lean(root, tmp_path / "pack", keep=[])
    assert sorted(restore(root, tmp_path / "pack")) == sorted(removed)
    assert {p: p.read_bytes() for p in before} == before
    assert restore(root, tmp_path / "pack") == []


def test_lean_never_takes_a_file_with_uncommitted_changes(tmp_path: Path) -> None:
    from train.gpu import lean

    root = tmp_path / "repo"
    _git_repo(root, {"reports/a.keras": 4096, "reports/b.keras": 4096})
    (root / "reports/b.keras").write_bytes(b"changed" * 1000)
    with pytest.raises(GpuJobError, match="uncommitted changes: reports/b.keras"):
        lean(root, tmp_path / "pack", keep=[], min_bytes=1024)
    assert (root / "reports/a.keras").exists() and not (tmp_path / "pack" / "lean.json").exists()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([], "not a JSON object"),
        ({"chunks": [], "runs": ["a-1ep/unweighted-seed0"]}, "no 'chunks' list or 'sha256' string"),
        ({"chunks": [], "sha256": "0" * 64, "runs": "a-1ep"}, "no 'runs' list of run names"),
        ({"chunks": [], "sha256": "0" * 64, "runs": ["../../etc"]}, "outside the runs root: ../../etc"),
    ],
    ids=["list", "no-sha", "runs-not-list", "escaping"],
)
def test_a_foreign_or_truncated_runs_json_is_refused_naming_it(tmp_path: Path, capsys, record, message) -> None:
    source = tmp_path / "out"
    source.mkdir()
    (source / "runs.json").write_text(json.dumps(record))
    assert gpu.main(["unpack", "--from", str(source), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "out/runs.json: " in err and message in err, err
    assert not (tmp_path / "runs").exists()


def test_collect_refuses_a_chunk_size_it_cannot_use(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gpu.main(["collect", "--runs", str(tmp_path), "--out", str(tmp_path / "o"), "--chunk-mib", "0"])
    assert exit_info.value.code == 2
    assert "--chunk-mib" in capsys.readouterr().err
