"""A candidate models folder against the shipped one (``python -m benchmarks compare``): the rule, the targets, the
paired figures on fixture models, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import fixture_model, make_models_dir

from benchmarks.__main__ import main
from benchmarks.accuracy import JITTERS, tflite_predict
from benchmarks.compare import (
    CAMERA_RULE,
    CONVERSION_RULE,
    RULE,
    WEIGHTED_RULE,
    ShipRule,
    TimedDetector,
    check_targets,
    classifier_cost,
    compare,
    decide,
    paired_gain,
    projected_size,
    render,
    rule_for,
)
from benchmarks.data import load_eval_faces
from benchmarks.errors import BenchError
from benchmarks.latency import LatencySettings
from benchmarks.models import find_models
from benchmarks.stats import paired_interval_pp
from core.formats import model_path


def _result(gain: float, jitter_deltas: dict[str, list[float]] | None = None, acc: float = 0.7) -> dict:
    """A compare result with the unweighted gain and per-variant jitter deltas (pp) given."""
    deltas = jitter_deltas or {"unweighted": [0.0], "weighted": [0.0]}
    variants = {}
    for variant, ds in deltas.items():
        rows = [{"jitter": f"j{i}", "shipped": 0.6, "candidate": 0.6 + d / 100, "delta_pp": d}
                for i, d in enumerate(ds)]
        variants[variant] = {"gain_pp": gain if variant == "unweighted" else 0.0, "jitter": rows,
                             "candidate": {"accuracy": acc if variant == "unweighted" else acc - 0.01},
                             "quantisation": {"abs_delta_pp": 0.1, "agreement_pct": 99.6}}
    return {"variants": variants}


def test_the_rule_ships_a_gain_of_half_a_point_and_not_less() -> None:
    assert RULE == ShipRule("unweighted", 0.5, 0.0)
    assert decide(_result(0.5))["ship"] is True
    assert decide(_result(1.3))["ship"] is True
    kept = decide(_result(0.49))
    assert kept["ship"] is False and "+0.49 pp: less than the 0.5 pp needed" in kept["reasons"][0]


def test_one_worse_jitter_row_of_any_variant_keeps_the_shipped_models() -> None:
    kept = decide(_result(2.0, {"unweighted": [0.3, 0.0], "weighted": [0.1, -0.05]}))
    assert kept["ship"] is False
    assert any(r.startswith("weighted / j1:") and "-0.05 pp" in r for r in kept["reasons"])
    assert decide(_result(2.0, {"unweighted": [0.3], "weighted": [-0.05]}), ShipRule(jitter_tolerance_pp=0.1))["ship"]


def test_no_headline_variant_in_both_folders_is_no_decision_to_ship() -> None:
    decision = decide(_result(3.0, {"weighted": [1.0]}))
    assert decision["ship"] is False and "no unweighted model" in decision["reasons"][0]


def _weighted_only(gain: float, balanced_delta_pp: float, jitter: float = 0.0) -> dict:
    """A compare result of a new weighted model beside the shipped unweighted one (identical: no difference)."""
    result = _result(0.0, {"unweighted": [0.0], "weighted": [jitter]})
    weighted = result["variants"]["weighted"]
    weighted["gain_pp"] = gain
    weighted["shipped"] = {"accuracy": 0.68, "balanced_accuracy": 0.675}
    weighted["candidate"] = {"accuracy": 0.68 + gain / 100, "balanced_accuracy": 0.675 + balanced_delta_pp / 100}
    return result


def test_a_new_weighted_model_alone_is_judged_on_the_weighted_variant_and_its_balance() -> None:
    assert WEIGHTED_RULE == ShipRule("weighted", 0.5, 0.0, min_balanced_delta_pp=0.0)
    ok = decide(_weighted_only(0.6, 0.0), WEIGHTED_RULE)
    assert ok["ship"] is True, ok["reasons"]
    assert "weighted gains +0.60 pp (at least 0.5 needed)" in ok["reasons"]
    assert "weighted: balanced accuracy 67.50% against the shipped 67.50% (+0.00 pp)" in ok["reasons"]
    assert decide(_weighted_only(0.6, 0.0), RULE)["ship"] is False, "the student rule asks the unweighted gain"
    less_balanced = decide(_weighted_only(0.9, -0.05), WEIGHTED_RULE)
    assert less_balanced["ship"] is False
    assert "weighted: balanced accuracy 67.45% against the shipped 67.50% (-0.05 pp): less balanced than the " \
        "shipped weighted model" in less_balanced["reasons"]
    assert decide(_weighted_only(0.49, 1.0), WEIGHTED_RULE)["ship"] is False
    assert decide(_weighted_only(0.9, 1.0, jitter=-0.05), WEIGHTED_RULE)["ship"] is False
    assert "balanced accuracy no lower than the shipped model's" in WEIGHTED_RULE.describe()
    assert "balanced" not in RULE.describe()


def _camera(gain: float, crop_gain: float, shortfall: float, jitter: float = 0.0, crops: bool = True) -> dict:
    """A compare result of a new unweighted model: its PublicTest gain, its calibrated-crop gain over the shipped
    model and its own crop shortfall (pp); the weighted variant the shipped one."""
    result = _result(gain, {"unweighted": [jitter], "weighted": [0.0]})
    if crops:
        shipped, candidate = 0.70, 0.70 + crop_gain / 100
        result["variants"]["unweighted"]["crops"] = {
            "shipped": {"acc_calibrated": shipped, "calibrated_minus_dataset_pp": -1.3},
            "candidate": {"acc_calibrated": candidate, "calibrated_minus_dataset_pp": -shortfall}}
    return result


def test_a_model_for_the_camera_ships_on_the_crops_without_losing_publictest() -> None:
    assert CAMERA_RULE == ShipRule(min_gain_pp=0.0, min_crop_gain_pp=0.5, max_shortfall_pp=1.0)
    ok = decide(_camera(0.0, 0.5, 1.0), CAMERA_RULE)
    assert ok["ship"] is True, ok["reasons"]
    assert "unweighted: +0.50 pp on the calibrated crops (at least 0.5 pp needed)" in ok["reasons"]
    assert "unweighted: its calibrated crops 1.00 pp below its dataset crops of the same faces: within the 1 pp " \
        "allowed" in ok["reasons"]
    assert decide(_camera(0.0, 0.5, 1.0), RULE)["ship"] is False, "the student rule asks a PublicTest gain"
    assert decide(_camera(-0.01, 2.0, 0.0), CAMERA_RULE)["ship"] is False, "PublicTest lower"
    small = decide(_camera(0.3, 0.49, 0.5), CAMERA_RULE)
    assert small["ship"] is False
    assert "unweighted: +0.49 pp on the calibrated crops: less than the 0.5 pp a model for the camera needs" \
        in small["reasons"]
    short = decide(_camera(0.3, 0.8, 1.01), CAMERA_RULE)
    assert short["ship"] is False
    assert "unweighted: its calibrated crops 1.01 pp below its dataset crops of the same faces: not within the 1 " \
        "pp allowed" in short["reasons"]
    assert decide(_camera(0.3, 0.8, 0.5, jitter=-0.05), CAMERA_RULE)["ship"] is False, "a jitter row worse"
    blind = decide(_camera(0.3, 0.8, 0.5, crops=False), CAMERA_RULE)
    assert blind["ship"] is False and any("the camera rule cannot judge" in r for r in blind["reasons"])
    assert "at least 0.5 pp more on the detector's calibrated crops and within 1 pp of its dataset crops there" \
        in CAMERA_RULE.describe()
    assert "calibrated crops and within" not in RULE.describe()


def test_the_camera_rule_is_asked_for_by_name_and_never_picked() -> None:
    for same in ({"unweighted": False}, {"unweighted": True, "weighted": True}, {"weighted": False}):
        assert rule_for(same, "camera") == ("camera", CAMERA_RULE)
        assert rule_for(same)[0] != "camera"
    for name in ("studnet", "student"):  # the other rules are picked from the float32 models, never asked for
        with pytest.raises(BenchError, match=f"rule '{name}': expected one of auto, camera"):
            rule_for({"unweighted": False}, name)


@pytest.mark.parametrize(("same", "expected"), [
    ({"unweighted": True, "weighted": True}, "conversion"),
    ({"weighted": True}, "conversion"),
    ({"unweighted": False, "weighted": True}, "student"),
    ({"unweighted": False, "weighted": False}, "student"),
    ({"unweighted": False}, "student"),
    ({"unweighted": True, "weighted": False}, "weighted student"),
    ({"weighted": False}, "weighted student"),
])
def test_the_rule_follows_which_float_models_are_new(same: dict[str, bool], expected: str) -> None:
    name, rule = rule_for(same)
    assert name == expected
    assert rule is {"conversion": CONVERSION_RULE, "student": RULE, "weighted student": WEIGHTED_RULE}[expected]


def test_targets_are_checked_at_their_thresholds() -> None:
    rows = {r["target"]: r for r in check_targets(_result(1.0, acc=0.70))}
    assert rows["unweighted accuracy %"]["met"] is True
    assert rows["weighted behind unweighted, pp"]["value"] == pytest.approx(1.0)
    assert rows["largest accuracy gap quantised to float32, pp"]["met"] is True
    assert rows["lowest top-1 agreement with float32, %"]["met"] is True
    below = {r["target"]: r for r in check_targets(_result(1.0, acc=0.6999))}
    assert below["unweighted accuracy %"]["met"] is False
    missing = check_targets({"variants": {}})
    assert all(r["met"] is None and r["value"] is None for r in missing)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> tuple[Path, Path, Path]:
    """(shipped, identical candidate, other candidate): the other one's unweighted int8 slot holds the float32
    fixture, so its scores differ from the shipped int8 fixture's."""
    root = tmp_path_factory.mktemp("compare")
    shipped = make_models_dir(root / "shipped", fixtures_dir)
    same = make_models_dir(root / "same", fixtures_dir)
    other = make_models_dir(root / "other", fixtures_dir)
    shutil.copyfile(fixture_model(fixtures_dir, "tiny_float32"), model_path(other, "unweighted", "int8"))
    return shipped, same, other


