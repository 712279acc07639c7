"""``python -m benchmarks run --quick``: the report's structure, and numbers present and positive.

No timing thresholds: this machine's speed says nothing about the code.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from bench_helpers import QuickRun

from benchmarks.__main__ import main
from benchmarks.host import default_out_dir, hostname, project_root
from benchmarks.models import PREFERRED_PIPELINE_VARIANT
from core.formats import FORMATS
from core.labels import EMOTIONS

SECTIONS = ("## Summary", "## Accuracy", "## Classifier latency", "## Whole pipeline", "### End-to-end accuracy",
            "## Plots", "## Formats", "## Host", "## Command")
RESULT_KEYS = {"schema", "created", "command", "quick", "host", "models_dir", "formats", "models", "missing_models",
               "reference", "accuracy", "latency", "pipeline", "benchmark_peak_rss_mib", "notes", "duration_s",
               "plots", "plot_notes"}
HOST_KEYS = {"cpu_model", "cores", "os", "python", "interpreter", "opencv", "numpy", "date", "command"}
STAGES = ("capture", "detect", "preprocess", "classify", "smooth", "draw")


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_exit_code_and_files(quick_run: QuickRun) -> None:
    assert quick_run.rc == 0
    files = {p.name for p in quick_run.out.iterdir()}
    assert {"report.md", "results.json", "accuracy_vs_latency.png", "per_class_recall.png", "pipeline_stages.png",
            "latency_threads.png"} <= files
    for name in quick_run.results["plots"].values():
        assert (quick_run.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in files if n.startswith(".")], "temporary files left behind"


def test_report_sections_in_order(quick_run: QuickRun) -> None:
    report = quick_run.report
    positions = [report.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), [s for s, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    summary = report[report.find("## Summary") : report.find("## Accuracy")]
    for phrase in ("Fastest format here", "Accuracy cost of int8", "frames per second", "Quick mode"):
        assert phrase in summary, phrase
    for file in quick_run.results["plots"].values():
        assert f"]({file})" in report
    assert quick_run.results["command"] in report and "python -m benchmarks run" in report


def test_results_keys_and_host_facts(quick_run: QuickRun) -> None:
    results = quick_run.results
    assert RESULT_KEYS <= set(results)
    assert HOST_KEYS <= set(results["host"])
    assert positive(results["host"]["cores"]) and results["host"]["interpreter"]["package"] != "none"
    assert results["quick"] is True and results["missing_models"] == []
    assert len(results["models"]) == 8 and all(positive(m["size_bytes"]) for m in results["models"])
    assert positive(results["benchmark_peak_rss_mib"]) and positive(results["duration_s"])
    assert json.dumps(results)  # serialisable round trip already happened; keep it so


def test_accuracy_rows(quick_run: QuickRun) -> None:
    acc = quick_run.results["accuracy"]
    assert acc["skipped"] is None and acc["split"] == "test" and acc["n"] == 42
    rows = acc["rows"]
    assert sorted((r["variant"], r["format"]) for r in rows) == sorted(
        (v, f.name) for v in ("unweighted", "weighted") for f in FORMATS)
    used = quick_run.results["reference"]["used"]
    assert [r["kind"] for r in used] == ["float32", "float32"]  # no manifest/checkpoint: the float32 TFLite model
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["macro_f1"] <= 1.0 and 0.0 <= r["agreement"] <= 1.0
        assert set(r["per_class"]) == set(EMOTIONS)
        assert positive(r["size_bytes"])
        assert r["is_reference"] == (r["format"] == "float32")
        assert 0.0 <= r["accuracy_mirrored"] <= 1.0
        assert 0.0 <= r["near_tie_share"] <= 1.0 and (r["agreement_clear"] is None or 0 <= r["agreement_clear"] <= 1)
        if r["is_reference"]:
            assert r["agreement"] == 1.0 and r["agreement_clear"] in (1.0, None)
        assert r["mirror_gain_pp"] == pytest.approx(100 * (r["accuracy_mirrored"] - r["accuracy"]))
    assert any(positive(r["accuracy"]) for r in rows)
    assert "| agreement | clear agreement | near ties % | max Δp | mirrored | mirror gain pp |" in quick_run.report


def test_latency_rows(quick_run: QuickRun) -> None:
    lat = quick_run.results["latency"]
    assert lat["threads"] == list(range(1, len(lat["threads"]) + 1)) and len(lat["threads"]) <= 2
    assert len(lat["rows"]) == 8 * len(lat["threads"])
    for r in lat["rows"]:
        assert positive(r["median_us"]) and positive(r["p95_us"]) and r["p95_us"] >= r["median_us"]
        assert r["runs"] >= lat["settings"]["min_runs"] and positive(r["speedup_vs_float32"])
        if r["format"] == "float32":
            assert r["speedup_vs_float32"] == pytest.approx(1.0)


def test_pipeline_rows(quick_run: QuickRun) -> None:
    pipe = quick_run.results["pipeline"]
    assert pipe["skipped"] is None and pipe["clip_command"].startswith("python -m benchmarks clip")
    v = PREFERRED_PIPELINE_VARIANT  # the demo's default variant
    assert [(r["variant"], r["format"]) for r in pipe["rows"]] == [(v, "int8"), (v, "float32")]
    for r in pipe["rows"]:
        assert "error" not in r, r.get("error")
        assert r["frames"] > 0 and positive(r["fps"]) and positive(r["peak_rss_mib"])
        assert set(r["stages_ms"]) == set(STAGES)
        assert all(positive(r["stages_ms"][s]["median"]) for s in ("capture", "detect", "preprocess"))
        assert all(r["stages_ms"][s]["p95"] >= r["stages_ms"][s]["median"] >= 0 for s in STAGES)
        assert all(positive(v) for v in r["startup_ms"].values())
        e2e = r["end_to_end"]
        assert e2e["frames"] == r["frames"] and e2e["gt_faces"] > 0  # synthetic faces: Haar finds none, fine


def test_no_data_skips_accuracy_and_finds_the_astronaut(
    bench_models: Path, astronaut_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r"
    rc = main(["run", "--models", str(bench_models), "--clip", str(astronaut_clip), "--quick", "--out", str(out),
               "--variants", "weighted", "--formats", "int8", "--threads-max", "1", "--no-progress"])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    assert results["accuracy"]["skipped"] and "Accuracy: skipped (no data given" in report
    assert "per_class_recall" not in results["plots"] and "accuracy_vs_latency" not in results["plots"]
    (row,) = results["pipeline"]["rows"]
    e2e = row["end_to_end"]
    assert e2e["gt_faces"] == 6 and e2e["found"] >= 5 and e2e["detection_recall"] > 0.8
    assert e2e["tracks"] >= 1 and e2e["tracks_spanning_faces"] == 0
    assert e2e["label_accuracy_found"] is not None and 0.0 <= e2e["label_accuracy_found"] <= 1.0
    assert 1 <= e2e["faces_found"] <= 6 and "| 95% interval | placed faces found |" in report
    assert results["latency"]["threads"] == [1] and len(results["latency"]["rows"]) == 1


def test_clip_without_ground_truth_and_parts(bench_models: Path, tmp_path: Path, astronaut_clip: Path) -> None:
    bare = tmp_path / "bare.avi"
    bare.write_bytes(astronaut_clip.read_bytes())
    out = tmp_path / "r"
    rc = main(["run", "--models", str(bench_models), "--clip", str(bare), "--quick", "--out", str(out),
               "--variants", "weighted", "--parts", "pipeline", "--pipeline-formats", "float32", "--no-plots",
               "--no-progress"])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert results["latency"]["skipped"].startswith("not asked for") and results["latency"]["rows"] == []
    (row,) = results["pipeline"]["rows"]
    assert row["end_to_end"] is None and row["frames"] == 6
    assert "No ground truth" in (out / "report.md").read_text() and results["plots"] == {}


def test_missing_models_are_listed(fixtures_dir: Path, tmp_path: Path) -> None:
    from bench_helpers import make_models_dir

    models = make_models_dir(tmp_path / "m", fixtures_dir, ("weighted",))
    (models / "weighted_float16.tflite").unlink()
    out = tmp_path / "r"
    assert main(["run", "--models", str(models), "--quick", "--out", str(out), "--parts", "latency",
                 "--threads-max", "1", "--no-plots", "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["missing_models"] == ["weighted/float16"]
    assert "Missing models (not measured): weighted/float16" in (out / "report.md").read_text()


def test_default_out_dir_is_under_the_repo_not_the_cwd(repo_root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = default_out_dir(dt.datetime(2026, 1, 2, 3, 4))
    assert project_root() == repo_root
    assert out.parent == repo_root / "benchmarks" / "results"
    assert out.name == f"{hostname()}-20260102-0304"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "{tmp}/nope"], "models folder"),
        (["--models", "{tmp}"], "no models found"),
        (["--models", "{models}", "--clip", "{tmp}/missing.mp4"], "clip"),
        (["--models", "{models}", "--data", "{tmp}/missing.csv"], "data"),
        (["--models", "{models}", "--data", "{tmp}/bad.csv"], "data"),
        (["--models", "{models}", "--clip", "{tmp}/bad.csv"], "clip"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], message: str, bench_models: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n0,1 2 3,PrivateTest\n")
    argv = ["run", *[a.format(tmp=tmp_path, models=bench_models) for a in args], "--quick", "--no-progress",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--models", "{models}", "--quick", "--no-progress", "--out", "{blocked}"],
        ["clip", "--data", "{data}", "--out", "{blocked}", "--no-progress"],
        ["calibrate", "--data", "{data}", "--out", "{blocked}/framing.json", "--no-progress"],
        ["tradeoff", "--models", "{models}", "--data", "{data}", "--out", "{blocked}"],
        ["compare", "--candidate", "{tmp}", "--models", "{models}", "--data", "{data}", "--out", "{blocked}"],
        ["smoothing", "--data", "{data}", "--model", "{model}", "--out", "{blocked}", "--no-progress"],
    ],
    ids=lambda a: a[0],
)
def test_an_output_folder_that_cannot_be_written_is_refused_first(args: list[str], bench_models: Path,
                                                                   synthetic_data: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """Every command checks its --out before it loads data or measures anything: a file in the way is one line,
    exit 2, naming the flag."""
    (tmp_path / "a-file").write_text("in the way")
    model = next(bench_models.glob("*.tflite"))
    argv = [a.format(models=bench_models, data=synthetic_data, blocked=tmp_path / "a-file" / "out", tmp=tmp_path,
                     model=model) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "a-file" in err and "Traceback" not in err, err


def test_calibrate_refuses_a_framing_file_it_cannot_add_to_before_detecting(synthetic_data: Path, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "framing.json"
    broken.write_text("{not json")
    assert main(["calibrate", "--data", str(synthetic_data), "--out", str(broken), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "framing.json" in err and "Traceback" not in err, err
    assert broken.read_text() == "{not json"
    assert main(["calibrate", "--data", str(synthetic_data), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "expected a framing.json file" in capsys.readouterr().err


def test_calibrate_keypoints_without_scikit_learn_says_so_before_detecting(synthetic_data: Path, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    out = tmp_path / "framing.json"
    args = ["calibrate", "--data", str(synthetic_data), "--detectors", "haar", "--out", str(out), "--no-progress"]
    assert main([*args, "--keypoints"]) == 2
    err = capsys.readouterr().err
    assert "--keypoints" in err and "scikit-learn" in err and "Traceback" not in err and not out.exists(), err
