#!/usr/bin/env python
"""Speed of one WGAN generator iteration: the project's step against the tutorial loop and peak.

    python benchmarks/train_step.py                       # 64x64x3, batch 64, n_critic 5
    python benchmarks/train_step.py --image-size 32 64 128
    python benchmarks/train_step.py --pipeline-images 20000   # the memory-mapped RSS check

In one process, variants run in turn, round after round, so that a busy neighbour or a clock
change hits them all alike; each figure is the median over the rounds after the warm-up ones.
- float32, bf16: the project's compiled ``train_step`` (``fit``'s own train function) for the
  ``wgan`` preset, with the Keras float32 and mixed_bfloat16 policies;
- PRESET/PRECISION (default wgan-gp/bf16, dcgan/bf16): the same for other presets, so that what
  a gradient penalty's second backward pass costs is a measured number;
- reference: the common tutorial loop (benchmarks/reference.py) doing the same work in float32;
- peak_float32, peak_bf16: the fastest of two large Conv2D forwards, the ceiling for the above.
GFLOP per iteration are counted from the layers (benchmarks/flops.py). Then each convolution of
an iteration is timed alone and the times summed (benchmarks/kernels.py): the most a step could
do with these kernels, against which the step's own time is set. Then the data pipeline
(benchmarks/pipeline.py, in a child process so its memory figure is its own) is set against
what the fastest step consumes, and the real trainer (benchmarks/trainer.py, a child process:
tf.data, every run-folder callback) against its bare step. The last line is JSON with every
figure, keyed by variant.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _common import import_wgan, skip_failing_remapper  # noqa: E402  (sets the environment)

PRECISIONS = ("float32", "bf16")
# Large convolutions whose forward speed is the ceiling: (N, H, W, C) input, filters, kernel.
PEAK_SHAPES = (((64, 32, 32, 256), 256, 3), ((64, 16, 16, 512), 512, 3))
PEAK_CALLS = 3  # convolutions per timed peak sample


@dataclass
class Variant:
    name: str
    run: Callable[[], None]  # does `iterations` generator iterations (or peak calls), blocking
    iterations: int = 1
    gflop: float = 0.0  # per iteration
    peak: str = ""  # the peak variant its GFLOP/s is compared with
    times: list[float] = field(default_factory=list)

    def seconds(self) -> float:
        return statistics.median(self.times) / self.iterations


def project_step(config, steps_per_execution: int) -> Callable[[], None]:
    """fit()'s own compiled train function on a constant uint8 batch, as training runs it."""
    import numpy as np
    import tensorflow as tf

    from wgan.build import build_gan

    model = build_gan(config, steps_per_execution=steps_per_execution)
    groups = model.schedule.real_batches
    shape = (config.batch_size, groups, config.image_size, config.image_size, 3)
    batch = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    model.make_train_function()
    train = model.train_function

    def run() -> None:
        float(train(iterator)["critic_loss"])

    return run


def reference_step(size: int, batch: int, n_critic: int, filters: int) -> Callable[[], None]:
    import numpy as np

    from benchmarks.reference import TutorialWGAN

    tutorial = TutorialWGAN(size, 3, n_critic=n_critic, filters=filters)
    rng = np.random.default_rng(0)
    reals = rng.uniform(-1, 1, (n_critic, batch, size, size, 3)).astype("float32")
    return lambda: tutorial.iteration(reals)


def peak_conv(dtype: str, shape: tuple[int, ...], filters: int, kernel: int) -> Callable[[], None]:
    import tensorflow as tf

    x = tf.random.normal(shape, dtype=dtype)
    w = tf.random.normal((kernel, kernel, shape[-1], filters), dtype=dtype) * 0.01
    conv = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))

    def run() -> None:
        for _ in range(PEAK_CALLS):
            y = conv()
        float(y[0, 0, 0, 0])

    return run


