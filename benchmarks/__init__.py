"""Benchmark reports: quantised against float, accuracy and latency, per stage, on any machine.

``python -m benchmarks clip`` builds a labelled, reproducible video from a dataset's test faces;
``python -m benchmarks run`` measures every model (accuracy, classifier latency per thread count, the whole
pipeline on a clip or camera) and writes ``report.md``, ``results.json`` and plots. Nothing here imports
TensorFlow at module level: the benchmark runs on a device with the device requirements only.
"""