def test_the_gain_is_the_candidates_accuracy_minus_the_shipped_ones() -> None:
    y = np.array([0, 1, 2, 3])
    shipped = np.eye(7)[[0, 0, 0, 0]]  # right on the first face only
    candidate = np.eye(7)[[0, 1, 2, 0]]  # right on three
    g = paired_gain(y, shipped, candidate)
    assert g["gain_pp"] == pytest.approx(50.0)
    assert (g["only_candidate_right"], g["only_shipped_right"]) == (2, 0)
    assert g["gain_ci_pp"] == pytest.approx(paired_interval_pp([1, 1, 1, 0], [1, 0, 0, 0]))
    assert paired_gain(y, candidate, shipped)["gain_pp"] == pytest.approx(-50.0)


def test_identical_folders_differ_by_nothing(folders, synthetic_data: Path) -> None:
    shipped, same, _ = folders
    faces = load_eval_faces(synthetic_data)
    result = compare(find_models(shipped, formats=["int8", "float32"]), find_models(same, formats=["int8", "float32"]),
                     faces.x, faces.y, detector=None, progress=False, cost_rounds=0)
    assert set(result["variants"]) == {"unweighted", "weighted"}
    for v in result["variants"].values():
        assert v["gain_pp"] == 0.0 and v["gain_ci_pp"] == [0.0, 0.0]
        assert [r["jitter"] for r in v["jitter"]] == [name for name, *_ in JITTERS]
        assert all(r["delta_pp"] == 0.0 for r in v["jitter"])
        assert v["quantisation"] is not None and "crops" not in v
        q = v["quantisation"]
        assert 0.0 <= q["near_tie_pct"] <= 100.0 and q["agreement_pct"] <= 100.0
        assert q["agreement_pct"] == 100.0 and q["agreement_clear_pct"] in (None, 100.0)  # the same files
    assert result["rule"] == "conversion" and result["same_float_models"] is True  # the same float32 files
    assert result["decision"]["ship"] is False  # no more faithful than the shipped conversion
    assert "unweighted: agreement with its float32 100.00% against the shipped 100.00%, +0.00 pp from it: not more " \
        "faithful than the shipped conversion" in result["decision"]["reasons"]
    assert result["size"]["projected_mib"] == pytest.approx(result["size"]["shipped_mib"])
    text = render(result, {"command": "c", "machine": "m", "date": "d", "split": "val", "data": "x.csv"})
    assert "## Size" in text and "unweighted 1.00x" in text
    assert "(the candidate's float32 models are the shipped ones, so the rule for a conversion: every variant's int8 " \
        "agrees with its float32 more often" in text
    assert "## Quantisation (candidate): int8 against its float32 model" in text
    assert "| unweighted | " in text.split("## Quantisation")[1]