def variant_name(preset: str, precision: str) -> str:
    """The wgan preset keeps the plain precision names of earlier results."""
    return precision if preset == "wgan" else f"{preset}/{precision}"


def make_variants(args: argparse.Namespace, size: int) -> list[Variant]:
    from benchmarks.flops import conv_flops, iteration_flops
    from wgan.build import critic_for, generator_for
    from wgan.presets import resolve

    variants = []
    for preset, precision in args.variants:
        flags = {"image_size": size, "batch_size": args.batch_size, "filters": args.filters,
                 "precision": precision, "seed": 0}  # fmt: skip
        if preset == "wgan":
            flags["n_critic"] = args.n_critic
        config = resolve({}, preset, flags)
        # The FLOP model counts Algorithm 1's passes; a gradient penalty adds second-order ones.
        gflop = 0.0
        if config.penalty in ("clip", "none") and config.schedule == "fixed":
            gflop = iteration_flops(
                critic_for(config), generator_for(config), args.batch_size, config.n_critic
            ) / 1e9
        variants.append(
            Variant(
                variant_name(preset, precision),
                project_step(config, args.steps_per_execution),
                iterations=args.steps_per_execution,
                gflop=gflop,
                peak="peak_bf16" if precision == "bf16" else "peak_float32",
            )
        )
    if not args.no_reference:
        reference_gflop = next((v.gflop for v in variants if v.name in PRECISIONS), 0.0)
        variants.append(
            Variant(
                "reference",
                reference_step(size, args.batch_size, args.n_critic, args.filters),
                gflop=reference_gflop,
                peak="peak_float32",
            )
        )
    for dtype, name in (("float32", "peak_float32"), ("bfloat16", "peak_bf16")):
        for i, (shape, filters, kernel) in enumerate(PEAK_SHAPES):
            variants.append(
                Variant(
                    f"{name}#{i}",  # "#": preset variants use "/"
                    peak_conv(dtype, shape, filters, kernel),
                    iterations=PEAK_CALLS,
                    gflop=conv_flops(shape, filters, kernel) / 1e9,
                )
            )
    return variants


def time_variants(variants: list[Variant], warmup: int, rounds: int, say) -> None:
    for round_ in range(warmup + rounds):
        for variant in variants:
            start = time.perf_counter()
            variant.run()
            if round_ >= warmup:
                variant.times.append(time.perf_counter() - start)
        label = "warm-up" if round_ < warmup else "round"
        number = round_ + 1 if round_ < warmup else round_ - warmup + 1
        say(f"  {label} {number} done")


def summarise(variants: list[Variant]) -> dict[str, dict]:
    """Figures per variant; the two peak shapes collapse into their faster one."""
    figures: dict[str, dict] = {}
    for variant in variants:
        name, _, shape = variant.name.partition("#")
        gflops = variant.gflop / variant.seconds()
        if shape:
            if gflops > figures.get(name, {}).get("gflops", 0.0):
                input_shape, filters, kernel = PEAK_SHAPES[int(shape)]
                figures[name] = {
                    "gflops": gflops,
                    "conv": f"{'x'.join(map(str, input_shape))}"
                    f" -> {filters} filters, {kernel}x{kernel}",
                }
            continue
        peak = max(v.gflop / v.seconds() for v in variants if v.name.startswith(variant.peak))
        figures[name] = {
            "it_per_s": 1.0 / variant.seconds(),
            "s_per_it": variant.seconds(),
            "gflop_per_it": variant.gflop or None,  # None: not counted (second-order passes)
            "gflops": gflops or None,
            "pct_of_peak": 100.0 * gflops / peak if variant.gflop else None,
            "peak": variant.peak,
        }
    if "reference" in figures:
        for figure in figures.values():
            if "it_per_s" in figure:
                figure["x_reference"] = figure["it_per_s"] / figures["reference"]["it_per_s"]
    for name, figure in figures.items():
        preset, _, precision = name.rpartition("/")
        if preset and precision in figures:  # against the wgan preset in the same precision
            figure["x_wgan"] = figure["it_per_s"] / figures[precision]["it_per_s"]
    return figures


