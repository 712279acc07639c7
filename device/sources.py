"""Frame sources behind one interface: OpenCV camera, video file or stream, image folder, picamera2.

``read()`` returns the next :class:`Frame`, or ``None`` at the end of a finite source (video file, image
folder). A live source (camera, network stream) that stops delivering frames raises ``CameraError``:
the caller decides whether to re-open it. An image folder raises ``ImageDecodeError`` for a file it cannot
decode and goes on with the next file on the next ``read()``: the caller decides whether to skip it.
Decoding happens inside ``read()``, so timing ``read()`` measures capture + decode.

``stills`` tells a continuous stream (camera, video, stream, picamera2: consecutive frames show the same
faces, so they may be tracked and smoothed) from independent still images (image folder, single image: each
frame stands alone).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
PICAMERA2 = "picamera2"
PICAMERA2_HINT = (
    "picamera2 is not installed: on Raspberry Pi OS run 'sudo apt install python3-picamera2' "
    "and create the venv with --system-site-packages"
)


class SourceError(Exception):
    """A source cannot be opened or read (missing file, undecodable image or video)."""


class CameraError(SourceError):
    """A live source (camera, stream) cannot be opened or stopped delivering frames."""


class ImageDecodeError(SourceError):
    """One image of a folder cannot be decoded; the source goes on with the next file."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class Frame:
    """One captured frame. ``gray`` is None unless the source has a cheap gray image (picamera2's lores Y plane),
    which may be smaller than ``bgr``. ``timestamp``: seconds (media time for files, ``time.monotonic()`` else)."""

    index: int
    bgr: np.ndarray
    gray: np.ndarray | None
    timestamp: float


class FrameSource(Protocol):
    name: str
    live: bool  # frames come from a camera/stream that may stop: re-opening it may help
    stills: bool  # frames are independent still images, not a continuous stream: no tracking across them
    fps: float | None

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> None: ...


class _Source:
    """Context-manager plumbing and the frame counter shared by every source."""

    name: str = "source"
    live: bool = False
    stills: bool = False
    fps: float | None = None
    _next_index: int = 0

    def _frame(self, bgr: np.ndarray, gray: np.ndarray | None = None, timestamp: float | None = None) -> Frame:
        frame = Frame(self._next_index, bgr, gray, time.monotonic() if timestamp is None else timestamp)
        self._next_index += 1
        return frame

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (e.g. "can't open camera by index") while opening: we report in one line."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _open_capture(target: int | str) -> cv2.VideoCapture:
    with quiet_opencv():
        return cv2.VideoCapture(target)


def _fps(capture: cv2.VideoCapture) -> float | None:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0.0 < fps < 1000.0 else None


class OpenCVCamera(_Source):
    """A camera by index (``cv2.VideoCapture(index)``), optionally asking for a capture size."""

    live = True

    def __init__(self, index: int, width: int | None = None, height: int | None = None) -> None:
        self.index = index
        self.name = f"camera index {index}"
        self._capture = _open_capture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"{self.name}: cannot be opened (no such camera, or it is busy)")
        if width:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.fps = _fps(self._capture)

    def read(self) -> Frame | None:
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            raise CameraError(f"{self.name}: no frame at frame {self._next_index} (camera disconnected or stopped)")
        return self._frame(bgr)

    def close(self) -> None:
        self._capture.release()


class VideoFileSource(_Source):
    """A video file (ends cleanly: ``read()`` -> None), or with ``live=True`` a stream URL (stop -> CameraError)."""

    def __init__(self, path: str | Path, live: bool = False) -> None:
        self.path = str(path)
        self.live = live
        self.name = f"stream {self.path}" if live else f"video {self.path}"
        if not live and not Path(self.path).is_file():
            raise SourceError(f"{self.name}: file not found")
        self._capture = _open_capture(self.path)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"{self.name}: cannot be opened (expected a video OpenCV/FFmpeg can decode)")
        self.fps = _fps(self._capture)

    def read(self) -> Frame | None:
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            if self.live:
                raise CameraError(f"{self.name}: no frame at frame {self._next_index} (stream stopped)")
            return None
        media_time = None if self.live else float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        return self._frame(bgr, timestamp=media_time)

    def close(self) -> None:
        self._capture.release()