def test_the_gain_is_candidate_minus_shipped_on_the_same_faces(folders, synthetic_data: Path) -> None:
    shipped, _, other = folders
    faces = load_eval_faces(synthetic_data)
    s_set, c_set = find_models(shipped, formats=["int8"]), find_models(other, formats=["int8"])
    result = compare(s_set, c_set, faces.x, faces.y, detector=None, progress=False, cost_rounds=0)
    right_s = tflite_predict(s_set.get("unweighted", "int8"), faces.x).argmax(1) == faces.y
    right_c = tflite_predict(c_set.get("unweighted", "int8"), faces.x).argmax(1) == faces.y
    v = result["variants"]["unweighted"]
    assert v["gain_pp"] == pytest.approx(100 * (right_c.mean() - right_s.mean()))
    assert v["gain_ci_pp"] == pytest.approx(paired_interval_pp(right_c, right_s))
    assert (v["only_candidate_right"], v["only_shipped_right"]) == (int((right_c & ~right_s).sum()),
                                                                    int((right_s & ~right_c).sum()))
    assert v["quantisation"] is None  # no float32 model asked for: nothing to check quantisation against
    assert "## Face-box jitter" in render({**result}, {"command": "c", "machine": "m", "date": "d", "split": "val",
                                                        "data": "x.csv"})


