#!/usr/bin/env python
"""Which recipe makes the best images? The presets trained on the same faces, scored by SWD.

    python benchmarks/quality.py --data ../shared/data/celeba-sample
    python benchmarks/quality.py --data DIR --iterations 600 --seconds 600 --presets wgan dcgan
    python benchmarks/quality.py --data demo --image-size 32 --holdout 1000 --iterations 6000 \
        --presets dcgan dcgan,ema=0.99 hinge,ema=0.999

A preset may carry changes: ``dcgan,ema=0.99,filters=32`` is the dcgan preset with those values.
``--data demo`` draws ``--demo-faces`` built-in demo faces instead of reading a folder.

A part of the folder (``--holdout``, 500 images by default, drawn with the seed) is held out as
the real set; the presets train on the rest, from the same seed, at ``--image-size``. Each
preset trains twice: for the same number of generator iterations (``--iterations``), and for
the same wall-clock budget (``--seconds``; 0 skips it). After each run its sampler (the moving
average where the preset keeps one) draws as many images as are held out, from one fixed noise
batch, and the project's SWD (ProGAN settings, x 1e3, lower is better) compares them with the
held-out faces, which no run has seen. Printed per preset: SWD, iterations, seconds and the
final epoch-mean losses; a real-vs-real floor (training images against the held-out ones) sets
the scale; the last line is JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _common import import_wgan, run_cli, skip_failing_remapper  # noqa: E402

from benchmarks.trainer import cpu_model  # noqa: E402

LOSS_WINDOW = 50  # iterations the final losses are averaged over

DEFAULT_PRESETS = ("wgan", "wgan-gp", "dcgan", "hinge", "balanced", "demo")


def stop_after(seconds: float):
    import keras

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.end = time.perf_counter() + seconds

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() >= self.end:
                self.model.stop_training = True

    return Budget()


def train_and_score(config, images, iterations: int, seconds: float, score) -> dict:
    """Train one preset (at most ``iterations``; with ``seconds``, until the budget runs out).

    Keras averages logs over an epoch, so training runs in epochs of ``LOSS_WINDOW`` iterations
    and the final losses are the means of the last one.
    """
    import keras

    from wgan.build import build_gan
    from wgan.data import make_dataset

    keras.utils.set_random_seed(config.seed)
    model = build_gan(config)
    groups = model.schedule.real_batches
    dataset = make_dataset(images, config.batch_size, groups, config.seed, repeat=True)
    callbacks = [stop_after(seconds)] if seconds else []
    window = min(LOSS_WINDOW, iterations)
    start = time.perf_counter()
    history = model.fit(dataset, epochs=math.ceil(iterations / window), steps_per_epoch=window,
                        shuffle=False, verbose=0, callbacks=callbacks).history  # fmt: skip
    elapsed = time.perf_counter() - start
    result = {
        "swd": float(score(model.sampler, config)),
        "iterations": int(model.train_iterations.numpy()),
        "seconds": round(elapsed, 1),
        "final_losses": {name: float(values[-1]) for name, values in history.items()},
        "headline": list(model.headline_metrics),
    }
    keras.backend.clear_session()
    return result


def parse_variant(spec: str) -> tuple[str, dict]:
    """``"dcgan,ema=0.99"`` -> ``("dcgan", {"ema": 0.99})``; values are read as JSON where they
    parse (numbers, true/false), else kept as text."""
    name, *changes = spec.split(",")
    values = {}
    for change in changes:
        key, sep, text = change.partition("=")
        if not sep or not key:
            raise SystemExit(f"quality.py: error: --presets {spec!r}: write changes as key=value")
        try:
            values[key.replace("-", "_")] = json.loads(text)
        except json.JSONDecodeError:
            values[key.replace("-", "_")] = text
    return name, values


def compare(args: argparse.Namespace) -> int:
    import numpy as np

    from wgan.data import load_images
    from wgan.demo_faces import draw_faces
    from wgan.generate import latent_noise, sample_images
    from wgan.metrics import sliced_wasserstein_distance
    from wgan.presets import PRESETS, resolve

    variants = {spec: parse_variant(spec) for spec in args.presets}
    unknown = [name for name, _ in variants.values() if name not in PRESETS]
    if unknown:
        raise SystemExit(f"quality.py: error: unknown preset {unknown[0]!r}; "
                         f"choose from {', '.join(PRESETS)}")
    if args.data == "demo":
        images = draw_faces(args.demo_faces, args.image_size, 3, seed=args.seed)
    else:
        images = np.asarray(load_images(args.data, 0, args.image_size, 3, seed=args.seed).images)
    if len(images) < args.holdout + 2 * args.batch_size * 5:
        raise SystemExit(f"quality.py: error: {args.data} has {len(images)} readable images; "
                         f"need --holdout {args.holdout} plus some to train on")
    order = np.random.default_rng(args.seed).permutation(len(images))
    held_out, training = images[order[: args.holdout]], images[order[args.holdout :]]
    floor = sliced_wasserstein_distance(training[: len(held_out)], held_out, seed=args.seed)

    def score(generator, config) -> float:
        noise = latent_noise(len(held_out), config.latent_dim, config.latent_distribution,
                             np.random.default_rng([args.seed, 2]))  # fmt: skip
        fake = sample_images(generator, noise)
        return sliced_wasserstein_distance(fake, held_out, seed=args.seed)["swd_avg"]

    print(f"{cpu_model()}; {args.data}: {len(training)} training and {len(held_out)} held-out "
          f"images at {args.image_size}x{args.image_size}; real-vs-real SWD "
          f"{floor['swd_avg']:.1f}", flush=True)
    results = {"setup": {**vars(args), "cpu": cpu_model(), "n_training": len(training),
                         "floor_swd": floor["swd_avg"]}}  # fmt: skip
    width = max(10, *(len(name) + 2 for name in variants))
    budgets = [("iterations", args.iterations, 0.0)]
    if args.seconds:
        budgets.append(("seconds", 10**8, args.seconds))
    for label, iterations, seconds in budgets:
        print(f"\nsame {label}: {args.iterations if label == 'iterations' else args.seconds}"
              f"{' generator iterations' if label == 'iterations' else ' s of training'}")
        print(f"  {'preset':<{width}}{'SWD':>8}{'iterations':>12}{'seconds':>9}  final losses "
              f"(means of the last {LOSS_WINDOW} iterations)")
        for name, (preset, changes) in variants.items():
            # The benchmark sets the data, the size and the batch; everything else (networks,
            # losses, optimizers, widths) is the preset's own recipe, with the changes asked for.
            shared = {"image_size": args.image_size, "seed": args.seed,
                      "precision": args.precision, "batch_size": args.batch_size}  # fmt: skip
            config = resolve({}, preset, {**changes, **shared, "data": args.data})
            result = train_and_score(config, training, iterations, seconds, score)
            results.setdefault(name, {})[label] = result
            losses = ", ".join(f"{k} {result['final_losses'][k]:.4g}"
                               for k in result["headline"])  # fmt: skip
            print(f"  {name:<{width}}{result['swd']:8.1f}{result['iterations']:12d}"
                  f"{result['seconds']:9.0f}  {losses}", flush=True)
    print(json.dumps(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True,
                        help="image folder, e.g. celeba-sample, or demo")  # fmt: skip
    parser.add_argument("--demo-faces", type=int, default=4000,
                        help="with --data demo: demo faces drawn (held-out ones included)")
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS),
                        help="presets, each optionally with changes: dcgan,ema=0.99")
    parser.add_argument("--iterations", type=int, default=600, help="generator iterations")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="also train each preset for this wall-clock budget (0 = skip)")
    parser.add_argument("--holdout", type=int, default=500, help="held-out real images")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", default="auto", choices=["float32", "bf16", "auto"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.holdout < 16 or args.seconds < 0:
        parser.error("--iterations must be >= 1, --holdout >= 16, --seconds >= 0")
    import_wgan()
    skip_failing_remapper()
    return run_cli("quality.py", compare, args)


if __name__ == "__main__":
    sys.exit(main())
