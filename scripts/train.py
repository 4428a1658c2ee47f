#!/usr/bin/env python
"""Train a Wasserstein GAN (weight clipping) on CelebA, any image folder, or built-in demo faces.

Edit the hyperparameters below, or override any of them with a flag (see --help).
Everything a run writes goes into one folder, runs/<date-time>/ by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

from _common import ROOT, Parser, import_wgan, skip_failing_remapper

# --- Hyperparameters (defaults of the WGAN paper and the original project) ----------------
N_SAMPLES = 3000  # real images sampled at random from the data folder (0 = use all)
N_EPOCHS = 150  # one epoch = one pass of the sampled images through the critic
BATCH_SIZE = 64  # images per critic (and generator) batch
IMAGE_SIZE = 64  # square side in pixels: 4*2^k or 7*2^k (16, 28, 32, 64, 128, ...)
CHANNELS = 3  # 3 = colour, 1 = grayscale, 4 = RGBA
LATENT_DIM = 100  # length of the generator's input noise vector
LATENT_DIST = "uniform"  # noise drawn "uniform" in [0, 1] (original design) or "normal"
LEARNING_RATE = 5e-5  # RMSprop learning rate for both networks
CLIP_VALUE = 0.01  # critic weights are clipped to [-CLIP_VALUE, CLIP_VALUE]
N_CRITIC = 5  # critic updates per generator update
WARMUP = False  # official schedule: 100 critic updates for 25 iterations and every 500th
LEAKY_SLOPE = 0.2  # LeakyReLU negative slope in both networks
INIT_STDDEV = 0.02  # weights initialised from N(0, INIT_STDDEV)
FILTERS = 64  # width of the networks (the first critic block; the rest scale with it)
SEED = 0  # seeds the image sample, the weights, the noise and the data order
SAMPLE_EVERY = 1  # write a sample grid every this many epochs (and at the end)
PRECISION = "float32"  # "float32" or "bf16" (faster on CPUs with AVX-512 bf16)
# SWD of samples vs. real images every this many epochs (and at the last); 0 = off. One takes
# ~2 s at 64x64 on 2 CPU cores; every 10th epoch gives a 150-epoch run 15 points to pick the
# best from while the generator weights kept at those epochs (~10 MB each) stay near 150 MB.
EVAL_EVERY = 10
EVAL_SAMPLES = 256  # generated and real images per SWD evaluation (fixed for the whole run)
KEEP_EVERY = 10  # keep the generator's weights every this many epochs (0 = only eval epochs)
FLAT_PATIENCE = 5  # warn when the critic loss is ~0 or flat for this many epochs (0 = off)
DATA = None  # image folder; None = celeba-dataset/, or the demo faces when that is empty
CELEBA_DIR = ROOT / "celeba-dataset"
RUNS_DIR = ROOT / "runs"
# Decoded images are kept here as memory-mapped uint8 files, so a data set is decoded once and
# full CelebA (202,599 faces, 2.3 GB at 64x64) trains without being held in RAM. None = off.
CACHE_DIR = ROOT / ".cache" / "images"
# ---------------------------------------------------------------------------------------------

FLAGS = {  # flag -> (config field, type, constant, help)
    "--n-samples": ("n_samples", int, N_SAMPLES, "real images to sample (0 = all)"),
    "--epochs": ("epochs", int, N_EPOCHS, "passes of the sampled images through the critic"),
    "--batch-size": ("batch_size", int, BATCH_SIZE, "images per batch"),
    "--image-size": ("image_size", int, IMAGE_SIZE, "square image side: 16, 28, 32, 64, 128..."),
    "--channels": ("channels", int, CHANNELS, "1 (grayscale), 3 (colour) or 4 (RGBA)"),
    "--latent-dim": ("latent_dim", int, LATENT_DIM, "length of the noise vector"),
    "--latent-dist": ("latent_distribution", str, LATENT_DIST, "uniform (in [0, 1]) or normal"),
    "--lr": ("lr", float, LEARNING_RATE, "RMSprop learning rate"),
    "--clip": ("clip", float, CLIP_VALUE, "critic weight clip value"),
    "--n-critic": ("n_critic", int, N_CRITIC, "critic updates per generator update"),
    "--leaky-slope": ("leaky_slope", float, LEAKY_SLOPE, "LeakyReLU slope"),
    "--init-stddev": ("init_stddev", float, INIT_STDDEV, "stddev of the initial weights"),
    "--filters": ("filters", int, FILTERS, "network width"),
    "--seed": ("seed", int, SEED, "random seed"),
    "--sample-every": ("sample_every", int, SAMPLE_EVERY, "epochs between sample grids"),
    "--precision": ("precision", str, PRECISION, "float32 or bf16"),
    "--eval-every": ("eval_every", int, EVAL_EVERY, "epochs between SWD evaluations, 0 = off"),
    "--eval-samples": ("eval_samples", int, EVAL_SAMPLES, "images per SWD evaluation"),
    "--keep-every": (
        "keep_every", int, KEEP_EVERY, "epochs between kept generator weights, 0 = evals only"
    ),
    "--flat-patience": (
        "flat_patience", int, FLAT_PATIENCE, "epochs of flat critic loss before a warning"
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", help="image folder (default: celeba-dataset/, else demo faces)")
    for flag, (_, kind, default, text) in FLAGS.items():
        parser.add_argument(flag, type=kind, default=None, help=f"{text} (default {default})")
    parser.add_argument(
        "--warmup", action="store_true", default=None,
        help="official schedule: 100 critic updates for 25 iterations and every 500th",
    )
    parser.add_argument("--cache-dir", type=Path,
                        help=f"where decoded images are memory-mapped (default {CACHE_DIR})")
    parser.add_argument("--no-cache", action="store_true",
                        help="decode the images into RAM on every run instead")
    parser.add_argument("--run-dir", type=Path, help="output folder (default runs/<date-time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue a run from its last completed epoch, with its own config")
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace):
    from wgan.config import TrainConfig

    given = {
        field: getattr(args, flag[2:].replace("-", "_"))
        for flag, (field, *_rest) in FLAGS.items()
        if getattr(args, flag[2:].replace("-", "_")) is not None
    }
    if args.warmup is not None:
        given["warmup"] = True
    if args.resume is not None:
        config = TrainConfig.load(args.resume)
        ignored = sorted(set(given) - {"epochs"})
        if ignored or args.data or args.run_dir:
            skipped = ", ".join(ignored) or "--data/--run-dir"
            print(f"note: --resume uses the run's own config; ignoring {skipped}")
        if "epochs" in given:
            config.epochs = given["epochs"]
        return config.validate()
    defaults = {field: constant for field, _, constant, _ in FLAGS.values()}
    defaults["warmup"] = WARMUP
    return TrainConfig(**{**defaults, **given}).validate()


def make_writable_folder(folder: Path) -> None:
    """Create folder if needed and prove a file can be written there; OSError if not."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-test-{os.getpid()}"
    probe.write_text("")
    probe.unlink()


