"""feredge's floor: what every other package stands on, importable with numpy alone (no OpenCV, no TensorFlow).

Labels and the model contract (``labels``), the format table (``formats``), the models' manifest (``manifest``),
run provenance (``provenance``), the FER2013 loader and its splits (``dataset``), metrics (``metrics``), atomic
writes and hashing (``fileio``), paths (``paths``) and argparse types (``argtypes``). No OpenCV and no TensorFlow
anywhere: image files are decoded by a reader the caller passes (``device.datasets`` passes OpenCV's). scikit-learn is
imported only inside the one function that carves a stratified validation split from an image folder.
"""
