"""Face detectors: Haar on a real photo (golden box), box mapping, YuNet via a fake cv2.FaceDetectorYN."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from device import detector as detector_module
from device.detector import Box, DetectorError, HaarDetector, HaarOptions, YuNetDetector, make_detector


def test_box_iou() -> None:
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(20, 20, 5, 5)) == 0.0
    assert a.iou(Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0
    assert Box(10, 20, 30, 40).scaled(2.0) == Box(20, 40, 60, 80)


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


def test_haar_finds_the_astronaut(haar, astronaut_gray, assert_astronaut_face) -> None:
    boxes = haar.detect(astronaut_gray)
    assert len(boxes) == 1
    assert_astronaut_face(boxes[0])


def test_haar_maps_boxes_back_from_the_downscaled_frame(haar, astronaut_gray, assert_astronaut_face) -> None:
    big = cv2.resize(astronaut_gray, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    boxes = haar.detect(big)  # detected at 320 px wide, reported in 1024 px coordinates
    assert len(boxes) == 1
    assert_astronaut_face(boxes[0], scale=2.0)


def test_haar_no_face() -> None:
    blank = np.full((240, 320), 128, np.uint8)
    assert HaarDetector(HaarOptions(detect_width=0)).detect(blank) == []


def test_make_detector(tmp_path: Path) -> None:
    assert isinstance(make_detector("haar", None), HaarDetector)
    with pytest.raises(DetectorError, match="needs a model file"):
        make_detector("yunet", None)
    with pytest.raises(DetectorError, match="missing.onnx: file not found"):
        make_detector("yunet", tmp_path / "missing.onnx")
    with pytest.raises(DetectorError, match="unknown"):
        make_detector("mtcnn", None)


def test_yunet_invalid_model_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(DetectorError, match="bad.onnx: could not be loaded") as info:
        YuNetDetector(bad)
    assert "\n" not in str(info.value)


class FakeYN:
    """Stands in for cv2.FaceDetectorYN: one face at a fixed place in the (downscaled) input."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.channels: list[int] = []

    @classmethod
    def create(cls, *args):
        return cls()

    def setInputSize(self, size):  # noqa: N802 - OpenCV's name
        self.sizes.append(size)

    def detect(self, image):
        self.channels.append(image.shape[2])
        row = np.array([[40, 30, 50, 60] + [0] * 10 + [0.93]], np.float32)  # x, y, w, h, 5 landmarks, score
        return 1, row


def test_yunet_boxes_via_fake(monkeypatch, tmp_path: Path) -> None:
    model = tmp_path / "yunet.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr(detector_module.cv2, "FaceDetectorYN", FakeYN)
    det = YuNetDetector(model, detect_width=320)
    gray = np.zeros((480, 640), np.uint8)
    boxes = det.detect(gray, np.zeros((480, 640, 3), np.uint8))
    assert boxes == [Box(80, 60, 100, 120, pytest.approx(0.93))]  # mapped back from 320 to 640 wide
    det.detect(gray)  # no BGR: converted from gray
    assert det._net.sizes == [(320, 240)] and det._net.channels == [3, 3]


def test_haar_on_a_wide_frame_maps_boxes_back(haar, astronaut_gray, assert_astronaut_face) -> None:
    """640x360 detected at 320x180: the face, pasted off the diagonal, comes back in 640x360 coordinates."""
    wide = np.full((360, 640), 128, np.uint8)
    wide[20:340, 300:620] = cv2.resize(astronaut_gray, (320, 320), interpolation=cv2.INTER_AREA)
    (box,) = haar.detect(wide)
    assert_astronaut_face(Box(box.x - 300, box.y - 20, box.w, box.h), scale=320 / 512)


def test_yunet_on_a_wide_frame_via_fake(monkeypatch, tmp_path: Path) -> None:
    model = tmp_path / "yunet.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr(detector_module.cv2, "FaceDetectorYN", FakeYN)
    det = YuNetDetector(model, detect_width=320)
    boxes = det.detect(np.zeros((360, 640), np.uint8), np.zeros((360, 640, 3), np.uint8))
    assert det._net.sizes == [(320, 180)]
    assert boxes == [Box(80, 60, 100, 120, pytest.approx(0.93))]