def test_the_crop_part_scores_both_models_on_the_same_canvases(folders, synthetic_data: Path) -> None:
    shipped, _, other = folders
    faces = load_eval_faces(synthetic_data)
    result = compare(find_models(shipped, ["unweighted"], ["int8"]), find_models(other, ["unweighted"], ["int8"]),
                     faces.x, faces.y, detector="haar", crop_faces=3, progress=False, cost_rounds=1)
    crops = result["variants"]["unweighted"]["crops"]
    assert set(crops) == {"shipped", "candidate", "difference"}
    assert crops["shipped"]["placed"] == crops["candidate"]["placed"] == 3
    assert crops["shipped"]["found"] == crops["candidate"]["found"]
    assert "calibrated_right" not in crops["shipped"], "the per-placement lists stay out of the saved rows"
    if crops["shipped"]["found"]:
        assert crops["difference"]["delta_pp"] == pytest.approx(
            100 * (crops["candidate"]["acc_calibrated"] - crops["shipped"]["acc_calibrated"]))
    cost = result["variants"]["unweighted"]["cost"]
    assert cost["detect_ms"] is not None and 0 < cost["classifier_share"] < 1, "the detection of the crop part, timed"
    text = render(result, {"command": "c", "machine": "m", "date": "d", "split": "val", "data": "x.csv"})
    assert "## Cost on the device (1 thread, this run)" in text and "| unweighted | " in text.split("## Cost")[1]


def test_the_canvases_are_detected_once_for_both_models(folders, synthetic_data: Path, monkeypatch) -> None:
    import benchmarks.camera as camera

    calls = []
    build = camera.make_detectors

    def counting(names, detector_model, search_every=1):
        detectors = build(names, detector_model, search_every)
        for detector in detectors.values():
            detect = detector.detect
            monkeypatch.setattr(detector, "detect", lambda gray, bgr=None, d=detect: calls.append(1) or d(gray, bgr))
        return detectors

    monkeypatch.setattr(camera, "make_detectors", counting)
    shipped, _, other = folders
    faces = load_eval_faces(synthetic_data)
    compare(find_models(shipped, ["unweighted"], ["int8"]), find_models(other, ["unweighted"], ["int8"]),
            faces.x, faces.y, detector="haar", crop_faces=3, progress=False, cost_rounds=0)
    assert len(calls) == 3  # one detection a canvas, whatever the number of models scored on it


