#!/usr/bin/env python
"""Does bf16 hurt training? Sliced Wasserstein distance after a fixed number of iterations.

    python benchmarks/bf16_quality.py                  # 5 seeds x {float32, bf16}, ~13 minutes

For each seed, float32 and bf16 train from the same initial weights on the same demo faces
(the same sample, order and noise), then the same evaluator (1,000 generated against 1,000
real images, fixed noise) scores both. The float32 runs across seeds give the run-to-run
spread; bf16 does no harm when none of its SWDs lies above it. The last line is JSON with every
figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from _common import import_wgan, run_cli, skip_failing_remapper  # noqa: E402

EVAL_SEED = 1234  # one evaluator (real subset and noise) for every run


def train_once(config, images, iterations: int, evaluator) -> dict:
    import keras

    from wgan.build import build_gan
    from wgan.data import make_dataset

    keras.utils.set_random_seed(config.seed)  # same initial weights for both precisions
    model = build_gan(config)
    dataset = make_dataset(images, config.batch_size, config.n_critic, config.seed, repeat=True)
    start = time.perf_counter()
    history = model.fit(dataset, epochs=1, steps_per_epoch=iterations, verbose=0).history
    seconds = time.perf_counter() - start
    estimate = history["wasserstein_estimate"][-1]  # the critic's own, averaged over the run
    result = {"swd": float(evaluator(model.generator)), "seconds": seconds,
              "wasserstein_estimate": estimate}
    keras.backend.clear_session()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--iterations", type=int, default=400, help="generator iterations")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--images", type=int, default=3000, help="demo faces to train on")
    parser.add_argument("--eval-samples", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--latent-dist", default="normal", choices=["uniform", "normal"])
    args = parser.parse_args(argv)
    import_wgan()
    return run_cli("bf16_quality.py", compare, args)


def compare(args: argparse.Namespace) -> int:
    """Train every seed in both precisions and print the SWDs (bad settings: ConfigError)."""
    skip_failing_remapper()
    from wgan.config import TrainConfig
    from wgan.demo_faces import draw_faces
    from wgan.evaluation import SWDEvaluator

    TrainConfig(image_size=args.image_size, filters=args.filters, lr=args.lr,
                latent_distribution=args.latent_dist).validate()  # bad settings fail first
    images = draw_faces(args.images, args.image_size, 3, seed=0)
    print(f"{len(args.seeds)} seeds x {{float32, bf16}}, {args.iterations} iterations each, "
          f"{args.image_size}x{args.image_size} demo faces, filters {args.filters}, "
          f"lr {args.lr}, {args.latent_dist} noise; SWD of {args.eval_samples} vs "
          f"{args.eval_samples} images (x1e3, lower is better)", flush=True)
    results: dict[str, dict[int, dict]] = {"float32": {}, "bf16": {}}
    for seed in args.seeds:
        for precision in results:
            config = TrainConfig(
                image_size=args.image_size, filters=args.filters, lr=args.lr,
                latent_distribution=args.latent_dist, precision=precision, seed=seed,
            ).validate()
            evaluator = SWDEvaluator(images, args.eval_samples, config.latent_dim,
                                     config.latent_distribution, EVAL_SEED)
            run = train_once(config, images, args.iterations, evaluator)
            results[precision][seed] = run
            print(f"  seed {seed} {precision:8s} SWD {run['swd']:7.2f}   W estimate "
                  f"{run['wasserstein_estimate']:.2e}   {run['seconds']:.0f} s with tracing",
                  flush=True)

    f32 = [r["swd"] for r in results["float32"].values()]
    bf16 = [r["swd"] for r in results["bf16"].values()]
    low, high = min(f32), max(f32)
    inside = sum(low <= v <= high for v in bf16)
    better, worse = sum(v < low for v in bf16), sum(v > high for v in bf16)
    mean_gap = statistics.mean(bf16) - statistics.mean(f32)
    spread = statistics.stdev(f32) if len(f32) > 1 else float("nan")
    print(f"float32 SWD {statistics.mean(f32):.2f} (range {low:.2f}..{high:.2f}, sd {spread:.2f}"
          f"); bf16 SWD {statistics.mean(bf16):.2f} (range {min(bf16):.2f}..{max(bf16):.2f}); "
          f"bf16 - float32 = {mean_gap:+.2f} ({mean_gap / spread:+.1f} float32 sd)")
    print(f"bf16 runs inside the float32 range: {inside} of {len(bf16)}; below it (better): "
          f"{better}; above it (worse): {worse}")
    print(json.dumps({
        "setup": vars(args),
        "float32": results["float32"],
        "bf16": results["bf16"],
        "summary": {"float32_mean": statistics.mean(f32), "float32_sd": spread,
                    "float32_range": [low, high], "bf16_mean": statistics.mean(bf16),
                    "bf16_range": [min(bf16), max(bf16)], "bf16_minus_float32": mean_gap,
                    "bf16_inside": inside, "bf16_better": better, "bf16_worse": worse},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
