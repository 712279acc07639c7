"""``python -m train.speed``: measure training throughput (images/s) of recipes' models on this machine.

Random pixels, no augmentation: the number is the model's training cost, which decides what can be trained here.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace

import numpy as np

from core.argtypes import whole
from train.recipes import RECIPES


def images_per_second(recipe_name: str, n: int, batch_size: int, threads: int, repeats: int = 3) -> tuple[float, str]:
    """(median training images/s over ``repeats`` timed epochs of ``n`` images, precision it trained in: the
    recipe's, or float32 where bfloat16 would be emulated)."""
    import keras

    from train.backend import configure
    from train.models import build_model
    from train.precision import training_precision

    backend = configure(threads)
    recipe = RECIPES[recipe_name]
    precision, _ = training_precision(recipe, backend.accelerators)
    recipe = replace(recipe, precision=precision)
    x = np.random.default_rng(0).integers(0, 256, size=(n, 48, 48, 1)).astype("float32")
    y = np.random.default_rng(1).integers(0, 7, size=n)
    model = build_model(recipe)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(x[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        rates.append(n / (time.perf_counter() - t0))
    return float(np.median(rates)), precision


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.speed", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["wide", "wide-bf16", "compact", "paper"],
                    help="recipes")
    ap.add_argument("--images", type=whole(1), default=2048, help="images per timed epoch")
    ap.add_argument("--batch-size", type=whole(1), default=128, help="batch size")
    ap.add_argument("--threads", type=whole(0), default=0, help="TensorFlow intra-op threads (0: all cores)")
    ap.add_argument("--repeats", type=whole(1), default=3, help="timed epochs per recipe (the median is printed)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"host: {platform.node()} ({platform.platform()}, {os.cpu_count()} cores), threads={args.threads or 'all'}, "
          f"median of {args.repeats} timed epochs of {args.images} images")
    for name in args.recipes:
        ips, precision = images_per_second(name, args.images, args.batch_size, args.threads, args.repeats)
        print(f"{name}: {ips:.0f} training images/s in {precision} ({28709 / ips / 60:.1f} min per FER2013 epoch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