def test_crop_placements_put_each_face_on_more_canvases(folders, synthetic_data: Path, tmp_path: Path) -> None:
    shipped, _, other = folders
    out = tmp_path / "cmp"
    rc = main(["compare", "--models", str(shipped), "--candidate", str(other), "--data", str(synthetic_data),
               "--detector", "haar", "--crop-faces", "2", "--crop-placements", "3", "--out", str(out),
               "--no-progress", "--cost-rounds", "0"])
    assert rc == 0
    saved = json.loads((out / "compare.json").read_text())
    crops = saved["variants"]["unweighted"]["crops"]
    assert saved["crop_placements"] == 3 and crops["shipped"]["placed"] == crops["candidate"]["placed"] == 6
    assert crops["shipped"]["faces_found"] <= 2
    assert "Each face on 3 canvases" in (out / "compare.md").read_text()
    assert saved["rule"] == "conversion"  # asked for nothing: rule_for picks (the float32 files are the same)


def test_the_camera_rule_asked_for_on_the_command_line_judges_and_is_reported(folders, synthetic_data: Path,
                                                                               tmp_path: Path) -> None:
    shipped, _, other = folders
    out = tmp_path / "cmp"
    rc = main(["compare", "--models", str(shipped), "--candidate", str(other), "--data", str(synthetic_data),
               "--detector", "none", "--rule", "camera", "--out", str(out), "--no-progress", "--cost-rounds", "0"])
    assert rc == 0
    saved = json.loads((out / "compare.json").read_text())
    assert saved["rule"] == "camera" and saved["decision"]["ship"] is False
    assert any("the camera rule cannot judge" in r for r in saved["decision"]["reasons"])
    report = (out / "compare.md").read_text()
    assert "the rule asked for, for a model made for the camera path: unweighted gains at least 0.0 pp, at least " \
        "0.5 pp more on the detector's calibrated crops" in report


def test_cli_writes_the_report_with_its_decision(folders, synthetic_data: Path, tmp_path: Path, capsys) -> None:
    shipped, same, _ = folders
    out = tmp_path / "cmp"
    rc = main(["compare", "--models", str(shipped), "--candidate", str(same), "--data", str(synthetic_data),
               "--detector", "none", "--out", str(out), "--no-progress", "--cost-rounds", "1"])
    assert rc == 0
    assert "keep the shipped models" in capsys.readouterr().out
    report = (out / "compare.md").read_text()
    assert "**Decision: keep the shipped models**" in report and "python -m benchmarks compare" in report
    assert "## Cost on the device" in report
    saved = json.loads((out / "compare.json").read_text())
    assert saved["decision"]["ship"] is False and saved["split"] in ("test", "val")


def test_a_detector_that_cannot_be_built_fails_before_any_scoring(folders, tmp_path: Path, capsys) -> None:
    shipped, same, _ = folders
    rc = main(["compare", "--models", str(shipped), "--candidate", str(same), "--data", str(tmp_path / "absent.csv"),
               "--detector", "yunet", "--out", str(tmp_path / "o"), "--no-progress"])
    assert rc == 2 and "yunet" in capsys.readouterr().err.lower()


@pytest.mark.parametrize("case", ["missing", "itself", "empty"])
def test_bad_folders_are_named_before_any_work(case: str, folders, synthetic_data: Path, tmp_path: Path,
                                               capsys) -> None:
    shipped = folders[0]
    candidate = {"missing": tmp_path / "nope", "itself": shipped, "empty": tmp_path}[case]
    rc = main(["compare", "--models", str(shipped), "--candidate", str(candidate), "--data", str(synthetic_data),
               "--detector", "none", "--out", str(tmp_path / "o"), "--no-progress", "--cost-rounds", "0"])
    assert rc == 2
    assert str(candidate) in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_faces_are_compared_only_where_both_folders_have_the_format(folders) -> None:
    shipped, _, _ = folders
    x, y = np.zeros((2, 48, 48, 1), np.uint8), np.zeros(2, np.int64)
    with pytest.raises(BenchError, match="no variant with a int8 model in both"):
        compare(find_models(shipped, ["unweighted"], ["int8"]), find_models(shipped, ["weighted"], ["int8"]), x, y,
                detector=None, progress=False, cost_rounds=0)


def _with_cost(result: dict, ratio: float, share: float | None) -> dict:
    for v in result["variants"].values():
        v["cost"] = {"shipped_us": 100.0, "candidate_us": 100.0 * ratio, "ratio": ratio, "detect_ms": 1.0,
                     "classifier_share": share}
    return result