def list_images(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageFolderSource(_Source):
    """The images of a folder in name order (or one image file), one frame each: independent stills."""

    stills = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._position = 0  # the next file; frame indices count the frames delivered
        self.name = f"images {self.path}"
        if self.path.is_dir():
            self.files = list_images(self.path)
        elif self.path.is_file():
            self.files = [self.path]
        else:
            raise SourceError(f"{self.name}: no such folder or file")
        if not self.files:
            raise SourceError(f"{self.name}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")

    def read(self) -> Frame | None:
        """The next image; ``ImageDecodeError`` for an undecodable file (the next call reads the file after it)."""
        if self._position >= len(self.files):
            return None
        position, file = self._position, self.files[self._position]
        self._position += 1
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageDecodeError(f"image {file}: cannot be decoded (frame {position}; expected an image file)", file)
        return self._frame(bgr)


class Picamera2Source(_Source):
    """Raspberry Pi camera: a ``main`` BGR stream to show and a ``lores`` YUV420 stream whose Y plane is the
    gray detection frame. ``picamera2`` is imported only here, when the source is opened."""

    live = True

    def __init__(self, main_size: tuple[int, int] = (640, 480), lores_size: tuple[int, int] = (320, 240)) -> None:
        self.name = PICAMERA2
        self.main_size, self.lores_size = _even(main_size), _even(lores_size)
        if self.lores_size[0] > self.main_size[0] or self.lores_size[1] > self.main_size[1]:
            raise SourceError(f"picamera2: lores size {self.lores_size} must not exceed main size {self.main_size}")
        try:
            module = importlib.import_module("picamera2")
        except ImportError as exc:
            raise CameraError(PICAMERA2_HINT) from exc
        try:
            self._camera: Any = module.Picamera2()
            config = self._camera.create_preview_configuration(
                main={"size": self.main_size, "format": "RGB888"},  # RGB888 is B,G,R in memory: OpenCV's BGR
                lores={"size": self.lores_size, "format": "YUV420"},
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as exc:  # noqa: BLE001 - picamera2/libcamera raise many types; report them in one line
            raise CameraError(f"picamera2: cannot start the camera ({type(exc).__name__}: {exc})") from exc

    def read(self) -> Frame | None:
        try:
            request = self._camera.capture_request()
            try:
                main = request.make_array("main")
                lores = request.make_array("lores")
            finally:
                request.release()
        except Exception as exc:  # noqa: BLE001
            raise CameraError(f"picamera2: no frame at frame {self._next_index} ({type(exc).__name__}: {exc})") from exc
        width, height = self.lores_size
        gray = np.ascontiguousarray(lores[:height, :width])  # YUV420 planar: the first `height` rows are Y
        bgr = main[:, :, :3] if main.ndim == 3 and main.shape[2] == 4 else main
        return self._frame(np.ascontiguousarray(bgr), gray)

    def close(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return int(size[0]) // 2 * 2, int(size[1]) // 2 * 2


def open_source(
    spec: str | int,
    width: int | None = None,
    height: int | None = None,
    lores_size: tuple[int, int] = (320, 240),
) -> FrameSource:
    """``spec``: a camera index ("0"), ``picamera2``, a video file, a stream URL (``rtsp://...``), an image folder
    or an image file. ``width``/``height`` ask a camera for a capture size (picamera2: the main stream)."""
    text = str(spec).strip()
    if text.isdigit():
        return OpenCVCamera(int(text), width, height)
    if text == PICAMERA2:
        return Picamera2Source((width or 640, height or 480), lores_size)
    if "://" in text:
        return VideoFileSource(text, live=True)
    path = Path(text).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    raise SourceError(
        f"source {text!r}: no such file or folder (expected a camera index, 'picamera2', a video file, "
        "a stream URL or an image folder)"
    )
