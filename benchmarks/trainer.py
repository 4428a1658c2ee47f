#!/usr/bin/env python
"""The real trainer's rate against the bare step's, and where the difference goes.

    python benchmarks/trainer.py                      # 64x64 bf16, 8,000 demo faces, 4 epochs
    python benchmarks/trainer.py --data ../shared/data/celeba-sample --preset dcgan

The trainer (``wgan.trainer.Session.fit``: tf.data pipeline, every run-folder callback, a
callback reading the logs every iteration as train.py's progress bar does) trains ``--epochs``
epochs the way scripts/train.py does (``--eval-every 0 --sample-every 6`` by default, as in the
issue's measurement). Each epoch is timed from its first callback to its last, and the work of
each epoch-end callback on its own. After every epoch, a second model of the same config runs
the bare step (``fit``'s train function on one constant batch, as benchmarks/train_step.py
times it) for as many iterations: the two are measured side by side, so a change in the
machine's speed hits both. The first epoch (tracing) is left out of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _common import import_wgan, run_cli, skip_failing_remapper  # noqa: E402


def run_logged(command: list[str], log: Path, prog: str) -> float:
    """Run ``command`` in the checkout, its output appended to ``log``; its seconds. A failure
    ends the benchmark (``prog``: the benchmark's name) with the log's path."""
    import subprocess

    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{prog}: {' '.join(command)} failed ({done.returncode}); see {log}")
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def timed_callbacks(callbacks, totals: dict[str, list[float]]):
    """Wrap each callback's on_epoch_end so its seconds are added to ``totals``."""
    for callback in callbacks:
        name = type(callback).__name__
        original = callback.on_epoch_end

        def wrapped(epoch, logs=None, _original=original, _name=name):
            start = time.perf_counter()
            _original(epoch, logs)
            totals.setdefault(_name, []).append(time.perf_counter() - start)

        callback.on_epoch_end = wrapped
    return callbacks


def make_probe(bare_model, images, batch: int, groups: int, steps: int):
    import keras
    import numpy as np
    import tensorflow as tf

    shape = (batch, groups, *images.shape[1:])
    constant = np.ascontiguousarray(images[: batch * groups]).reshape(shape)
    iterator = iter(tf.data.Dataset.from_tensors(constant).repeat())
    bare_model.make_train_function()
    bare = bare_model.train_function

    class Probe(keras.callbacks.Callback):
        """Per epoch: the trainer's wall time (and each iteration's), then the bare step's for
        as many iterations."""

        def __init__(self):
            super().__init__()
            self.epochs, self.bare, self.step_times = [], [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = self.last = time.perf_counter()
            self.step_times.append([])

        def on_train_batch_end(self, batch, logs=None):
            float(logs["critic_loss"])  # what a progress bar reads
            now = time.perf_counter()
            self.step_times[-1].append(round(now - self.last, 3))
            self.last = now

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.start)
            start = time.perf_counter()
            for _ in range(steps):
                float(bare(iterator)["critic_loss"])
            self.bare.append(time.perf_counter() - start)

    return Probe()


def data_seconds(images, batch: int, groups: int, seed: int) -> float:
    """One epoch of the tf.data pipeline alone, per element (what a step waits for at most)."""
    from wgan.data import make_dataset

    dataset = make_dataset(images, batch, groups, seed=seed)
    start = time.perf_counter()
    count = sum(1 for _ in dataset)
    return (time.perf_counter() - start) / count


def measure(args: argparse.Namespace) -> dict:
    import wgan.trainer
    from wgan.build import build_gan
    from wgan.presets import resolve
    from wgan.schedules import make_schedule
    from wgan.sources import load_training_data

    flags = {
        "image_size": args.image_size, "precision": args.precision, "epochs": args.epochs,
        "eval_every": args.eval_every, "sample_every": args.sample_every,
        "n_samples": args.images, "seed": 0, "keep_every": 10, "data": args.data,
    }  # fmt: skip
    config = resolve({}, args.preset, flags)
    data = load_training_data(config, args.data, "/nonexistent", None)
    images = data.images
    config.data, config.n_images = data.source, len(images)
    groups = make_schedule(config.schedule, config.n_critic, config.margin).real_batches
    steps = len(images) // (config.batch_size * groups)
    probe = make_probe(build_gan(config), images, config.batch_size, groups, steps)
    epoch_ends: dict[str, list[float]] = {}
    original = wgan.trainer._run_callbacks
    wgan.trainer._run_callbacks = lambda session: timed_callbacks(original(session), epoch_ends)
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            folder = wgan.trainer.RunFolder(run_dir)
            session = wgan.trainer.open_session(config, images, folder, record={})
            session.fit(callbacks=[probe])
    finally:
        wgan.trainer._run_callbacks = original
    data_per_element = data_seconds(images, config.batch_size, groups, config.seed)
    later = slice(1, None)  # epoch 1 traces the graph
    ratios = [t / b for t, b in zip(probe.epochs[later], probe.bare[later], strict=True)]
    return {
        "cpu": cpu_model(), "preset": args.preset, "image_size": args.image_size,
        "autotuned_pipeline": args.autotuned_pipeline,
        "precision": config.precision, "images": len(images), "iterations_per_epoch": steps,
        "epochs_timed": len(probe.epochs) - 1,
        "trainer_s_per_it": statistics.median(probe.epochs[later]) / steps,
        "bare_step_s_per_it": statistics.median(probe.bare[later]) / steps,
        "trainer_x_bare": statistics.median(ratios), "trainer_x_bare_each_epoch": ratios,
        "epoch_end_seconds": {name: statistics.median(v[later]) for name, v in
                              epoch_ends.items()},
        "data_s_per_element": data_per_element,
        "epoch_seconds_all": probe.epochs, "bare_seconds_all": probe.bare,
        "step_seconds": probe.step_times,
    }  # fmt: skip


def report(r: dict) -> None:
    steps = r["iterations_per_epoch"]
    pipeline = "autotuned tf.data" if r["autotuned_pipeline"] else "fixed tf.data"
    print(f"{r['cpu']}; {pipeline}; preset {r['preset']}, {r['image_size']}x{r['image_size']} "
          f"{r['precision']}, {r['images']} images, {steps} iterations per epoch, median of "
          f"{r['epochs_timed']} epochs after the first")
    print(f"  trainer    {r['trainer_s_per_it']:.3f} s/it ({steps * r['trainer_s_per_it']:.1f} s "
          "per epoch, every epoch-end file written)")
    print(f"  bare step  {r['bare_step_s_per_it']:.3f} s/it (the same iterations right after "
          "each epoch)")
    each = ", ".join(f"{x:.3f}" for x in r["trainer_x_bare_each_epoch"])
    print(f"  trainer / bare step: {r['trainer_x_bare']:.3f}x (median; per epoch {each})")
    ends = sorted(r["epoch_end_seconds"].items(), key=lambda kv: -kv[1])
    print("  epoch-end work: " + ", ".join(f"{name} {s:.2f} s" for name, s in ends)
          + f" (total {sum(s for _, s in ends):.2f} s per epoch)")
    print(f"  data pipeline alone: {1000 * r['data_s_per_element']:.1f} ms per iteration's "
          "batches")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="demo", help="image folder or demo (default demo)")
    parser.add_argument("--images", type=int, default=8000, help="images to train on")
    parser.add_argument("--preset", default="wgan")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--precision", default="bf16", choices=["float32", "bf16"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--sample-every", type=int, default=6)
    parser.add_argument("--autotuned-pipeline", action="store_true",
                        help="feed the step as before this benchmark existed: tf.data autotuning "
                             "on, parallelism AUTOTUNE (for a before/after comparison)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first one traces)")
    import_wgan()
    skip_failing_remapper()
    if args.autotuned_pipeline:
        import tensorflow as tf

        import wgan.data

        wgan.data.PIPELINE_PARALLELISM = tf.data.AUTOTUNE
        wgan.data._PIPELINE_OPTIONS.autotune.enabled = True

    def body(args):
        result = measure(args)
        report(result)
        print(json.dumps({"trainer": result}))
        return 0

    return run_cli("trainer.py", body, args)


if __name__ == "__main__":
    sys.exit(main())
