"""Face detection behind one interface: BlazeFace (shipped TFLite models, ``device.blazeface``; the default),
OpenCV's Haar cascade (built in) or YuNet (user-supplied model).

``detect(gray, bgr=None)`` takes the gray frame (Haar's input) and, optionally, the BGR frame shown to the user
(BlazeFace's and YuNet's input; they convert the gray frame when ``bgr`` is None). The gray frame may be smaller
than the BGR one (picamera2's lores stream). Boxes come back once, in the coordinates of ``bgr`` when it is given
(else of ``gray``), largest first: nothing downstream rescales or re-sorts them. BlazeFace's boxes also carry six
keypoints (``Box.keypoints``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

# BlazeFace short-range (the default) and full-range, Haar, YuNet
DETECTORS: tuple[str, ...] = ("blazeface", "blazeface-full", "haar", "yunet")
BLAZEFACE: tuple[str, ...] = ("blazeface", "blazeface-full")
# BlazeFace's second look at each face (device.blazeface): the square's side as a multiple of the face box; 0: off.
# On by default for the short-range model only: the full-range one missed many faces that fill half the square
# (python -m benchmarks calibrate --data ... --detectors blazeface-full blazeface-full:refine=2 --out /tmp/f.json
# found 250 of 600 placed faces without it, 203 with it).
REFINE_CONTEXT = 2.0
DEFAULT_REFINE: dict[str, float] = {"blazeface": REFINE_CONTEXT, "blazeface-full": 0.0}
MAX_REFINE = 8.0
# The demo follows faces between whole-frame searches (device.blazeface): a search every this many frames.
DEFAULT_SEARCH_EVERY = 8
MAX_SEARCH_EVERY = 1000
# A detector *setting*: its name, or BlazeFace with another refinement ("blazeface:refine=0", the one-pass detector).
# framing.json keeps one transform per setting and the benchmark compares settings.
ONE_PASS: tuple[str, ...] = ("blazeface:refine=0",)
DETECTOR_SETTINGS: tuple[str, ...] = DETECTORS + ONE_PASS + ("blazeface-full:refine=2",)
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# Where distribution builds of OpenCV (e.g. Raspberry Pi OS's python3-opencv) keep the cascades.
SYSTEM_CASCADE_DIRS: tuple[str, ...] = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)
HAAR_MIN_WINDOW = 24  # the cascade's training window, in pixels


class DetectorError(Exception):
    """A detector could not be built (missing or invalid model file, unknown name)."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    # Landmarks in the same pixel coordinates, when the detector gives them (BlazeFace: the six points of
    # ``device.blazeface.KEYPOINT_NAMES``); None otherwise.
    keypoints: tuple[tuple[float, float], ...] | None = None

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def iou(self, other: Box) -> float:
        """Intersection over union, 0..1."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, sx: float, sy: float | None = None) -> Box:
        sy = sx if sy is None else sy
        return Box(
            int(round(self.x * sx)),
            int(round(self.y * sy)),
            int(round(self.w * sx)),
            int(round(self.h * sy)),
            self.score,
            None if self.keypoints is None else tuple((x * sx, y * sy) for x, y in self.keypoints),
        )

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


class FaceDetector(Protocol):
    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        """Faces in the frame, in ``gray``'s pixel coordinates."""
        ...


def _target_size(gray: np.ndarray, bgr: np.ndarray | None) -> tuple[int, int]:
    """(width, height) of the frame boxes are returned in: the BGR frame when given, else the gray one."""
    frame = bgr if bgr is not None else gray
    return frame.shape[1], frame.shape[0]


def _largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: b.area, reverse=True)


def _downscale(image: np.ndarray, detect_width: int) -> tuple[np.ndarray, float]:
    """(image no wider than ``detect_width``, factor to multiply its coordinates by to get the original's)."""
    width = image.shape[1]
    if detect_width <= 0 or width <= detect_width:
        return image, 1.0
    factor = detect_width / width
    small = cv2.resize(image, (detect_width, max(1, int(round(image.shape[0] * factor)))), interpolation=cv2.INTER_AREA)
    return small, width / detect_width


def find_cascade(name: str = HAAR_CASCADE) -> Path:
    """The cascade file from the OpenCV wheel (``cv2.data``), else from a system OpenCV install."""
    dirs = [getattr(getattr(cv2, "data", None), "haarcascades", None), *SYSTEM_CASCADE_DIRS]
    for folder in dirs:
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    raise DetectorError(f"Haar cascade {name} not found in cv2.data or {', '.join(SYSTEM_CASCADE_DIRS)}")


@dataclass(frozen=True)
class HaarOptions:
    detect_width: int = 320  # detect on a frame downscaled to this width (0: full size)
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size_frac: float = 0.08  # smallest face, as a fraction of the detection frame's width
    cascade: str = HAAR_CASCADE