def test_a_candidate_that_costs_the_device_too_much_is_kept_out() -> None:
    assert RULE.max_cost_ratio == 2.0 and RULE.max_classifier_share == 0.25
    ok = decide(_with_cost(_result(1.0), 1.9, 0.2))
    assert ok["ship"] is True and "unweighted: classifier cost 1.90x the shipped one's, 20% of detection" in \
        " | ".join(ok["reasons"])
    dear = decide(_with_cost(_result(1.0), 2.1, 0.2))
    assert dear["ship"] is False and any("2.10x the shipped one's, more than the 2x allowed" in r
                                         for r in dear["reasons"])
    heavy = decide(_with_cost(_result(1.0), 1.5, 0.25))
    assert heavy["ship"] is False and any("takes 25% of detection + classification" in r for r in heavy["reasons"])
    assert decide(_with_cost(_result(1.0), 1.5, None))["ship"] is True  # no detector: the ratio alone


def test_the_frame_share_bounds_a_costlier_candidate_not_one_at_the_shipped_cost() -> None:
    """The issue allows a student up to 2x the classifier's cost only while the classifier stays under a quarter of
    the frame; a candidate of the shipped network's cost (within timing noise) takes the share the shipped model
    already takes, which a slow detector run can put over 25% (28% in session 38's comparison, 1.01x)."""
    same = decide(_with_cost(_result(1.0), 1.01, 0.28))
    assert same["ship"] is True
    assert any("1.01x the shipped one's, 28% of detection + classification (the shipped network's cost" in r
               for r in same["reasons"])
    dearer = decide(_with_cost(_result(1.0), 1.15, 0.28))
    assert dearer["ship"] is False and any("takes 28% of detection" in r for r in dearer["reasons"])
    assert "if it costs more than 1.1x, under 25% of the frame" in RULE.describe()


def test_the_cost_is_both_classifiers_timed_alike(folders) -> None:
    shipped, _, other = folders
    s_model = find_models(shipped, ["unweighted"], ["int8"]).get("unweighted", "int8")
    c_model = find_models(other, ["unweighted"], ["int8"]).get("unweighted", "int8")
    faces = np.random.default_rng(0).integers(0, 256, (20, 48, 48, 1), dtype=np.uint8)
    quick = LatencySettings(warmup=1, min_runs=5, min_seconds=0.0, max_runs=5)
    cost = classifier_cost(s_model, c_model, faces, [1.0, 3.0, 2.0], timing=quick, rounds=3)
    assert cost["calls"] == {"shipped": 15, "candidate": 15}, "every round times both"
    assert cost["ratio"] == pytest.approx(cost["candidate_us"] / cost["shipped_us"])
    assert cost["detect_ms"] == 2.0
    c_ms = cost["candidate_us"] / 1000
    assert cost["classifier_share"] == pytest.approx(c_ms / (2.0 + c_ms))
    assert classifier_cost(s_model, c_model, faces, None, timing=quick, rounds=1)["classifier_share"] is None


def test_a_timed_detector_returns_its_detectors_boxes_and_one_time_a_call() -> None:
    class Stub:
        def detect(self, gray, bgr=None):
            return ["box"] if bgr is None else []

    timed = TimedDetector(Stub())
    assert timed.detect(np.zeros((4, 4), np.uint8)) == ["box"]
    assert timed.detect(np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)) == []
    assert len(timed.ms) == 2 and all(ms >= 0 for ms in timed.ms)


MIB = 1024 * 1024


def _folder(path: Path, sizes: dict[str, float]) -> Path:
    """A models folder of (sparse) files of the given sizes ("variant/format": MiB), none of them a real model."""
    path.mkdir()
    for key, mib in sizes.items():
        variant, fmt = key.split("/")
        with open(model_path(path, variant, fmt), "wb") as f:
            f.truncate(int(mib * MIB))
    return path