def print_table(figures: dict[str, dict], size: int) -> None:
    print(f"\n{size}x{size}x3 images:")
    print(
        f"  {'variant':<17}{'it/s':>8}{'s/it':>8}{'GFLOP/it':>10}{'GFLOP/s':>9}{'% of peak':>11}"
        f"{'x reference':>13}{'x wgan':>8}"
    )

    def number(value, form: str) -> str:
        return "-" if value is None else format(value, form)

    for name, f in figures.items():
        if "it_per_s" in f:
            ratio = f"{f['x_reference']:.2f}x" if "x_reference" in f else "-"
            wgan = f"{f['x_wgan']:.2f}x" if "x_wgan" in f else "-"
            pct = number(f["pct_of_peak"], "10.1f") + ("%" if f["pct_of_peak"] else "")
            print(
                f"  {name:<17}{f['it_per_s']:8.3f}{f['s_per_it']:8.3f}"
                f"{number(f['gflop_per_it'], '10.1f'):>10}{number(f['gflops'], '9.0f'):>9}"
                f"{pct:>11}{ratio:>13}{wgan:>8}"
            )
    print("  (x reference: against the float32 tutorial loop, whatever the variant's precision;"
          " x wgan: against the wgan preset in the same precision; GFLOP are not counted for a"
          " gradient penalty's second-order passes)")
    for name, f in figures.items():
        if "it_per_s" not in f:
            print(f"  {name:<17}{'':26}{f['gflops']:9.0f}   (Conv2D forward, {f['conv']})")


def add_kernel_ceiling(args: argparse.Namespace, size: int, figures: dict[str, dict]) -> None:
    """What the convolutions alone allow (benchmarks/kernels.py), next to what the step does."""
    from benchmarks.kernels import iteration_ceiling
    from wgan.config import PRECISIONS as POLICIES
    from wgan.models import build_critic, build_generator

    for precision in (p for p in PRECISIONS if p in figures):
        policy = POLICIES[precision]
        ceiling = iteration_ceiling(
            build_critic(size, 3, filters=args.filters, dtype=policy),
            build_generator(size, 3, filters=args.filters, dtype=policy),
            args.batch_size,
            args.n_critic,
        )
        figure = figures[precision]
        figure["kernel_ceiling_it_per_s"] = 1.0 / ceiling["seconds"]
        figure["pct_of_kernel_ceiling"] = 100.0 * figure["it_per_s"] * ceiling["seconds"]
        print(f"  {precision}: the convolutions alone, timed one by one, allow "
              f"{figure['kernel_ceiling_it_per_s']:.3f} it/s "
              f"({figure['gflop_per_it'] * figure['kernel_ceiling_it_per_s']:.0f} GFLOP/s; critic "
              f"{ceiling['critic']:.2f} s + generator {ceiling['generator']:.2f} s); the step "
              f"reaches {figure['pct_of_kernel_ceiling']:.0f} % of that (over 100 %: it runs "
              f"independent ops side by side, which the sum cannot)")


def run_child(script: str, options: list[str], heading: str) -> tuple[list[str], dict]:
    """Run another benchmark in a child process, so its time and memory are its own; print its
    table indented under ``heading`` and return (its lines, its final JSON)."""
    command = [sys.executable, str(Path(__file__).with_name(script)), *options]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
        raise SystemExit(f"train_step.py: error: {' '.join(command)} failed")
    lines = done.stdout.strip().splitlines()
    print(f"\n{heading}:")
    for line in lines[:-1]:
        print(f"  {line}")
    return lines, json.loads(lines[-1])