def prepare_run_dir(args: argparse.Namespace) -> tuple[Path, bool]:
    """Make (or check) the run folder; never reuse a folder that holds another run.

    Returns the folder and whether this call created it (to remove it again on an early error).
    """
    from wgan.errors import ConfigError

    if args.resume is not None:
        if not (args.resume / "config.json").exists():
            raise ConfigError(
                f"--resume {args.resume}: no config.json there; give a folder made by train.py"
            )
        return args.resume, False
    run_dir = args.run_dir or RUNS_DIR / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(
            f"--run-dir {run_dir} already holds files; use --resume {run_dir} or a new folder"
        )
    created = not run_dir.exists()
    try:
        make_writable_folder(run_dir)
    except OSError as err:
        raise ConfigError(
            f"--run-dir {run_dir} is not writable ({err.strerror}); choose another folder"
        ) from None
    return run_dir, created


def folder_has_images(folder: Path) -> bool:
    from wgan.data import find_images
    from wgan.errors import WganError

    try:
        return bool(find_images(folder)[0])
    except WganError:
        return False


def cache_path(config, source: str, n_found: int, cache_dir: Path | None) -> Path | None:
    """One cache file per folder, size, channels and sample; its sidecar guards the contents.

    The seed is in the name only when it picks a sample: runs that use every file share one
    cache whatever their seed. An unwritable cache folder means no cache, with a note.
    """
    import hashlib

    if cache_dir is None:
        return None
    try:
        make_writable_folder(cache_dir)
    except OSError as err:
        print(f"note: cannot write the image cache in {cache_dir} ({err.strerror}); decoding "
              f"into RAM instead (choose a folder with --cache-dir)")
        return None
    folder = Path(source).expanduser().resolve()
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    sampled = 0 < config.n_samples < n_found
    sample = f"{config.n_samples}-seed{config.seed}" if sampled else "all"
    return cache_dir / (f"{folder.name}-{tag}-{config.image_size}px-{config.channels}ch-"
                        f"{sample}.u8cache")


def load_data(config, data_arg: str | None, cache_dir: Path | None = None):
    """Return (uint8 images, data description) for the configured source."""
    from tqdm import tqdm

    from wgan.data import find_images, load_images
    from wgan.demo_faces import draw_faces

    source = data_arg or config.data or (str(DATA) if DATA else "")
    if not source:
        if folder_has_images(CELEBA_DIR):
            source = str(CELEBA_DIR)
        else:
            print(
                f"{CELEBA_DIR.name}/ holds no images: training on the built-in demo faces "
                f"(see {CELEBA_DIR.name}/README.md to get CelebA)"
            )
            source = "demo"
    if source == "demo":
        n = config.n_samples or N_SAMPLES
        return draw_faces(n, config.image_size, config.channels, seed=config.seed), "demo"
    n_found = len(find_images(source)[0])  # a missing folder fails here, before any bar
    bars = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="loading images", unit="img", leave=False))
        bars[0].update(done - bars[0].n)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image_set = load_images(
                source, config.n_samples, config.image_size, config.channels,
                seed=config.seed, cache_path=cache_path(config, source, n_found, cache_dir),
                progress=progress,
            )
        finally:
            for bar in bars:
                bar.close()
    for warning in caught:
        print(f"warning: {warning.message}")
    mapped = getattr(image_set.images, "filename", None)
    note = f"; decoded copy memory-mapped from {mapped}" if mapped else ""
    print(f"loaded {len(image_set.images)} of {image_set.n_found} images from {source} "
          f"({image_set.layout} layout{note})")
    return image_set.images, str(Path(source).resolve())


