"""Raspberry Pi deployment: ``python -m deploy.bundle`` builds the device tarball, ``python -m deploy.deploy`` ships it.

``install.sh`` (runs on the Pi), ``feredge`` (the launcher), ``config.env.example`` and ``README-pi.md`` travel
inside the bundle. Nothing here imports TensorFlow.
"""
