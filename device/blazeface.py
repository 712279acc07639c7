"""BlazeFace, Google's mobile face detector (MediaPipe Face Detection), on a TFLite interpreter: no MediaPipe needed.

Two models, shipped in ``device/models/`` (``python -m device.models.fetch`` re-extracts them from the pinned
MediaPipe wheel; ``detectors.json`` records their sizes, hashes and licence):

- short-range (``face_detection_short_range.tflite``): faces within about 2 m; 128x128 input, 896 anchors
  (stride 8 with 2 anchors a cell, stride 16 with 6);
- full-range (``face_detection_full_range_sparse.tflite``): faces up to about 5 m; 192x192 input, 2,304 anchors
  (stride 4, 1 anchor a cell).

The chain is MediaPipe's ``FaceDetection`` graph, option for option (read from the 0.10.21 wheel): the frame is
letterboxed to the square input in one bilinear warp (aspect ratio kept, centred, zero padding: MediaPipe's
ImageToTensorCalculator on the CPU), RGB in [-1, 1]; SSD anchors with offset 0.5 and a fixed size of 1; a box is
``anchor + raw / input_size`` (centre, and width/height without the anchor); six keypoints the same way; score
``sigmoid(clip(logit, -100, 100))``, kept when >= the threshold (MediaPipe's: 0.5 short-range, 0.6 full-range);
then weighted non-max suppression (IoU > 0.3: overlapping detections are blended, weighted by score, into the best
one, which keeps its score) in the input's coordinates; boxes and keypoints are finally mapped back to the frame's
pixels. On the test photos this gives MediaPipe 0.10.21's own detections (``tests/fixtures/blazeface_reference.json``)
to within rounding: same scores, keypoints within 1e-4 of the box side.

**Refinement** (``refine``; on by default for the short-range model; not MediaPipe's): each face found in the
whole frame is detected again in a square ``refine`` times its box side around it (2.0: the face spans about half
the input, as in the selfies the short-range model was made for) and takes the box found there. In the whole frame
a face often covers only 15-50 of the input's 128 pixels, so its box is coarse; in the second look it covers about
64. A face not found again is dropped: on the real-content frames of ``python -m benchmarks run --parts camera``
that removed every false face and no true one (the camera table has the one-pass detector beside it). One more
interpreter run per face; the first pass alone is ``refine=0`` (``python -m device --refine 0``). Off by default for
the full-range model, which missed many faces that fill half the square. The framing calibration is fitted to the
refined boxes (``device/models/framing.json`` keeps the one pass's too, as ``blazeface:refine=0``).

**Following faces** (``search_every``; the demo's ``--search-every``, 1 in the library): on a video, the refined
faces of the previous frame are looked for again around where they were (one run each) instead of searching the
whole frame first; the whole frame is searched every ``search_every`` frames, and at once when a face is lost. A
face that enters the picture is found within that many frames. ``reset()`` forgets the faces (the next frame is
unrelated: stills, a new video). Independent images (calibration, benchmark canvases) use 1.

Boxes are the detector's own, not clipped to the frame, and tighter than FER2013's framing of a face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.paths import project_root
from device.detector import MAX_SEARCH_EVERY, REFINE_CONTEXT, Box, DetectorError, default_refine, refine_problem
from device.interpreter import InterpreterNotFoundError, load_interpreter

MODELS_DIR = Path("device") / "models"
NUM_COORDS = 16  # box centre x, y, width, height, then 6 keypoints (x, y)
NUM_KEYPOINTS = 6
# In the model's order; "right"/"left" are the person's own (their right eye is on the image's left).
KEYPOINT_NAMES: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
)
SCORE_CLIP = 100.0  # TensorsToDetectionsCalculator's score_clipping_thresh
ANCHOR_OFFSET = 0.5  # SsdAnchorsCalculator's anchor_offset_x/y (fixed_anchor_size: every anchor is 1 x 1)
DEFAULT_IOU_THRESHOLD = 0.3  # NonMaxSuppressionCalculator's min_suppression_threshold
# Refinement: REFINE_CONTEXT (device.detector) is the second look's square, as a multiple of the first box's longer
# side (chosen on Training-split faces placed as the calibration places them: 2.0 and 1.6 framed alike, 2.0 dropped
# fewer true faces); a box found there needs REFINE_MATCH_IOU with the first box to count as the same face.
REFINE_MATCH_IOU = 0.3
SAME_FACE_IOU = 0.5  # two followed faces that end up on one face: the larger box is kept


@dataclass(frozen=True)
class BlazeFaceVariant:
    """One BlazeFace model and its anchor layout (MediaPipe's FaceDetectionOptions for it)."""

    key: str  # "short" or "full"
    name: str
    file: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float  # > 0: one more anchor per layer (MediaPipe's SSD option)
    detector: str  # the name make_detector() knows it by
    # MediaPipe's min_score_thresh for the model. The legacy Python solution keeps the full-range graph's 0.6 whatever
    # its min_detection_confidence says (checked: only 0.6 reproduces its blended boxes).
    score_threshold: float

    @property
    def default_path(self) -> Path:
        return project_root() / MODELS_DIR / self.file


VARIANTS: dict[str, BlazeFaceVariant] = {
    "short": BlazeFaceVariant(
        "short", "short-range", "face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0, "blazeface", 0.5
    ),
    "full": BlazeFaceVariant(
        "full", "full-range", "face_detection_full_range_sparse.tflite", 192, (4,), 0.0, "blazeface-full", 0.6
    ),
}


def ssd_anchors(
    input_size: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float, offset: float = ANCHOR_OFFSET
) -> np.ndarray:
    """(N, 2) anchor centres (x, y), normalised to the input, in the models' output order.

    MediaPipe's SsdAnchorsCalculator with one aspect ratio and a fixed anchor size: consecutive layers of the same
    stride share one grid, and each layer puts one anchor per cell (two with an interpolated scale) on it; the
    order is grid row, grid column, anchor.
    """
    per_layer = 1 + (1 if interpolated_scale_aspect_ratio > 0 else 0)
    grids: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = per_layer * (same - layer)
        cells = int(np.ceil(input_size / strides[layer]))
        centres = (np.arange(cells, dtype=np.float64) + offset) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        grids.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(grids, axis=0)


def _iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of ``box`` (x0, y0, x1, y1) with each row of ``boxes``."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0, None)
    inter = iw * ih
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def weighted_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    keypoints: np.ndarray,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    blend: bool = True,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Non-max suppression, best score first: ``[(box (4,), keypoints (K, 2), score), ...]``.

    ``boxes`` (N, 4) as x0, y0, x1, y1; ``keypoints`` (N, K, 2). Every detection whose IoU with the best remaining
    one is above ``iou_threshold`` joins its group. With ``blend`` (MediaPipe's WEIGHTED algorithm) the group's
    corners and keypoints are averaged, weighted by score; without it, the best one is kept as it is (plain NMS).
    The result keeps the best one's score either way.
    """
    remaining = np.argsort(-scores, kind="stable")
    kept: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.size:
        best = remaining[0]
        member = _iou_one_to_many(boxes[best], boxes[remaining]) > iou_threshold
        member[0] = True  # the best one always leaves the list (MediaPipe would stop at a degenerate box)
        group = remaining[member]
        if blend:
            weights = scores[group] / scores[group].sum()
            box = np.tensordot(weights, boxes[group], axes=1)
            points = np.tensordot(weights, keypoints[group], axes=1)
        else:
            box, points = boxes[best].copy(), keypoints[best].copy()
        kept.append((box, points, float(scores[best])))
        remaining = remaining[~member]
    return kept


@dataclass(frozen=True)
class Letterbox:
    """Where the frame went in the square input: ``frame_px = input_px * scale + origin`` (origin < 0: padding)."""

    x_origin: float
    y_origin: float
    scale: float  # frame pixels per input pixel

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        """The frame's longer side spans the input, the shorter one centred (MediaPipe's keep_aspect_ratio ROI)."""
        side = max(width, height)
        return cls((width - side) / 2.0, (height - side) / 2.0, side / size)

    @classmethod
    def around(cls, box: Box, context: float, size: int) -> Letterbox:
        """A square ``context`` times the box's longer side, centred on the box (parts outside the frame: zero)."""
        side = max(1.0, context * max(box.w, box.h))
        return cls(box.x + box.w / 2.0 - side / 2.0, box.y + box.h / 2.0 - side / 2.0, side / size)

    def matrix(self) -> np.ndarray:
        """The 2x3 affine matrix from frame pixels to input pixels (for ``cv2.warpAffine``)."""
        return np.array([[1.0, 0.0, -self.x_origin], [0.0, 1.0, -self.y_origin]]) / self.scale


@dataclass(frozen=True)
class BlazeFaceOptions:
    variant: str = "short"  # "short" (faces within ~2 m) or "full" (up to ~5 m)
    model_path: Path | None = None  # None: the variant's file in device/models/
    score_threshold: float | None = None  # None: MediaPipe's for the variant (0.5 short-range, 0.6 full-range)
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    blend: bool = True  # MediaPipe's weighted NMS; False: plain NMS
    num_threads: int = 1
    max_faces: int | None = None  # keep this many largest faces (None: all)
    # Detect each face again in a square this many times its box around it, take that box, drop faces not found
    # again (module doc); 0: one pass, MediaPipe's chain as it is.
    refine: float | None = None  # None: the variant's default (device.detector.DEFAULT_REFINE: short 2, full 0)
    # With ``refine``: search the whole frame every this many frames and follow the faces found in between (module
    # doc); 1: every frame (stateless).
    search_every: int = 1


def _distinct(boxes: list[Box]) -> list[Box]:
    """Largest first, without a box that mostly overlaps a larger one (two looks that found the same face)."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.area, reverse=True):
        if all(box.iou(other) < SAME_FACE_IOU for other in kept):
            kept.append(box)
    return kept


def _shape_str(shape: Any, dtype: Any = None) -> str:
    text = "[" + ",".join(str(int(d)) for d in shape) + "]"
    return text if dtype is None else f"{text} {np.dtype(dtype).name}"


class BlazeFaceDetector:
    """``detect(gray, bgr=None) -> [Box]``, largest first, in the frame's pixels, each with its six keypoints.

    Detects on ``bgr`` when it is given and the same size as ``gray`` (BlazeFace is a colour model), else on
    ``gray`` (a 2-D frame is repeated into three channels; a 3-channel one is taken as BGR).
    ``interpreter``: an already loaded one (tests); its tensors are checked like a file's.
    """

    def __init__(self, options: BlazeFaceOptions = BlazeFaceOptions(), interpreter: Any = None) -> None:
        if options.variant not in VARIANTS:
            expected = ", ".join(VARIANTS)
            raise DetectorError(f"BlazeFace variant {options.variant!r}: unknown, expected one of {expected}")
        self.options = options
        self.variant = VARIANTS[options.variant]
        threshold = options.score_threshold
        self.score_threshold = self.variant.score_threshold if threshold is None else threshold
        for name, value in (("score_threshold", self.score_threshold), ("iou_threshold", options.iou_threshold)):
            if not 0.0 <= value <= 1.0:
                raise DetectorError(f"BlazeFace {name} {value}: expected a value in 0..1")
        refine = default_refine(self.variant.detector) if options.refine is None else options.refine
        problem = refine_problem(refine)
        if problem:
            raise DetectorError(f"BlazeFace refine {refine!r}: {problem}")
        self.refine_context = float(refine)
        if isinstance(options.search_every, bool) or not (
            isinstance(options.search_every, int) and 1 <= options.search_every <= MAX_SEARCH_EVERY
        ):
            raise DetectorError(f"BlazeFace search_every {options.search_every!r}: expected a whole number of frames, "
                                f"1..{MAX_SEARCH_EVERY}")
        if options.max_faces is not None and options.max_faces < 1:
            raise DetectorError(f"BlazeFace max_faces {options.max_faces}: expected >= 1 or None (all)")
        self.model_path = Path(options.model_path) if options.model_path is not None else self.variant.default_path
        self.input_size = self.variant.input_size
        self.anchors = ssd_anchors(self.input_size, self.variant.strides, self.variant.interpolated_scale_aspect_ratio)
        self._interpreter = interpreter if interpreter is not None else self._load()
        self._check_contract()
        size = self.input_size
        self._canvas = np.zeros((size, size, 3), np.uint8)
        self._input = np.zeros((1, size, size, 3), np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the faces being followed: the next frame is searched whole."""
        self._followed: list[Box] = []
        self._frame_shape: tuple[int, ...] | None = None
        self._since_search = 0

    @property
    def label(self) -> str:
        return f"BlazeFace {self.variant.name} model {self.model_path}"

    def _load(self) -> Any:
        path = self.model_path
        if not path.is_file():
            raise DetectorError(
                f"{self.label}: file not found (expected {self.variant.file}; "
                "restore it with: python -m device.models.fetch)"
            )
        try:
            return load_interpreter(path, self.options.num_threads)
        except InterpreterNotFoundError as exc:
            raise DetectorError(f"{self.label}: {exc}") from exc
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DetectorError(f"{self.label}: not a valid TFLite model, truncated or corrupt? ({reason})") from exc

    def _expected(self) -> str:
        size, n = self.input_size, len(self.anchors)
        return (
            f"expected input [1,{size},{size},3] float32 and outputs [1,{n},{NUM_COORDS}] and [1,{n},1] float32 "
            f"(BlazeFace {self.variant.name}, {self.variant.file})"
        )

    def _check_contract(self) -> None:
        """Raise ``DetectorError`` unless the model's tensors are BlazeFace's for this variant."""
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        found = "inputs " + ", ".join(_shape_str(d["shape"], d["dtype"]) for d in inputs)
        found += "; outputs " + ", ".join(_shape_str(d["shape"], d["dtype"]) for d in outputs)
        problem = f"{self.label}: {found}, {self._expected()}"
        other = next(v for v in VARIANTS.values() if v is not self.variant)
        if len(inputs) == 1 and tuple(int(d) for d in inputs[0]["shape"]) == (1, other.input_size, other.input_size, 3):
            problem += f"; this looks like the {other.name} model: use --detector {other.detector}"
        if len(inputs) != 1 or len(outputs) != 2:
            raise DetectorError(problem)
        size, n = self.input_size, len(self.anchors)
        if tuple(int(d) for d in inputs[0]["shape"]) != (1, size, size, 3):
            raise DetectorError(problem)
        by_shape = {tuple(int(d) for d in o["shape"]): o for o in outputs}
        boxes, scores = by_shape.get((1, n, NUM_COORDS)), by_shape.get((1, n, 1))
        if boxes is None or scores is None:
            raise DetectorError(problem)
        if any(np.dtype(d["dtype"]) != np.float32 for d in (inputs[0], boxes, scores)):
            raise DetectorError(problem)
        self._input_index = inputs[0]["index"]
        self._boxes_index, self._scores_index = boxes["index"], scores["index"]

    def letterbox(self, image: np.ndarray, placement: Letterbox | None = None) -> Letterbox:
        """Fill the input tensor with ``image`` (H x W gray, or H x W x 3/4 BGR) letterboxed, or with the square
        ``placement`` of it; where it went.

        One bilinear warp from the frame straight to the input (zero outside it), as MediaPipe's CPU path does: the
        same pixels, hence the same detections, and only the input's pixels are computed.
        """
        size = self.input_size
        placement = placement or Letterbox.fit(image.shape[1], image.shape[0], size)
        warped = cv2.warpAffine(
            image,
            placement.matrix(),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        canvas = self._canvas
        if warped.ndim == 2:
            canvas[...] = warped[..., None]
        else:
            canvas[...] = warped[..., 2::-1]  # BGR(A) -> RGB
        np.multiply(canvas, np.float32(2.0 / 255.0), out=self._input[0], casting="unsafe")
        self._input -= np.float32(1.0)
        return placement

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        image = bgr if bgr is not None else gray  # boxes in the shown frame's coordinates, whatever its size
        if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
            return []
        if not self.refine_context:
            return self._run(image, None)[: self.options.max_faces]
        found = self._follow(image)
        if found is None:  # search the whole frame, then look again at each face
            found = [box for box in (self.refine(image, b) for b in self._run(image, None)) if box is not None]
            self._since_search = 0
        found = _distinct(found)
        if self.options.search_every > 1:
            self._followed, self._frame_shape = found, image.shape
        return found[: self.options.max_faces]

    def _follow(self, image: np.ndarray) -> list[Box] | None:
        """The followed faces looked for again, or None when the whole frame is due for a search (time for one,
        no face followed, another frame size, or a face lost)."""
        self._since_search += 1
        if (
            self.options.search_every <= 1
            or self._since_search >= self.options.search_every
            or not self._followed
            or image.shape != self._frame_shape
        ):
            return None
        found = [self.refine(image, box) for box in self._followed]
        return None if any(box is None for box in found) else found

    def refine(self, image: np.ndarray, box: Box) -> Box | None:
        """The face of ``box`` detected again in a square ``refine_context`` times its side around it: the box found
        there that overlaps it most (IoU >= 0.3), or None (not found again). Keypoints and score are the new look's."""
        context = self.refine_context or REFINE_CONTEXT
        again = self._run(image, Letterbox.around(box, context, self.input_size))
        best = max(again, key=box.iou, default=None)
        return best if best is not None and box.iou(best) >= REFINE_MATCH_IOU else None

    def _run(self, image: np.ndarray, placement: Letterbox | None) -> list[Box]:
        """One pass of the model over the letterboxed frame (``placement`` None) or a square of it."""
        placement = self.letterbox(image, placement)
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_index)[0]
        raw_scores = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        return self.decode(raw_boxes, raw_scores, placement)

    def decode(self, raw_boxes: np.ndarray, raw_scores: np.ndarray, placement: Letterbox) -> list[Box]:
        """The model's raw outputs ((N, 16) regressors, (N,) logits) -> all boxes in frame pixels, largest first."""
        logits = np.clip(np.asarray(raw_scores, np.float64), -SCORE_CLIP, SCORE_CLIP)
        scores = 1.0 / (1.0 + np.exp(-logits))
        selected = np.nonzero(scores >= self.score_threshold)[0]
        if selected.size == 0:
            return []
        size = float(self.input_size)
        raw = np.asarray(raw_boxes, np.float64)[selected] / size
        anchors = self.anchors[selected]
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = raw[:, 4:NUM_COORDS].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
        valid = np.all(np.isfinite(boxes), axis=1) & (raw[:, 2] > 0) & (raw[:, 3] > 0)
        if not valid.any():
            return []
        kept = weighted_nms(
            boxes[valid], scores[selected][valid], keypoints[valid], self.options.iou_threshold, self.options.blend
        )
        origin = np.array([placement.x_origin, placement.y_origin], np.float64)
        to_frame = size * placement.scale  # normalised input -> frame pixels
        found = []
        for box, points, score in kept:
            corners = box.reshape(2, 2) * to_frame + origin
            (x0, y0), (x1, y1) = np.round(corners).astype(int)
            frame_points = points * to_frame + origin
            found.append(
                Box(
                    int(x0),
                    int(y0),
                    int(x1 - x0),
                    int(y1 - y0),
                    score,
                    keypoints=tuple((float(x), float(y)) for x, y in frame_points),
                )
            )
        found.sort(key=lambda b: b.area, reverse=True)
        return found
