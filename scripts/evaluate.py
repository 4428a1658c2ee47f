#!/usr/bin/env python
"""Score generated images against real ones: sliced Wasserstein distance (SWD) always, and FID/KID
when InceptionV3 weights are available. Lower is better for all of them.

GENERATED is a run folder made by train.py (fresh images are drawn from its generator.keras; without
one, its newest images/epoch_XXXX/ samples are used) or any folder of images. REAL is a folder of
real images (e.g. celeba-dataset/), loaded at the size and channel count of the generated images.

  python scripts/evaluate.py runs/20250101-120000 celeba-dataset
  python scripts/evaluate.py my_samples/ celeba-dataset --inception-weights ~/inception_notop.h5

A run of a model that uses labels (cgan, acgan, infogan, sgan) is also judged by a classifier
that is not its critic: a small CNN trained on the run's real labelled images (cached per data
set; its held-out accuracy is printed). It reports how often each class is drawn as asked and
how varied each class is, attribute flips, InfoGAN's code-to-class agreement, or the SGAN
classifier's accuracy against the same network trained on the labelled images alone. REAL is
then optional (give it to get the SWD too); the figures go to RUN/conditioning.json.

  python scripts/evaluate.py runs/digits-cgan
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from _common import HOME, Parser, import_wgan, run_cli, skip_failing_remapper

# --- Defaults (each can be overridden by a flag) -----------------------------------------------
N_GENERATED = 1000  # images drawn from the generator (at most this many read from a folder)
N_REAL = 1000  # real images sampled from REAL (0 = all of them)
SEED = 0  # seeds the latent noise, the real sample and the metrics' random draws
BATCH_SIZE = 50  # images per generator / InceptionV3 batch
INCEPTION_WEIGHTS = None  # InceptionV3 no-top .h5 file; None = the Keras cache, if it has one
OUT_NAME = "metrics.json"  # written into a run folder, else into the current folder
PER_CLASS = 100  # label models: images drawn per class (or per attribute, per InfoGAN category)
CACHE_DIR = HOME / ".cache"  # the label judges are cached in CACHE_DIR/judges/
# ------------------------------------------------------------------------------------------------

METRIC_NAMES = ("swd", "fid", "kid")
INCEPTION_METRICS = ("fid", "kid")
# PIL modes that hold one channel, and those with alpha (train.py writes L, RGB or RGBA samples).
GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        prog="evaluate.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("generated", type=Path, metavar="GENERATED", help="run folder or images")
    parser.add_argument("real", type=Path, metavar="REAL", nargs="?",
                        help="folder of real images (optional for a run of a label model)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS,
                        help=f"label models: images per class (default {PER_CLASS})")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR,
                        help=f"where label judges are cached (default {CACHE_DIR})")
    parser.add_argument(
        "--num", type=int, default=N_GENERATED, help=f"generated images (default {N_GENERATED})"
    )
    parser.add_argument(
        "--n-real", type=int, default=N_REAL, help=f"real images, 0 = all (default {N_REAL})"
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument(
        "--checkpoint", default="last",
        help="for a run folder: last, best (lowest SWD) or a kept epoch (default last)",
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated subset of swd,fid,kid (default: swd, plus fid,kid with weights)",
    )
    parser.add_argument(
        "--inception-weights",
        type=Path,
        default=INCEPTION_WEIGHTS,
        metavar="PATH",
        help="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 for FID/KID",
    )
    parser.add_argument(
        "--out", type=Path, help=f"JSON file (default GENERATED/{OUT_NAME} for a run, else ./)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"batch size (default {BATCH_SIZE})"
    )
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f"--num must be at least 1, got {args.num}")
    if args.n_real < 0:
        parser.error(f"--n-real must be 0 (all) or a positive count, got {args.n_real}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.metrics is not None:
        names = [name.strip().lower() for name in args.metrics.split(",") if name.strip()]
        unknown = [name for name in names if name not in METRIC_NAMES]
        if unknown or not names:
            parser.error(f"--metrics {args.metrics!r}: choose from {','.join(METRIC_NAMES)}")
        args.metrics = list(dict.fromkeys(names))
    if args.per_class < 2:
        parser.error(f"--per-class must be at least 2, got {args.per_class}")
    for name, path in (("GENERATED", args.generated), ("REAL", args.real)):
        if path is None:
            continue
        if not path.exists():
            parser.error(f"{name} folder {path} does not exist")
        if not path.is_dir():
            parser.error(f"{name} {path} is not a folder: give the folder that holds the images")
    return args


def is_run_folder(folder: Path) -> bool:
    from wgan.run_folder import RunFolder

    return RunFolder(folder).is_run()


def generate_images(run_dir: Path, num: int, seed: int, batch_size: int, checkpoint: str):
    """Draw ``num`` images from the run's generator, with latent noise (and labels, by their
    frequency in the training data) as in training."""
    import numpy as np

    from wgan.generate import load_generator, sample_images

    loaded = load_generator(run_dir, checkpoint)
    inputs, _ = loaded.space.random(num, np.random.default_rng(seed))
    return sample_images(loaded.model, inputs, batch_size), loaded.source


def newest_samples(run_dir: Path) -> Path | None:
    from wgan.run_folder import RunFolder

    folders = RunFolder(run_dir).epoch_dirs()
    return folders[max(folders)] if folders else None


def image_format(folder: Path) -> tuple[int, int]:
    """(side, channels) of the first image in ``folder``: what to load the real images at."""
    from wgan.data import find_images, image_header
    from wgan.errors import DataError

    files, _ = find_images(folder)
    if not files:
        raise DataError(f"no images found in {folder}: give a folder of PNG/JPEG images")
    header = image_header(files[0])
    if header is None:
        raise DataError(f"cannot read {files[0]}: it is not a usable image; remove it")
    (width, height), mode = header
    channels = 1 if mode in GREY_MODES else 4 if mode in ALPHA_MODES else 3
    return min(width, height), channels


def load_folder(folder: Path, n: int, side: int, channels: int, seed: int):
    """Images from a folder (centre-cropped and resized as for training), warnings printed."""
    from wgan.data import load_images

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image_set = load_images(folder, n, side, channels, seed=seed)
    for warning in caught:
        print(f"warning: {warning.message}")
    return image_set.images


def load_generated(args: argparse.Namespace):
    """(uint8 images, where they came from) for GENERATED."""
    from wgan.run_folder import RunFolder

    folder = args.generated
    run = RunFolder(folder)
    if run.generator_model.is_file() or run.checkpoint_index.is_file():
        return generate_images(folder, args.num, args.seed, args.batch_size, args.checkpoint)
    if is_run_folder(folder):
        samples = newest_samples(folder)
        if samples is None:
            from wgan.errors import DataError

            raise DataError(
                f"run folder {folder} has neither generator.keras nor images/epoch_XXXX/ samples"
            )
        print(f"note: no generator.keras in {folder}: scoring the samples in {samples}")
        folder = samples
    side, channels = image_format(folder)
    images = load_folder(folder, args.num, side, channels, args.seed)
    return images, str(folder)


def choose_metrics(args: argparse.Namespace) -> tuple[list[str], Path | None, list[str]]:
    """(metrics to run, Inception weights file, metrics skipped for want of weights)."""
    from wgan.metrics import find_inception_weights, load_inception

    weights = find_inception_weights(args.inception_weights)
    names = args.metrics or list(METRIC_NAMES)
    needing = [name for name in names if name in INCEPTION_METRICS]
    if not needing or weights is not None:
        return names, weights, []
    if args.metrics:
        load_inception(None)  # raises the error that says how to provide the weights
    print(
        "FID/KID skipped: no InceptionV3 weights (pass --inception-weights PATH to "
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5, or put it in ~/.keras/models/)"
    )
    return [name for name in names if name not in needing], None, needing


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import_wgan()
    skip_failing_remapper()  # the SGAN baseline trains a network: keep grappler's noise out
    return run_cli(
        "evaluate.py", evaluate, args, (ValueError, OSError),
        interrupted="interrupted; nothing written",
    )


def label_model(folder: Path) -> str | None:
    """The run's model when it is one that uses labels, else None (a damaged config.json is a
    one-line error that names it)."""
    from wgan.config import TrainConfig
    from wgan.run_folder import RunFolder

    if not RunFolder(folder).config.is_file():
        return None
    model = TrainConfig.load(folder).model
    return model if model != "gan" else None


def evaluate(args: argparse.Namespace) -> int:
    model = label_model(args.generated)
    if model in ("pix2pix", "cyclegan"):
        evaluate_translation(args)
        return 0
    if model is not None:
        evaluate_labels(args, model)
        if args.real is None:
            return 0
    elif args.real is None:
        from wgan.errors import ConfigError

        raise ConfigError(f"give REAL, a folder of real images to compare {args.generated} with")
    return evaluate_images(args)


def evaluate_translation(args: argparse.Namespace) -> None:
    """An image-to-image run, on its held-out images (``wgan.translation_evaluation``)."""
    from wgan.io import write_json
    from wgan.run_folder import RunFolder
    from wgan.translation_evaluation import evaluate_translation as judge_run

    if args.real is not None:
        print(f"note: {args.generated} is judged on its own held-out images; ignoring {args.real}")
    result = judge_run(args.generated, args.cache_dir / "images", seed=args.seed or 0)
    a, b = result["domains"]
    if "l1" in result:
        print(f"{a} -> {b}, {result['held_out'][0]} held-out pairs: L1 {result['l1']:.4f}, "
              f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.3f}, SWD {result['swd']:.1f}")
    else:
        print(f"{a} <-> {b}: cycle L1 {result['cycle_l1']:.4f}; the domain classifier "
              f"({result['judge_accuracy']:.1%} on held-out real images) reads "
              f"{result['read_as_target']:.1%} of the translations as their target domain "
              f"({a} -> {b} {result['read_as_target_a_to_b']:.1%}, {b} -> {a} "
              f"{result['read_as_target_b_to_a']:.1%})")  # fmt: skip
    out = RunFolder(args.generated).translation_metrics
    write_json(out, result)
    print(f"wrote {out}")


def evaluate_labels(args: argparse.Namespace, model: str) -> None:
    from wgan.io import write_json
    from wgan.label_evaluation import evaluate_labels as judge_run
    from wgan.run_folder import CONDITIONING_METRICS

    print(f"judging the {model} run {args.generated} with an independent classifier")
    result = judge_run(
        args.generated, args.per_class, args.seed, args.checkpoint, args.cache_dir,
        args.batch_size, note=print,
    )  # fmt: skip
    for line in describe(result):
        print(line)
    out = args.generated / CONDITIONING_METRICS
    write_json(out, result)
    print(f"wrote {out}")


def describe(result: dict) -> list[str]:
    """The figures of a label evaluation as lines a person reads."""
    lines = []
    if "label_accuracy" in result:
        lines.append(f"label accuracy: {result['label_accuracy']:.1%} of "
                     f"{result['generated']} generated images classified as asked")  # fmt: skip
        per = ", ".join(f"{k} {v:.0%}" for k, v in result["per_class_accuracy"].items())
        lines.append(f"  per class: {per}")
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in result["diversity_ratio"].items())
        lines.append(f"within-class diversity, generated / real (1 = as varied as real): "
                     f"min {result['diversity_ratio_min']:.2f}, mean "
                     f"{result['diversity_ratio_mean']:.2f}")  # fmt: skip
        lines.append(f"  per class: {ratios}")
    if "flip_rate" in result:
        for name, rate in result["flip_rate"].items():
            lines.append(f"{name}: switching it on flips the judge for {rate:.1%} of samples "
                         f"(off judged off {result['off_judged_off'][name]:.0%}, on judged on "
                         f"{result['on_judged_on'][name]:.0%})")  # fmt: skip
    if "own_head_accuracy" in result:
        lines.append(f"AC-GAN's own class head on held-out real images: "
                     f"{result['own_head_accuracy']:.1%}")  # fmt: skip
    if "code_agreement" in result:
        mapping = ", ".join(f"{c}->{k}" for c, k in result["code_to_class"].items())
        lines.append(f"InfoGAN code/class agreement after the best matching: "
                     f"{result['code_agreement']:.1%} ({mapping})")  # fmt: skip
    if "classifier_accuracy" in result:
        lines.append(f"SGAN classifier test accuracy: {result['classifier_accuracy']:.1%}; the "
                     f"same network on the {result['labelled']} labelled images alone: "
                     f"{result['labelled_only_accuracy']:.1%} "
                     f"({result['gain_points']:+.1f} points)")  # fmt: skip
    return lines


def evaluate_images(args: argparse.Namespace) -> int:
    from wgan.io import write_json
    from wgan.metrics import compute_metrics, load_inception

    names, weights, skipped = choose_metrics(args)
    generated, source = load_generated(args)
    side, channels = generated.shape[1], generated.shape[3]
    real = load_folder(args.real, args.n_real, side, channels, args.seed)
    print(
        f"scoring {len(generated)} generated images ({source}) against {len(real)} real images "
        f"at {side}x{side}x{channels}"
    )
    wanted = any(name in INCEPTION_METRICS for name in names)
    extractor = load_inception(weights) if wanted else None
    results = compute_metrics(
        names, generated, real, seed=args.seed, extractor=extractor, batch_size=args.batch_size
    )

    width = max(len(key) for key in results)
    print(f"{'metric':<{width}}  value")
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.4f}")

    out = args.out or (
        args.generated / OUT_NAME if is_run_folder(args.generated) else Path(OUT_NAME)
    )
    write_json(
        out,
        {
            "generated": str(args.generated),
            "generated_source": source,
            "real": str(args.real),
            "n_generated": len(generated),
            "n_real": len(real),
            "image_size": side,
            "channels": channels,
            "seed": args.seed,
            "inception_weights": str(weights) if weights is not None else None,
            "metrics": results,
            "skipped": skipped,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