def test_the_projected_folder_takes_the_candidates_files_and_scales_the_rest(tmp_path: Path) -> None:
    formats = {"float32": 4, "float16": 2, "dynamic": 1, "int8": 1}
    shipped = _folder(tmp_path / "s", {f"{v}/{f}": n for v in ("unweighted", "weighted") for f, n in formats.items()})
    candidate = _folder(tmp_path / "c", {"unweighted/float32": 7, "unweighted/int8": 2})
    size = projected_size(shipped, candidate, "int8")
    assert size["shipped_mib"] == pytest.approx(16.0)
    assert size["ratio"] == {"unweighted": pytest.approx(2.0)}
    # unweighted: its own float32 (7) and int8 (2), float16 and dynamic twice the shipped (4 + 2); weighted, which the
    # candidate folder lacks: every file twice the shipped one (16)
    assert size["projected_mib"] == pytest.approx(7 + 2 + 4 + 2 + 16)
    with pytest.raises(BenchError, match="no variant with a int8 model in both"):
        projected_size(shipped, _folder(tmp_path / "f", {"unweighted/float32": 1}), "int8")


def test_a_candidate_that_would_make_the_models_too_heavy_is_kept_out() -> None:
    assert RULE.max_models_mib == 10.0
    light = decide({**_result(1.0), "size": {"shipped_mib": 8.9, "projected_mib": 9.5, "ratio": {}}})
    assert light["ship"] is True and "the models would weigh 9.5 MiB together with the candidate's (8.9 MiB now)" \
        in light["reasons"]
    heavy = decide({**_result(1.0), "size": {"shipped_mib": 8.9, "projected_mib": 10.0, "ratio": {}}})
    assert heavy["ship"] is False and any("not under the 10 MiB allowed" in r for r in heavy["reasons"])


def _with_crops(result: dict, shipped: float, candidate: float | None) -> dict:
    for v in result["variants"].values():
        v["crops"] = {"shipped": {"acc_calibrated": shipped}, "candidate": {"acc_calibrated": candidate}}
    return result


def test_a_candidate_worse_on_the_detectors_crops_is_kept_out() -> None:
    assert RULE.crop_tolerance_pp == 0.0
    held = decide(_with_crops(_result(1.0), 0.6849, 0.6888))
    assert held["ship"] is True
    assert "unweighted: 68.88% on the detector's calibrated crops against the shipped 68.49% (+0.39 pp)" \
        in held["reasons"]
    lost = decide(_with_crops(_result(1.4), 0.6849, 0.6805))
    assert lost["ship"] is False
    assert any(r.startswith("weighted: 68.05%") and r.endswith("(-0.44 pp): worse where the camera meets faces")
               for r in lost["reasons"])
    assert decide(_with_crops(_result(1.4), 0.6849, 0.6805), ShipRule(crop_tolerance_pp=0.5))["ship"] is True
    assert decide(_with_crops(_result(1.0), 0.6849, None))["ship"] is True  # no face found: nothing to judge


def _conversion(agreement: float, shipped_agreement: float, delta_pp: float = 0.1,
                jitter: float = 0.0, crop_pp: float = 0.0, cost: float = 1.0) -> dict:
    """A compare result for a candidate converted from the shipped float models: both variants alike."""
    result = _with_crops(_result(0.1, {"unweighted": [jitter], "weighted": [0.0]}), 0.70, 0.70 + crop_pp / 100)
    for v in result["variants"].values():
        v["quantisation"] = {"agreement_pct": agreement, "delta_pp": delta_pp, "abs_delta_pp": abs(delta_pp)}
        v["shipped_quantisation"] = {"agreement_pct": shipped_agreement, "delta_pp": 0.0, "abs_delta_pp": 0.0}
    return _with_cost(result, cost, 0.3)


