"""device.datasets: FER2013 with OpenCV as the image codec (the image-folder edition)."""

from __future__ import annotations

import cv2
import numpy as np

from device.datasets import load_fer2013
from device.preprocess import read_face_image


def test_read_face_image_decodes_and_scales_to_48(tmp_path):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((96, 96), 77, np.uint8))
    face = read_face_image(path)
    assert face.shape == (48, 48) and face.dtype == np.uint8 and int(face.mean()) == 77
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    assert read_face_image(tmp_path / "bad.jpg") is None


def test_folder_edition_loads(tmp_path):
    for i, name in enumerate(("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")):
        for top, prefix in (("train", "Training_"), ("test", "PublicTest_")):
            d = tmp_path / "fer" / top / name
            d.mkdir(parents=True)
            for j in range(2):
                cv2.imwrite(str(d / f"{prefix}{j}.png"), np.full((48, 48), 20 + 30 * i, np.uint8))
    ds = load_fer2013(tmp_path / "fer", cache_dir=tmp_path / "cache")
    assert len(ds.splits["train"]) == 14 and len(ds.splits["val"]) == 14
    assert sorted(set(ds.splits["val"].y.tolist())) == list(range(7))
