"""Device-runtime fixtures: the lead's tiny fixture models and a real photo with one frontal face."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

MODEL_NAMES = ("tiny_float32", "tiny_int8")
# skimage.data.astronaut(): one frontal face; Haar finds it at about (x=175, y=64, w=h=98) of 512x512.
ASTRONAUT_FACE_CENTER = (224, 113)
ASTRONAUT_FACE_SIDE = 98


def _model(fixtures_dir: Path, name: str) -> Path:
    path = fixtures_dir / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"fixture model {path} missing (regenerate with: python tests/fixtures/make_fixtures.py)")
    return path


@pytest.fixture(scope="session")
def float_model(fixtures_dir: Path) -> Path:
    return _model(fixtures_dir, "tiny_float32")


@pytest.fixture(scope="session")
def int8_model(fixtures_dir: Path) -> Path:
    return _model(fixtures_dir, "tiny_int8")


@pytest.fixture(scope="session", params=MODEL_NAMES)
def any_model(request: pytest.FixtureRequest, fixtures_dir: Path) -> Path:
    return _model(fixtures_dir, request.param)


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def astronaut_gray(astronaut_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)


@pytest.fixture(scope="session")
def astronaut_face_center() -> tuple[int, int]:
    return ASTRONAUT_FACE_CENTER


@pytest.fixture(scope="session")
def astronaut_video(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    """A 6-frame MJPG .avi of the astronaut drifting sideways (10 fps)."""
    path = tmp_path_factory.mktemp("video") / "astronaut.avi"
    height, width = astronaut_bgr.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    assert writer.isOpened()
    for i in range(6):
        writer.write(np.roll(astronaut_bgr, 3 * i, axis=1))
    writer.release()
    return path


def _assert_astronaut_face(box, scale: float = 1.0) -> None:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    ex, ey = ASTRONAUT_FACE_CENTER
    assert abs(cx - ex * scale) < 20 * scale and abs(cy - ey * scale) < 20 * scale, box
    assert 0.75 * ASTRONAUT_FACE_SIDE * scale < box.w < 1.25 * ASTRONAUT_FACE_SIDE * scale, box


@pytest.fixture(scope="session")
def assert_astronaut_face():
    """``check(box, scale=1.0)``: the box is the astronaut's face (centre within 20 px, side within 25%)."""
    return _assert_astronaut_face


@pytest.fixture
def live_camera(astronaut_bgr: np.ndarray) -> Iterator[str]:
    """A stream URL (a web view of its own) that delivers astronaut frames at 15 FPS for as long as it is read:
    a live source like an IP camera, for the web view's end-to-end tests."""
    from device.web import STREAM, WebView

    camera = WebView("127.0.0.1", 0)
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.wait(1 / 15):
            if camera.clients(STREAM):
                camera.publish_frame(np.roll(astronaut_bgr, 2 * (i % 20), axis=1))
            i += 1

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    yield camera.url + "stream.mjpg"
    stop.set()
    thread.join(5)
    camera.close()