def run_pipeline(args: argparse.Namespace, size: int, consumed: float) -> dict:
    """benchmarks/pipeline.py in a child process; its JSON plus the ratio to consumption."""
    options = [
        "--images", str(args.pipeline_images), "--image-size", str(size),
        "--batch-size", str(args.batch_size), "--n-critic", str(args.n_critic),
    ]  # fmt: skip
    _, found = run_child("pipeline.py", options, "data pipeline (benchmarks/pipeline.py)")
    figures = found["pipeline"]
    figures["consumed_images_per_s"] = consumed
    figures["x_consumption"] = figures["dataset_images_per_s"] / consumed
    figures["x_consumption_first_pass"] = figures["first_pass_images_per_s"] / consumed
    print(
        f"  training consumes {consumed:.0f} real images/s: the memmap pipeline delivers "
        f"{figures['x_consumption']:.0f}x that, the first pass from JPEG "
        f"{figures['x_consumption_first_pass']:.0f}x"
    )
    return figures


def run_trainer(args: argparse.Namespace, size: int) -> dict:
    """benchmarks/trainer.py in a child process: the real trainer against its bare step."""
    options = ["--epochs", str(args.trainer_epochs), "--image-size", str(size),
               "--precision", "bf16"]  # fmt: skip
    heading = "the trainer (benchmarks/trainer.py, wgan preset, bf16)"
    return run_child("trainer.py", options, heading)[1]["trainer"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--image-size",
        type=int,
        nargs="+",
        default=[64],
        choices=[16, 32, 64, 128],
        help="one or more sizes (default 64)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument(
        "--variants", nargs="+", default=["wgan:float32", "wgan:bf16", "wgan-gp:bf16",
                                          "dcgan:bf16"],
        help="PRESET:PRECISION pairs to time (default wgan in both precisions, wgan-gp and "
             "dcgan in bf16)",
    )  # fmt: skip
    parser.add_argument("--trainer-epochs", type=int, default=3,
                        help="epochs of the real trainer at the first size (0 = skip)")
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        help="generator iterations per compiled call of the project's step",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds")
    parser.add_argument("--no-reference", action="store_true", help="skip the tutorial loop")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip timing each convolution alone (benchmarks/kernels.py)")
    parser.add_argument(
        "--pipeline-images",
        type=int,
        default=2000,
        help="JPEGs for the data pipeline figure (0 = skip it)",
    )
    args = parser.parse_args(argv)
    try:
        args.variants = [tuple(v.split(":")) for v in args.variants]
        assert all(len(v) == 2 and v[1] in PRECISIONS for v in args.variants)
    except AssertionError:
        parser.error("--variants takes PRESET:PRECISION pairs, e.g. wgan:bf16 dcgan:float32")

    import_wgan()
    skip_failing_remapper()  # as train.py runs
    import keras
    import tensorflow as tf

    from wgan.config import package_versions

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    versions = package_versions()
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs; "
        f"batch {args.batch_size}, n_critic {args.n_critic}, filters {args.filters}; "
        f"median of {args.rounds} rounds after {args.warmup} warm-up"
    )
    results: dict[str, dict] = {"setup": {**vars(args), "versions": versions}}
    for size in args.image_size:
        say(f"{size}x{size}: building and tracing the variants")
        variants = make_variants(args, size)
        time_variants(variants, args.warmup, args.rounds, say)
        figures = summarise(variants)
        print_table(figures, size)
        if not args.no_ceiling:
            say(f"{size}x{size}: timing each convolution alone")
            add_kernel_ceiling(args, size, figures)
        if args.pipeline_images:
            consumed = (
                max(f["it_per_s"] for n, f in figures.items() if n in PRECISIONS)
                * args.batch_size
                * args.n_critic
            )
            figures["pipeline"] = run_pipeline(args, size, consumed)
        if args.trainer_epochs and size == args.image_size[0]:
            figures["trainer"] = run_trainer(args, size)
        suffix = f"@{size}" if len(args.image_size) > 1 else ""
        results.update({f"{name}{suffix}": figure for name, figure in figures.items()})
        keras.backend.clear_session()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
