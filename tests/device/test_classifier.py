"""EmotionClassifier on the tiny fixture models (float32 and full-int8), and its one-line model errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_images

from device import classifier as classifier_module
from device.classifier import Classification, ClassifierOptions, EmotionClassifier, ModelError
from device.formats import FORMATS_BY_NAME
from device.interpreter import load_interpreter
from device.labels import EMOTIONS


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

    from device.fileio import atomic_write_json, sha256_file

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
    with pytest.raises(ModelError, match=r"manifest\.json beside it is not readable JSON"):
        EmotionClassifier(ClassifierOptions(path, 1, mirror_average=True))
    assert make(path).predict_proba(np.zeros((1, 48, 48))).shape == (1, 7)  # not consulted without mirroring
