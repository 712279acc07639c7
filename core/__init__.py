"""feredge's floor: what every other package stands on, importable with numpy alone (no OpenCV, no TensorFlow).

Labels and the model contract (``labels``), the format table (``formats``), the models' manifest (``manifest``),
run provenance (``provenance``), the FER2013 loader and its splits (``dataset``), metrics (``metrics``), atomic
writes and hashing (``fileio``), paths (``paths``) and argparse types (``argtypes``). OpenCV and scikit-learn are
imported inside the few functions that need them, never at module level.
"""
