"""EmotionClassifier on the tiny fixture models (float32 and full-int8), and its one-line model errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_images

from core.formats import FORMATS_BY_NAME
from core.labels import EMOTIONS
from device import classifier as classifier_module
from device.classifier import Classification, ClassifierOptions, EmotionClassifier, ModelError
from device.interpreter import load_interpreter


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_images(4, seed=7)  # (28, 48, 48) uint8, labels (28,)


def make(path: Path, threads: int = 1) -> EmotionClassifier:
    return EmotionClassifier(ClassifierOptions(path, threads))


def test_float_model_tensors(float_model: Path) -> None:
    clf = make(float_model)
    assert clf.input_dtype == np.float32 and clf.output_dtype == np.float32


def test_int8_model_reads_quantisation_from_the_model(int8_model: Path) -> None:
    clf = make(int8_model)
    assert clf.input_dtype == np.int8 and clf.output_dtype == np.int8
    details = load_interpreter(int8_model).get_input_details()[0]
    scale, zero_point = details["quantization"]
    assert clf.input_quantization == (pytest.approx(scale), zero_point)
    assert clf.input_quantization[0] > 0 and clf.output_quantization[0] > 0


def test_predict_proba_shapes_and_probabilities(any_model: Path, faces) -> None:
    clf = make(any_model, threads=2)
    x, _ = faces
    p = clf.predict_proba(x)
    assert p.shape == (len(x), 7) and p.dtype == np.float32
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=0.02)
    np.testing.assert_array_equal(clf.predict_proba(x[..., None]), p)
    np.testing.assert_allclose(clf.predict_proba(x.astype(np.float32)), p, atol=1e-6)
    assert clf.predict_proba(x[:0]).shape == (0, 7)


def test_classifies_raw_pixels(any_model: Path, faces) -> None:
    """The fixtures learned brightness-coded classes from raw 0..255 input: far above chance (1/7)."""
    x, y = faces
    assert (make(any_model).predict_proba(x).argmax(axis=1) == y).mean() >= 0.5


def test_int8_matches_float(float_model: Path, int8_model: Path, faces) -> None:
    x, _ = faces
    diff = np.abs(make(float_model).predict_proba(x) - make(int8_model).predict_proba(x)).max()
    assert diff <= FORMATS_BY_NAME["int8"].parity_tolerance


def test_classify(float_model: Path, faces) -> None:
    x, _ = faces
    results = make(float_model).classify(x[:3])
    assert len(results) == 3 and all(isinstance(r, Classification) for r in results)
    for r in results:
        assert r.label == EMOTIONS[r.index] and r.score == pytest.approx(float(r.probabilities.max()))


def test_rejects_bad_face_shapes(float_model: Path) -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 48, 48\)"):
        make(float_model).predict_proba(np.zeros((2, 64, 64), np.uint8))


def test_missing_model() -> None:
    with pytest.raises(ModelError, match="nope.tflite: file not found"):
        make(Path("/nonexistent/nope.tflite"))


@pytest.mark.parametrize("content", ["truncated", "empty", "text"])
def test_corrupt_model(float_model: Path, tmp_path: Path, content: str) -> None:
    data = {"truncated": float_model.read_bytes()[:400], "empty": b"", "text": b"not a model\n"}[content]
    path = tmp_path / f"{content}.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelError, match=f"{content}.tflite: not a valid TFLite model") as info:
        make(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("shape", "out_shape", "match"),
    [
        ((1, 64, 64, 3), (1, 7), r"input shape \[1,64,64,3\], expected \[1,48,48,1\]"),
        ((1, 48, 48), (1, 7), r"input shape \[1,48,48\], expected"),
        ((1, 48, 48, 1), (1, 5), r"output shape \[1,5\], expected \[1,7\]"),
    ],
)
def test_wrong_shape_model(monkeypatch, float_model: Path, shape, out_shape, match) -> None:
    def fake_load(path, num_threads):
        real = load_interpreter(path, num_threads)
        inp, out = dict(real.get_input_details()[0]), dict(real.get_output_details()[0])
        inp["shape"], out["shape"] = np.array(shape), np.array(out_shape)
        return type(
            "Patched", (), {"get_input_details": lambda self: [inp], "get_output_details": lambda self: [out]}
        )()

    monkeypatch.setattr(classifier_module, "load_interpreter", fake_load)
    with pytest.raises(ModelError, match=match):
        make(float_model)


def test_mirror_average_is_the_mean_of_face_and_mirror(any_model: Path, faces) -> None:
    x, _ = faces
    x = x.copy()
    x[:, :, :24] //= 3  # make every face left-right asymmetric, so the mirror image scores differently
    plain = make(any_model)
    mirrored = EmotionClassifier(ClassifierOptions(any_model, 1, mirror_average=True))
    single, flipped = plain.predict_proba(x), plain.predict_proba(x[:, :, ::-1])
    assert not np.allclose(single, flipped), "fixture faces should not be mirror-invariant"
    np.testing.assert_allclose(mirrored.predict_proba(x), (single + flipped) / 2, atol=1e-6)
    symmetric = np.concatenate([x[:, :, :24], x[:, :, :24][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(mirrored.predict_proba(symmetric), plain.predict_proba(symmetric), atol=1e-6)
    assert mirrored.predict_proba(x[:0]).shape == (0, 7)


def _with_manifest(tmp_path: Path, model: Path, **entry) -> Path:
    import shutil

    from core.fileio import atomic_write_json, sha256_file

    path = tmp_path / model.name
    shutil.copyfile(model, path)
    atomic_write_json(tmp_path / "manifest.json",
                      {"models": [{"file": path.name, "sha256": sha256_file(path), **entry}]})
    return path


def test_mirror_average_is_skipped_when_the_manifest_says_the_graph_does_it(tmp_path: Path, float_model: Path,
                                                                            faces) -> None:
    x, _ = faces
    path = _with_manifest(tmp_path, float_model, mirror_average=True)
    clf = EmotionClassifier(ClassifierOptions(path, 1, mirror_average=True))
    assert clf.mirrors_in_graph and not clf.mirror_views
    # The fixture model does not really mirror in its graph, so one view is visible in the scores.
    np.testing.assert_allclose(clf.predict_proba(x), make(float_model).predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("entry", [{"mirror_average": False}, {"mirror_average": True, "sha256": "0" * 64}])
def test_mirror_flag_needs_a_true_entry_for_this_very_file(tmp_path: Path, float_model: Path, entry) -> None:
    clf = EmotionClassifier(ClassifierOptions(_with_manifest(tmp_path, float_model, **entry), 1, mirror_average=True))
    assert not clf.mirrors_in_graph and clf.mirror_views
    assert not EmotionClassifier(ClassifierOptions(float_model)).mirrors_in_graph  # fixtures: no manifest


def test_unreadable_manifest_beside_the_model(tmp_path: Path, float_model: Path) -> None:
    path = _with_manifest(tmp_path, float_model)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"manifest\.json: not readable JSON"):
        EmotionClassifier(ClassifierOptions(path, 1, mirror_average=True))
    assert make(path).predict_proba(np.zeros((1, 48, 48))).shape == (1, 7)  # not consulted without mirroring


# --- Quantisation and the model contract, against a scripted interpreter whose numbers are chosen by hand -----------


def _detail(index: int, shape, dtype, scale: float = 0.0, zero_point: int = 0) -> dict:
    return {"index": index, "shape": np.array(shape), "dtype": dtype, "quantization": (scale, zero_point)}


class ScriptedInterpreter:
    """A stand-in for a TFLite interpreter: tensor details chosen by the test, every ``set_tensor`` recorded, and
    ``get_tensor`` answering the scripted outputs in turn (round robin)."""

    def __init__(self, inputs: list[dict], outputs: list[dict], results=()) -> None:
        self.inputs, self.outputs = inputs, outputs
        self.results = [np.asarray(r) for r in results]
        self.received: list[np.ndarray] = []
        self.invoked = 0

    def get_input_details(self) -> list[dict]:
        return self.inputs

    def get_output_details(self) -> list[dict]:
        return self.outputs

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        assert index == self.inputs[0]["index"]
        self.received.append(np.array(value, copy=True))

    def invoke(self) -> None:
        self.invoked += 1

    def get_tensor(self, index: int) -> np.ndarray:
        assert index == self.outputs[0]["index"]
        return self.results[(self.invoked - 1) % len(self.results)]


def _scripted(monkeypatch, float_model: Path, interpreter: ScriptedInterpreter) -> EmotionClassifier:
    monkeypatch.setattr(classifier_module, "load_interpreter", lambda path, num_threads: interpreter)
    return make(float_model)  # any existing file: the scripted interpreter stands in for it


INT8_IN = _detail(0, (1, 48, 48, 1), np.int8, 3.0, -43)
INT8_OUT = _detail(5, (1, 7), np.int8, 1 / 64, -20)


@pytest.mark.parametrize(
    ("scale", "zero_point", "pixels", "expected"),
    [
        # q = round(pixel / 3) - 43, by hand: 2/3 rounds to 1, 1/3 to 0, 128/3 = 42.7 to 43, 200/3 = 66.7 to 67
        (3.0, -43, [0, 1, 2, 3, 128, 129, 200, 255], [-43, -43, -42, -42, 0, 0, 24, 42]),
        # q = 4 * pixel - 100, clipped to int8: 57 * 4 - 100 = 128 is one past the top
        (0.25, -100, [0, 1, 5, 25, 31, 56, 57, 255], [-100, -96, -80, 0, 24, 124, 127, 127]),
    ],
)
def test_int8_input_uses_the_tensors_scale_and_zero_point(monkeypatch, float_model: Path, scale, zero_point,
                                                          pixels, expected) -> None:
    """The input tensor holds round(pixel / scale) + zero_point, clipped to int8: with a scale far from 1 and a
    non-zero zero point, dropping either from the quantisation changes the tensor."""
    out = np.array([[-20, 44, -4, 12, -16, 0, -19]], np.int8)
    interpreter = ScriptedInterpreter([_detail(0, (1, 48, 48, 1), np.int8, scale, zero_point)], [INT8_OUT],
                                      [out, out])
    clf = _scripted(monkeypatch, float_model, interpreter)
    face = np.resize(np.array(pixels, np.uint8), (48, 48))
    clf.predict_proba(np.stack([face, face[::-1]]))
    want = np.resize(np.array(expected, np.int8), (48, 48))
    assert len(interpreter.received) == 2
    for got, want_face in zip(interpreter.received, (want, want[::-1])):
        assert got.dtype == np.int8 and got.shape == (1, 48, 48, 1)
        np.testing.assert_array_equal(got[0, :, :, 0], want_face)


def test_int8_output_is_dequantised_with_the_tensors_scale_and_zero_point(monkeypatch, float_model: Path) -> None:
    """score = (q - zero_point) * scale, here (q + 20) / 64: exact in float32, worked out by hand."""
    raw = [np.array([[-20, 44, -4, 12, -16, 0, -19]], np.int8),
           np.array([[-128, 127, -20, -21, 108, 28, -52]], np.int8)]
    interpreter = ScriptedInterpreter([INT8_IN], [INT8_OUT], raw)
    clf = _scripted(monkeypatch, float_model, interpreter)
    got = clf.predict_proba(np.zeros((2, 48, 48), np.uint8))
    expected = np.array([[0.0, 1.0, 0.25, 0.5, 0.0625, 0.3125, 0.015625],
                         [-1.6875, 2.296875, 0.0, -0.015625, 2.0, 0.75, -0.5]], np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert clf.classify(np.zeros((1, 48, 48), np.uint8))[0].label == "disgust"


@pytest.mark.parametrize(
    ("inputs", "outputs", "match"),
    [
        ([INT8_IN, _detail(1, (1, 48, 48, 1), np.int8, 3.0, -43)], [INT8_OUT], r"2 inputs/1 outputs, expected 1 and 1"),
        ([INT8_IN], [INT8_OUT, _detail(6, (1, 7), np.int8, 1 / 64, -20)], r"1 inputs/2 outputs, expected 1 and 1"),
        ([_detail(0, (1, 48, 48, 1), np.int16, 3.0, -43)], [INT8_OUT], r"input dtype int16, expected float32 or int8"),
        ([INT8_IN], [_detail(5, (1, 7), np.float64)], r"output dtype float64, expected float32 or int8"),
        ([_detail(0, (1, 48, 48, 1), np.int8, 0.0, -128)], [INT8_OUT], r"input is int8 but has no quantisation scale"),
        ([INT8_IN], [_detail(5, (1, 7), np.int8, 0.0, -128)], r"output is int8 but has no quantisation scale"),
    ],
    ids=["two-inputs", "two-outputs", "int16-input", "float64-output", "unscaled-int8-input", "unscaled-int8-output"],
)
def test_model_contract_rejects(monkeypatch, float_model: Path, inputs, outputs, match) -> None:
    with pytest.raises(ModelError, match=match) as info:
        _scripted(monkeypatch, float_model, ScriptedInterpreter(inputs, outputs))
    assert str(float_model) in str(info.value)


@pytest.mark.parametrize("batch", [4, 2])
def test_a_model_with_a_larger_batch_is_resized_to_one_face(monkeypatch, any_model: Path, faces, batch) -> None:
    """An interpreter whose input is ``[N, 48, 48, 1]`` (a model exported with a fixed batch) is resized to one face;
    the scores are those of the same model at batch 1."""
    interpreter = load_interpreter(any_model)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [batch, 48, 48, 1])
    interpreter.allocate_tensors()
    assert tuple(interpreter.get_input_details()[0]["shape"]) == (batch, 48, 48, 1)
    x, _ = faces
    expected = make(any_model).predict_proba(x)
    monkeypatch.setattr(classifier_module, "load_interpreter", lambda path, num_threads: interpreter)
    clf = make(any_model)
    assert tuple(interpreter.get_input_details()[0]["shape"]) == (1, 48, 48, 1)
    np.testing.assert_array_equal(clf.predict_proba(x), expected)


def _with_priors(tmp_path: Path, model: Path, priors: dict | None) -> Path:
    import shutil

    from core.fileio import sha256_file
    from core.manifest import write_manifest

    copy = tmp_path / model.name
    shutil.copy(model, copy)
    entry = {"file": copy.name, "sha256": sha256_file(copy)}
    if priors is not None:
        entry["class_priors"] = priors
    write_manifest(tmp_path, {"models": [entry]})
    return copy


def test_balance_applies_the_training_priors_from_the_manifest(tmp_path: Path, int8_model: Path) -> None:
    from core.balance import adjust, prior_vector, priors_from_counts

    priors = priors_from_counts([3995, 436, 4097, 7215, 4830, 3171, 4965])
    model = _with_priors(tmp_path, int8_model, priors)
    faces = np.stack([np.full((48, 48), v, np.uint8) for v in (30, 90, 150, 210)])
    plain = EmotionClassifier(ClassifierOptions(model)).predict_proba(faces)
    balanced = EmotionClassifier(ClassifierOptions(model, balance=0.7)).predict_proba(faces)
    np.testing.assert_allclose(balanced, adjust(plain, prior_vector(priors), 0.7), rtol=1e-6)
    assert not np.allclose(balanced, plain)
    np.testing.assert_allclose(balanced.sum(axis=1), 1.0, rtol=1e-5)
    assert EmotionClassifier(ClassifierOptions(model, balance=0.7)).predict_proba(faces[:0]).shape == (0, 7)


@pytest.mark.parametrize("case", ["no manifest entry", "no priors", "another file"])
def test_balance_without_priors_is_a_clear_error(tmp_path: Path, int8_model: Path, case: str) -> None:
    model = _with_priors(tmp_path, int8_model, None if case == "no priors" else {"angry": 1.0})
    if case == "no manifest entry":
        (tmp_path / "manifest.json").unlink()
    if case == "another file":
        model.write_bytes(model.read_bytes() + b"\0")  # re-converted without its manifest: the sha256 differs
    with pytest.raises(ModelError, match="--balance 0.5 needs the class priors"):
        EmotionClassifier(ClassifierOptions(model, balance=0.5))
    EmotionClassifier(ClassifierOptions(model))  # without --balance the manifest is not needed