def test_box_keypoints_are_optional_and_scaled() -> None:
    plain = Box(10, 20, 30, 40, 0.5)
    assert plain.keypoints is None and plain == Box(10, 20, 30, 40, 0.5) and plain.as_list() == [10, 20, 30, 40]
    marked = Box(10, 20, 30, 40, 0.5, keypoints=((15.0, 25.0), (35.5, 25.0)))
    assert marked != plain and hash(marked) == hash(Box(10, 20, 30, 40, 0.5, keypoints=((15.0, 25.0), (35.5, 25.0))))
    assert marked.scaled(2.0, 0.5) == Box(20, 10, 60, 20, 0.5, keypoints=((30.0, 12.5), (71.0, 12.5)))
    assert plain.scaled(2.0).keypoints is None


def test_make_detector_blazeface(tmp_path: Path) -> None:
    from device.blazeface import BlazeFaceDetector

    short, full = make_detector("blazeface"), make_detector("blazeface-full", None, 320, threads=2)
    assert isinstance(short, BlazeFaceDetector) and short.variant.key == "short" and short.input_size == 128
    assert isinstance(full, BlazeFaceDetector) and full.variant.key == "full" and full.input_size == 192
    assert detector_module.DETECTORS[0] == "blazeface" and {"haar", "yunet", "blazeface-full"} <= set(
        detector_module.DETECTORS
    )
    with pytest.raises(DetectorError, match="missing.tflite: file not found"):
        make_detector("blazeface", tmp_path / "missing.tflite")


def test_blazeface_finds_the_astronaut(astronaut_bgr, astronaut_gray, astronaut_face_center) -> None:
    (box,) = make_detector("blazeface").detect(astronaut_gray, astronaut_bgr)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    assert abs(cx - astronaut_face_center[0]) < 20 and abs(cy - astronaut_face_center[1]) < 20, box
    assert box.keypoints is not None and len(box.keypoints) == 6
    right_eye, left_eye = box.keypoints[:2]  # the person's right eye is on the image's left
    assert box.x < right_eye[0] < left_eye[0] < box.x + box.w


class FixedCascade:
    """Stands in for the Haar cascade: one face at (40, 30, 50, 60) of whatever (downscaled) frame it sees."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detectMultiScale(self, image, **kwargs):  # noqa: N802 - OpenCV's name
        self.shapes.append(image.shape)
        return np.array([[40, 30, 50, 60]])


@pytest.mark.parametrize(("gray_size", "expected"), [
    ((640, 360), [80, 60, 100, 120]),  # detected at 320x180: both axes x2
    ((320, 240), [80, 45, 100, 90]),  # picamera2-like lores of another aspect ratio: x by widths, y by heights
])
def test_haar_returns_boxes_in_the_shown_frame_per_axis(gray_size, expected) -> None:
    det = HaarDetector()
    det._cascade = FixedCascade()
    bgr = np.zeros((360, 640, 3), np.uint8)
    (box,) = det.detect(np.zeros(gray_size[::-1], np.uint8), bgr)
    assert det._cascade.shapes == [(180, 320)] if gray_size == (640, 360) else [(240, 320)]
    assert box.as_list() == expected


def test_yunet_detects_on_the_shown_frame_when_gray_is_smaller(monkeypatch, tmp_path: Path) -> None:
    model = tmp_path / "yunet.onnx"
    model.write_bytes(b"fake")
    monkeypatch.setattr(detector_module.cv2, "FaceDetectorYN", FakeYN)
    det = YuNetDetector(model, detect_width=320)
    (box,) = det.detect(np.zeros((240, 320), np.uint8), np.zeros((360, 640, 3), np.uint8))
    assert det._net.sizes == [(320, 180)]  # the 640x360 shown frame, downscaled: not the 320x240 gray one
    assert box.as_list() == [80, 60, 100, 120]
