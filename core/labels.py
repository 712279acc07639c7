"""The model contract shared by every stage: labels, input size, value range."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES: int = len(EMOTIONS)
INPUT_SIZE: int = 48
INPUT_SHAPE: tuple[int, int, int] = (INPUT_SIZE, INPUT_SIZE, 1)
PIXELS_PER_FACE: int = INPUT_SIZE * INPUT_SIZE