def progress_callback(config, steps: int):
    """One bar for the whole run: epoch x/y, the losses and an ETA."""
    import keras
    from tqdm import tqdm

    class Progress(keras.callbacks.Callback):
        bar = None

        def on_epoch_begin(self, epoch, logs=None):
            if self.bar is None:
                self.bar = tqdm(
                    total=(config.epochs - epoch) * steps, unit="it", dynamic_ncols=True,
                    mininterval=0.5 if sys.stderr.isatty() else 30,
                )
            self.bar.set_description(f"epoch {epoch + 1}/{config.epochs}")

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            self.bar.set_postfix(
                critic=f"{logs.get('critic_loss', math.nan):.4g}",
                gen=f"{logs.get('generator_loss', math.nan):.4g}",
                W=f"{logs.get('wasserstein_estimate', math.nan):.4g}",
                refresh=False,
            )
            self.bar.update(1)

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.close()

    return Progress()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("wgan").setLevel(logging.INFO)
    import_wgan()
    skip_failing_remapper()
    from wgan.errors import WganError

    run_dir, created = None, False
    try:
        config = resolve_config(args)
        run_dir, created = prepare_run_dir(args)
        return run(config, args, run_dir)
    except (WganError, KeyboardInterrupt) as err:
        if created and run_dir is not None and not any(run_dir.iterdir()):
            run_dir.rmdir()  # nothing was written: leave no empty run behind
        if isinstance(err, KeyboardInterrupt):
            sys.stderr.write("\ntrain.py: interrupted before training started\n")
            return 130
        sys.stderr.write(f"train.py: error: {err}\n")
        return 2


def cpu_lacks_bf16() -> bool:
    """True on a Linux CPU without bfloat16 instructions, where bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False  # not Linux: no way to tell, say nothing
    return "flags" in flags and not any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def run(config, args, run_dir: Path) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from wgan.config import package_versions
    from wgan.data import steps_per_epoch
    from wgan.errors import ConfigError
    from wgan.io import write_json
    from wgan.monitor import NonFiniteLossError
    from wgan.trainer import train

    if config.precision == "bf16" and cpu_lacks_bf16():
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            print("note: this CPU has no bfloat16 instructions (avx512_bf16, amx_bf16): "
                  "--precision bf16 is emulated here and slower than float32")
    cache_dir = None if args.no_cache else (args.cache_dir or CACHE_DIR)
    images, data = load_data(config, None if args.resume else args.data, cache_dir)
    config.data, config.n_images = data, int(len(images))
    steps = steps_per_epoch(len(images), config.batch_size, config.n_critic)
    if steps == 0:
        raise ConfigError(
            f"{len(images)} images are fewer than --batch-size x --n-critic = "
            f"{config.batch_size * config.n_critic}; lower them or use more images"
        )
    record = config.to_dict()
    record.update(
        steps_per_epoch=steps,
        versions=package_versions(),
        command=" ".join(sys.argv),
        started=dt.datetime.now().isoformat(timespec="seconds"),
    )
    write_json(run_dir / "config.json", record)
    print(f"run folder: {run_dir}  ({steps} generator iterations per epoch, "
          f"{config.epochs} epochs, {config.image_size}x{config.image_size}, {config.precision})")
    start = time.perf_counter()
    progress = progress_callback(config, steps)
    try:
        # Warnings (a flat critic loss) print above the progress bar instead of through it.
        with logging_redirect_tqdm():
            train(config, images, run_dir, resume=args.resume is not None, callbacks=[progress])
    except KeyboardInterrupt:
        sys.stderr.write(
            f"\ninterrupted; the last completed epoch is kept. Continue with:\n"
            f"  python scripts/train.py --resume {run_dir}\n"
        )
        return 130
    except NonFiniteLossError as err:
        progress.on_train_end()
        sys.stderr.write(f"train.py: error: {err}\n")
        return 3
    minutes = (time.perf_counter() - start) / 60
    print(f"done in {minutes:.1f} min: grids in {run_dir / 'images'}, "
          f"losses in {run_dir / 'metrics.csv'} and {run_dir / 'loss.png'}")
    print_best(run_dir)
    return 0


def print_best(run_dir: Path) -> None:
    from wgan.checkpoint import read_best

    best = read_best(run_dir / "checkpoints")
    if best is not None:
        print(f"lowest SWD {best['swd']:.4g} at epoch {best['epoch']}: "
              f"python scripts/generate.py {run_dir} --checkpoint best")


if __name__ == "__main__":
    sys.exit(main())
