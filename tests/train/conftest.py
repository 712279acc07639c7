from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="training tests need TensorFlow (requirements/train.txt)")
