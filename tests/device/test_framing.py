"""Crops framed like FER2013: the calibrated transform per detector, its file, and how the demo picks it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from device.detector import Box
from device.framing import (
    Framing,
    FramingError,
    KeypointFraming,
    calibrated_framing,
    emotion_framings,
    keypoint_features,
    read_framings,
    write_framing,
)
from device.preprocess import crop_face


def test_square_moves_and_scales_the_box():
    f = Framing(scale=1.2, dx=0.1, dy=-0.1, source="calibrated")
    # box 100x80 at (50, 40): centre (100, 80) -> moved by (+10, -8); side 1.2 * 100 = 120
    assert f.square(50, 40, 100, 80) == (50, 12, 120)
    assert Framing.from_margin(0.02).square(50, 40, 100, 100) == (48, 38, 104)


@pytest.mark.parametrize("bad", [dict(scale=0.0), dict(scale=float("nan")), dict(dx=2.0), dict(dy=float("inf"))])
def test_unusable_transforms_are_refused(bad):
    with pytest.raises(ValueError, match="framing"):
        Framing(**{"scale": 1.1, "dx": 0.0, "dy": 0.0, **bad})


def test_crop_uses_the_framing():
    image = np.zeros((200, 200), np.uint8)
    image[40:100, 60:120] = 255  # a bright square where the calibrated crop lands
    box = (60, 60, 60, 60)
    up = crop_face(image, box, Framing(1.0, 0.0, -1 / 3, "calibrated"))  # moved 20 px up: rows 40..100
    plain = crop_face(image, box, 0.0)  # rows 60..120: a third of it dark
    assert up.mean() == 255 and plain.mean() < 200


def test_file_round_trip_keeps_other_detectors(tmp_path: Path):
    path = tmp_path / "framing.json"
    write_framing("blazeface", Framing(1.14, -0.02, -0.09, "calibrated"), {"faces": 600}, path)
    write_framing("haar", Framing(1.0, 0.0, 0.0, "calibrated"), {"faces": 600}, path)
    assert calibrated_framing("blazeface", path) == Framing(1.14, -0.02, -0.09, "calibrated")
    assert calibrated_framing("yunet", path) is None
    assert set(read_framings(path)["detectors"]) == {"blazeface", "haar"}
    path.write_text("{broken")
    with pytest.raises(FramingError, match="framing.json: not readable JSON"):
        calibrated_framing("blazeface", path)
    path.write_text(json.dumps({"detectors": {"blazeface": {"scale": "x"}}}))
    with pytest.raises(FramingError, match="unusable transform"):
        calibrated_framing("blazeface", path)


def test_the_shipped_calibration_covers_the_shipped_detectors():
    detectors = read_framings()["detectors"]
    assert {"blazeface", "blazeface:refine=0", "blazeface-full", "haar"} <= set(detectors)
    blaze = detectors["blazeface"]
    assert blaze["scale"] > 1.0 and blaze["dy"] < 0, "BlazeFace's box is tighter and lower than FER2013's framing"
    assert blaze["found"] >= 100 and "python -m benchmarks calibrate" in blaze["command"]


def test_each_emotions_own_transform_is_read_in_label_order(tmp_path: Path):
    from core.labels import EMOTIONS

    path = tmp_path / "framing.json"
    rows = {name: {"found": 9, "scale": 1.0 + k / 10, "dx": 0.0, "dy": -k / 100} for k, name in enumerate(EMOTIONS)}
    write_framing("blazeface", Framing(1.14, -0.02, -0.09, "calibrated"), {"by_class": rows}, path)
    write_framing("haar", Framing(1.0, 0.0, 0.0, "calibrated"), {}, path)
    framings = emotion_framings("blazeface", path)
    assert framings == tuple(Framing(1.0 + k / 10, 0.0, -k / 100, "calibrated") for k in range(len(EMOTIONS)))
    assert emotion_framings("haar", path) is None  # calibrated without them
    assert emotion_framings("yunet", path) is None  # never calibrated
    del rows["disgust"]
    write_framing("blazeface", Framing(1.14, -0.02, -0.09, "calibrated"), {"by_class": rows}, path)
    assert emotion_framings("blazeface", path) is None  # an emotion missing: no oracle to compare
    rows["disgust"] = {"scale": "x", "dx": 0.0, "dy": 0.0}
    write_framing("blazeface", Framing(1.14, -0.02, -0.09, "calibrated"), {"by_class": rows}, path)
    with pytest.raises(FramingError, match="blazeface.*unusable by_class"):
        emotion_framings("blazeface", path)
    shipped = emotion_framings("blazeface")
    assert shipped is not None and len(shipped) == len(EMOTIONS)
    assert shipped[EMOTIONS.index("happy")].scale == read_framings()["detectors"]["blazeface"]["by_class"]["happy"][
        "scale"]


def test_the_demo_uses_the_calibration_unless_margin_is_given():
    from device.demo import DemoOptions, crop_framing

    assert crop_framing(DemoOptions(detector="blazeface")) == calibrated_framing("blazeface")
    assert crop_framing(DemoOptions(detector="blazeface", margin=0.1)) == Framing.from_margin(0.1)
    assert crop_framing(DemoOptions(detector="yunet")) == Framing.from_margin(0.02)  # never calibrated


def test_each_blazeface_setting_gets_its_own_calibration(monkeypatch):
    """The refined default, the one pass (--refine 0) and a refinement never calibrated (falls back to the
    detector's own entry, the refined one); the full-range model runs one pass by default."""
    from device.demo import DemoOptions, crop_framing

    refined, one_pass = calibrated_framing("blazeface"), calibrated_framing("blazeface:refine=0")
    assert refined is not None and one_pass is not None and refined != one_pass
    assert crop_framing(DemoOptions(detector="blazeface", refine=2.0)) == refined
    assert crop_framing(DemoOptions(detector="blazeface", refine=0.0)) == one_pass
    assert crop_framing(DemoOptions(detector="blazeface:refine=0")) == one_pass
    assert crop_framing(DemoOptions(detector="blazeface", refine=3.0)) == refined
    assert crop_framing(DemoOptions(detector="blazeface-full", refine=0.0)) == calibrated_framing("blazeface-full")


def test_the_entry_the_crops_follow_is_named():
    from device.demo import DemoOptions, framing_entry

    assert framing_entry(DemoOptions(detector="blazeface")) == "blazeface"
    assert framing_entry(DemoOptions(detector="blazeface", refine=0.0)) == "blazeface:refine=0"
    assert framing_entry(DemoOptions(detector="blazeface", refine=3.0)) == "blazeface"  # the detector's own entry
    assert framing_entry(DemoOptions(detector="blazeface", margin=0.1)) is None
    assert framing_entry(DemoOptions(detector="yunet")) is None


def test_detector_settings_parse_and_name_themselves():
    from device.detector import DetectorError, make_detector, parse_setting, setting_key

    assert parse_setting("blazeface") == ("blazeface", None)
    assert parse_setting("blazeface:refine=0") == ("blazeface", 0.0)
    assert setting_key("blazeface", 2.0) == setting_key("blazeface") == "blazeface"
    assert setting_key("blazeface", 0.0) == "blazeface:refine=0"
    assert setting_key("blazeface-full", 0.0) == "blazeface-full"
    assert setting_key("blazeface-full", 2.0) == "blazeface-full:refine=2"
    assert setting_key("haar", 0.0) == "haar"
    for bad in ("haar:refine=0", "blazeface:refine=x", "blazeface:scale=2", "blazeface:refine=nan"):
        with pytest.raises(DetectorError, match="blazeface"):
            parse_setting(bad)
    assert make_detector("blazeface:refine=0").refine_context == 0.0
    assert make_detector("blazeface").refine_context == 2.0
    assert make_detector("blazeface-full").refine_context == 0.0
    assert make_detector("blazeface", refine=0.0, search_every=8).options.search_every == 8


def _model(**kw) -> KeypointFraming:
    """One keypoint, read as its offset from the box centre: dy = 0.5 * (its y offset in box heights), scale 1.2 and
    dx 0 whatever it says; bounds wide unless given."""
    args = dict(points=1, coef=((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.5, 0.0)),
                intercept=(math.log(1.2), 0.0, 0.0), bounds=((0.5, 3.0), (-1.0, 1.0), (-1.0, 1.0)))
    return KeypointFraming(**{**args, **kw})


def test_keypoint_features_are_offsets_in_box_units_then_the_aspect():
    features = keypoint_features(100, 50, 80, 40, [(140, 70), (120, 80)])  # centre (140, 70)
    assert features.tolist() == pytest.approx([0.0, -0.25, 0.0, 0.25, 0.5])


def test_a_keypoint_model_frames_each_box_by_its_keypoints_within_its_bounds():
    f = Framing(1.1, 0.0, -0.1, "calibrated", keypoints=_model())
    # box 100x100 at (0, 0); the keypoint 20 px below the centre: dy = 0.5 * 0.2 = +0.1; side 1.2 * 100
    assert f.square(0, 0, 100, 100, keypoints=[(50, 70)]) == (-10, 0, 120)
    assert f.square(0, 0, 100, 100) == f.median().square(0, 0, 100, 100) == (-5, -15, 110)  # no keypoints: median
    assert f.square(0, 0, 100, 100, keypoints=[(50, 70), (1, 1)]) == (-5, -15, 110)  # not the points it reads
    assert f.square(10, 10, 0, 0, keypoints=[(10, 10)]) == f.median().square(10, 10, 0, 0)  # an empty box: median
    held = Framing(1.1, 0.0, -0.1, "calibrated", keypoints=_model(bounds=((1.0, 1.15), (-1.0, 1.0), (-0.05, 0.05))))
    assert held.square(0, 0, 100, 100, keypoints=[(50, 70)]) == (-8, -2, 115)  # scale 1.15, dy 0.05: the bounds
    assert "by its keypoints" in f.describe() and "by its keypoints" not in f.median().describe()


@pytest.mark.parametrize("bad", [dict(points=2), dict(intercept=(0.0, 0.0)), dict(bounds=((2.0, 1.0),) * 3),
                                 dict(coef=((float("nan"), 0.0, 0.0),) * 3), dict(bounds=((0.0, 1.0),) * 3)])
def test_unusable_keypoint_models_are_refused(bad):
    with pytest.raises(ValueError, match="keypoint model"):
        _model(**bad)


def test_the_crop_reads_the_box_keypoints():
    image = np.zeros((200, 200), np.uint8)
    image[20:80, 60:120] = 255  # bright where the keypoint-framed crop lands (dy -1/3 of a 60 px box: 20 px up)
    model = _model(coef=((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0)), intercept=(0.0, 0.0, 0.0))
    framing = Framing(1.0, 0.0, 0.0, "calibrated", keypoints=model)
    box = Box(60, 40, 60, 60, keypoints=((90.0, 50.0),))  # 20 px above the centre (90, 70)
    assert crop_face(image, box, framing).mean() == 255
    assert crop_face(image, Box(60, 40, 60, 60), framing).mean() < 200  # no keypoints: the box itself


def test_file_round_trip_keeps_the_keypoint_model(tmp_path: Path):
    path = tmp_path / "framing.json"
    framing = Framing(1.16, -0.01, -0.1, "calibrated", keypoints=_model())
    write_framing("blazeface", framing, {"faces": 2000}, path)
    assert calibrated_framing("blazeface", path) == framing
    data = json.loads(path.read_text())
    data["detectors"]["blazeface"]["keypoint_model"]["coef"] = [[0.0, 0.0]]
    path.write_text(json.dumps(data))
    with pytest.raises(FramingError, match="blazeface.*unusable transform.*keypoint model"):
        calibrated_framing("blazeface", path)
