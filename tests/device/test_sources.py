"""Frame sources: video file, image folder, OpenCV camera (real and faked), picamera2 (fake module)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from device import sources
from device.sources import (
    CameraError,
    ImageFolderSource,
    OpenCVCamera,
    Picamera2Source,
    SourceError,
    VideoFileSource,
    open_source,
)


def test_video_file_reads_then_ends(astronaut_video: Path) -> None:
    with open_source(str(astronaut_video)) as source:
        assert isinstance(source, VideoFileSource) and not source.live
        assert source.fps == pytest.approx(10.0)
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert [f.index for f in frames] == list(range(6))
    assert frames[0].bgr.shape == (512, 512, 3) and frames[0].gray is None
    assert frames[-1].timestamp >= frames[0].timestamp


def test_stream_that_stops_is_a_camera_error(astronaut_video: Path) -> None:
    source = VideoFileSource(astronaut_video, live=True)
    with source, pytest.raises(CameraError, match="no frame at frame 6 .stream stopped"):
        for _ in range(7):
            source.read()


def test_unreadable_video(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_text("not a video")
    with pytest.raises(SourceError, match="clip.mp4: cannot be opened"):
        open_source(str(bad))


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder") as info:
        open_source(str(tmp_path / "nothing.mp4"))
    assert "\n" not in str(info.value)


def test_image_folder(tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    small = cv2.resize(astronaut_bgr, (64, 64))
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), small)
    (tmp_path / "notes.txt").write_text("ignored")
    source = open_source(str(tmp_path))
    assert isinstance(source, ImageFolderSource)
    assert [p.name for p in source.files] == ["a.jpg", "b.png"]
    assert source.read().bgr.shape == (64, 64, 3) and source.read().index == 1 and source.read() is None
    single = open_source(str(tmp_path / "b.png"))
    assert isinstance(single, ImageFolderSource) and len(single.files) == 1


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    source = ImageFolderSource(tmp_path)
    with pytest.raises(SourceError, match=r"broken.png: cannot be decoded \(frame 0"):
        source.read()


def test_camera_index_that_does_not_exist() -> None:
    with pytest.raises(CameraError, match="camera index 97: cannot be opened"):
        open_source("97")


class FakeCapture:
    """cv2.VideoCapture stand-in: ``n`` frames, then the camera is gone."""

    def __init__(self, target, n: int = 2) -> None:
        self.target, self.left, self.released = target, n, False
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self) -> None:
        self.released = True


def test_camera_stops_mid_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture)
    with OpenCVCamera(0, width=640, height=480) as camera:
        assert camera.live and camera.fps == 30.0
        assert camera._capture.props == {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480}
        camera.read(), camera.read()
        with pytest.raises(CameraError, match="camera index 0: no frame at frame 2"):
            camera.read()
    assert camera._capture.released


def fake_picamera2(main_channels: int = 3, fail_capture: bool = False) -> types.ModuleType:
    """A module with a ``Picamera2`` class mimicking the parts of picamera2 the source uses."""

    class Request:
        def __init__(self, cam) -> None:
            self.cam = cam

        def make_array(self, name: str) -> np.ndarray:
            w, h = self.cam.config[name]["size"]
            if name == "main":
                return np.full((h, w, main_channels), 7, np.uint8)
            yuv = np.full((h * 3 // 2, w), 200, np.uint8)  # U/V planes
            yuv[:h] = np.arange(w, dtype=np.uint8)[None, :]  # Y plane
            return yuv

        def release(self) -> None:
            self.cam.released += 1

    class Picamera2:
        def __init__(self) -> None:
            self.config: dict = {}
            self.started = self.stopped = self.closed = False
            self.released = 0

        def create_preview_configuration(self, main: dict, lores: dict) -> dict:
            return {"main": main, "lores": lores}

        def configure(self, config: dict) -> None:
            self.config = config

        def start(self) -> None:
            self.started = True

        def capture_request(self):
            if fail_capture:
                raise RuntimeError("camera frontend timeout")
            return Request(self)

        def stop(self) -> None:
            self.stopped = True

        def close(self) -> None:
            self.closed = True

    module = types.ModuleType("picamera2")
    module.Picamera2 = Picamera2
    return module


@pytest.mark.parametrize("channels", [3, 4])
def test_picamera2_main_and_lores(monkeypatch: pytest.MonkeyPatch, channels: int) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2(channels))
    with open_source("picamera2", width=640, height=480, lores_size=(320, 240)) as source:
        assert isinstance(source, Picamera2Source) and source.live
        cam = source._camera
        assert cam.started and cam.config["lores"] == {"size": (320, 240), "format": "YUV420"}
        assert cam.config["main"]["format"] == "RGB888"
        frame = source.read()
    assert frame.bgr.shape == (480, 640, 3)
    assert frame.gray.shape == (240, 320) and frame.gray.flags.c_contiguous
    np.testing.assert_array_equal(frame.gray[0], np.arange(320, dtype=np.uint8))  # the Y plane, not U/V
    assert cam.released == 1 and cam.stopped and cam.closed


def test_picamera2_capture_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2(fail_capture=True))
    with Picamera2Source() as source, pytest.raises(CameraError, match="picamera2: no frame at frame 0"):
        source.read()


def test_picamera2_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError, match="picamera2 is not installed.*python3-picamera2"):
        open_source("picamera2")


def test_picamera2_lores_larger_than_main(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2())
    with pytest.raises(SourceError, match="lores size"):
        Picamera2Source(main_size=(320, 240), lores_size=(640, 480))


def test_stills_or_stream(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, astronaut_video: Path) -> None:
    """Image folders and single images are independent stills; cameras, videos and streams are continuous."""
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert open_source(str(tmp_path)).stills and open_source(str(tmp_path / "a.png")).stills
    assert not open_source(str(astronaut_video)).stills
    assert not VideoFileSource(astronaut_video, live=True).stills
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture)
    assert not open_source("0").stills
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2())
    assert not open_source("picamera2").stills


def test_undecodable_image_is_reported_and_the_folder_goes_on(tmp_path: Path) -> None:
    for name, value in (("a.png", 10), ("c.png", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value, np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    source = ImageFolderSource(tmp_path)
    first = source.read()
    with pytest.raises(sources.ImageDecodeError, match=r"b.png: cannot be decoded") as info:
        source.read()
    assert info.value.path == tmp_path / "b.png" and isinstance(info.value, SourceError)
    third = source.read()
    assert (first.index, int(first.bgr[0, 0, 0])) == (0, 10)
    assert (third.index, int(third.bgr[0, 0, 0])) == (1, 30)  # the next file; frame numbers count frames read
    assert source.read() is None