class HaarDetector:
    """OpenCV Haar cascade on a downscaled gray frame; boxes mapped back to full size."""

    def __init__(self, options: HaarOptions = HaarOptions()) -> None:
        self.options = options
        path = find_cascade(options.cascade)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DetectorError(f"Haar cascade {path}: could not be loaded")

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        small, _ = _downscale(gray, self.options.detect_width)
        width, height = _target_size(gray, bgr)
        min_side = max(HAAR_MIN_WINDOW, int(self.options.min_size_frac * small.shape[1]))
        found = self._cascade.detectMultiScale(
            small,
            scaleFactor=self.options.scale_factor,
            minNeighbors=self.options.min_neighbors,
            minSize=(min_side, min_side),
        )
        sx, sy = width / small.shape[1], height / small.shape[0]
        return _largest_first([Box(int(x), int(y), int(w), int(h)).scaled(sx, sy) for x, y, w, h in found])


class YuNetDetector:
    """YuNet face detector (``cv2.FaceDetectorYN``, OpenCV >= 4.5.4) from a user-supplied ONNX model."""

    def __init__(
        self, model_path: str | Path, score_threshold: float = 0.7, nms_threshold: float = 0.3, detect_width: int = 320
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise DetectorError(f"YuNet model {path}: file not found (expected face_detection_yunet_*.onnx)")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorError(f"YuNet needs OpenCV >= 4.5.4 (cv2.FaceDetectorYN); this is {cv2.__version__}")
        self.detect_width = detect_width
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
            raise DetectorError(f"YuNet model {path}: could not be loaded ({reason})") from exc
        self._input_size: tuple[int, int] | None = None

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        image = bgr if bgr is not None else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        small, factor = _downscale(image, self.detect_width)
        size = (small.shape[1], small.shape[0])
        if size != self._input_size:
            self._net.setInputSize(size)
            self._input_size = size
        _, faces = self._net.detect(small)
        if faces is None:
            return []
        return _largest_first([Box(int(f[0]), int(f[1]), int(f[2]), int(f[3]), float(f[-1])).scaled(factor)
                               for f in faces])


def parse_setting(setting: str) -> tuple[str, float | None]:
    """``"blazeface"`` -> ("blazeface", None: the default refinement); ``"blazeface:refine=0"`` -> ("blazeface", 0)."""
    name, sep, rest = setting.partition(":")
    if not sep:
        return name, None
    key, _, value = rest.partition("=")
    try:
        refine = float(value)
    except ValueError:
        refine = math.nan
    if name not in BLAZEFACE or key != "refine" or not math.isfinite(refine):
        raise DetectorError(f"detector {setting!r}: expected a name ({', '.join(DETECTORS)}) or "
                            "blazeface[-full]:refine=NUMBER")
    return name, refine


def refine_problem(value: object) -> str | None:
    """Why ``value`` is not a BlazeFace refinement (None when it is): 0 (off) or a square 1..MAX_REFINE times it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
        value == 0 or 1.0 <= value <= MAX_REFINE
    ):
        return f"expected 0 (off) or a multiple of the face box, 1..{MAX_REFINE:g}"
    return None


def resolve_setting(name: str, refine: float | None = None) -> tuple[str, float | None]:
    """(detector name, refinement asked for): ``refine`` when given, else the one the setting names (None: none)."""
    base, own = parse_setting(name)
    return base, own if refine is None else refine


def default_refine(name: str) -> float:
    """BlazeFace's refinement when none is asked for (0 for other detectors: they have none)."""
    return DEFAULT_REFINE.get(name, 0.0)


def setting_key(name: str, refine: float | None = None) -> str:
    """The setting's name in framing.json and the benchmark: the detector's name when it runs as it does by default,
    else ``name:refine=R`` (BlazeFace with another refinement). ``refine`` None: the one ``name`` says, if any."""
    base, refine = resolve_setting(name, refine)
    if base not in BLAZEFACE or refine is None or refine == default_refine(base):
        return base
    return f"{base}:refine={refine:g}"


def make_detector(name: str, model: Path | None = None, detect_width: int = 320, threads: int = 1,
                  refine: float | None = None, search_every: int = 1) -> FaceDetector:
    """``blazeface`` / ``blazeface-full`` (BlazeFace short/full-range; ``model`` overrides the shipped file;
    ``detect_width`` is not used: the frame is letterboxed to the model's input), ``haar`` (built in; ``model`` is
    ignored) or ``yunet`` (needs ``model``, an ONNX file). ``threads``: BlazeFace's interpreter threads.

    BlazeFace only: ``refine`` (None: :data:`DEFAULT_REFINE`'s, or what a setting such as ``blazeface:refine=0`` says)
    and ``search_every`` (1: every frame searched whole; more: faces followed in between, for video)."""
    name, refine = resolve_setting(name, refine)
    if name in BLAZEFACE:
        from device.blazeface import BlazeFaceDetector, BlazeFaceOptions  # it imports Box from here

        variant = "full" if name == "blazeface-full" else "short"
        return BlazeFaceDetector(BlazeFaceOptions(variant=variant, model_path=model, num_threads=threads,
                                                  refine=refine,
                                                  search_every=search_every))
    if name == "haar":
        return HaarDetector(HaarOptions(detect_width=detect_width))
    if name == "yunet":
        if model is None:
            raise DetectorError("detector yunet: needs a model file (--detector-model face_detection_yunet_*.onnx)")
        return YuNetDetector(model, detect_width=detect_width)
    raise DetectorError(f"detector {name!r}: unknown, expected one of {', '.join(DETECTORS)}")
