"""The shipped face-detector models (BlazeFace, from MediaPipe): see detectors.json and fetch.py."""