def test_a_conversion_of_the_same_float_models_ships_when_more_faithful_within_the_band() -> None:
    """No gain asked for; the classifier's share of the frame is the shipped network's, so not judged either."""
    ok = decide(_conversion(99.44, 98.80, delta_pp=0.2, jitter=-0.2, crop_pp=-0.2), CONVERSION_RULE)
    assert ok["ship"] is True, ok["reasons"]
    assert "weighted: agreement with its float32 99.44% against the shipped 98.80%, +0.20 pp from it" in ok["reasons"]
    assert "face-box jitter table: no row more than 0.3 pp below the shipped model's" in ok["reasons"]
    assert decide(_conversion(99.44, 98.80), RULE)["ship"] is False, "the student rule asks for a gain"
    for kept in (_conversion(98.80, 98.80), _conversion(98.70, 98.80),  # not more faithful
                 _conversion(99.44, 98.80, delta_pp=-0.35),  # outside the int8 band of its float32
                 _conversion(99.44, 98.80, jitter=-0.35),  # a jitter row below the shipped model's band
                 _conversion(99.44, 98.80, crop_pp=-0.35),  # the detector's crops likewise
                 _conversion(99.44, 98.80, cost=1.15)):  # dearer
        assert decide(kept, CONVERSION_RULE)["ship"] is False
    missing = _conversion(99.44, 98.80)
    missing["variants"]["weighted"]["shipped_quantisation"] = None
    assert "weighted: no float32 model in both folders to judge the conversion by" in \
        decide(missing, CONVERSION_RULE)["reasons"]


def test_another_float_model_is_judged_as_a_new_student(folders, tmp_path: Path, fixtures_dir: Path,
                                                        synthetic_data: Path) -> None:
    from benchmarks.compare import same_float_models

    shipped, same, _ = folders
    other = make_models_dir(tmp_path / "retrained", fixtures_dir)
    shutil.copyfile(fixture_model(fixtures_dir, "tiny_int8"), model_path(other, "weighted", "float32"))
    variants = ["unweighted", "weighted"]
    x = load_eval_faces(synthetic_data).x
    assert same_float_models(find_models(shipped), find_models(same), variants, x) is True
    assert same_float_models(find_models(shipped), find_models(other), variants, x) is False


def test_a_new_weighted_float_model_beside_the_shipped_unweighted_one_gets_the_weighted_rule(
        folders, tmp_path: Path, fixtures_dir: Path, synthetic_data: Path) -> None:
    shipped, _, _ = folders
    other = make_models_dir(tmp_path / "weighted-only", fixtures_dir)
    shutil.copyfile(fixture_model(fixtures_dir, "tiny_int8"), model_path(other, "weighted", "float32"))
    faces = load_eval_faces(synthetic_data)
    result = compare(find_models(shipped, formats=["int8", "float32"]), find_models(other, formats=["int8", "float32"]),
                     faces.x, faces.y, detector=None, progress=False, cost_rounds=0)
    assert result["same_float_by_variant"] == {"unweighted": True, "weighted": False}
    assert result["rule"] == "weighted student" and result["same_float_models"] is False
    assert result["decision"]["reasons"][0] == "weighted gains +0.00 pp: less than the 0.5 pp needed"
    text = render(result, {"command": "c", "machine": "m", "date": "d", "split": "val", "data": "x.csv"})
    assert "(the candidate brings a new weighted model only (its unweighted float32 model the shipped one, or none), " \
        "so the rule for a weighted model: weighted gains at least 0.5 pp with its balanced accuracy no lower " \
        "than the shipped model's" in text


def test_the_crop_difference_pairs_the_placements_and_takes_each_face_as_one_unit() -> None:
    """Face 0 on two canvases, faces 1-3 on one: the candidate right where the shipped model was not on face 0's
    canvases and face 1, the reverse on face 2. The difference is over placements; its interval is the clustered one
    of the shortfall (faces the unit)."""
    from benchmarks.compare import crop_difference
    from benchmarks.crops import shortfall_interval_pp

    found = [0, 0, 1, 2, 3]
    shipped = {"acc_calibrated": 0.4, "found_faces": list(found), "calibrated_right": [False, False, False, True, True]}
    candidate = {"acc_calibrated": 0.6, "found_faces": list(found),
                 "calibrated_right": [True, True, True, False, True]}
    d = crop_difference(shipped, candidate)
    assert d["delta_pp"] == pytest.approx(40.0)
    assert d["ci_pp"] == pytest.approx(shortfall_interval_pp(found, [True, True, True, False, True],
                                                             [False, False, False, True, True]))
    assert (d["only_candidate_right"], d["only_shipped_right"]) == (3, 1)
    assert "found_faces" not in shipped and "calibrated_right" not in candidate
    with pytest.raises(BenchError, match="not of the same placements"):
        crop_difference({"found_faces": [0, 1], "calibrated_right": [True, False]},
                        {"found_faces": [1, 0], "calibrated_right": [True, False]})
