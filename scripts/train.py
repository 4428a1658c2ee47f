#!/usr/bin/env python
"""Train a GAN on CelebA, any image folder, or built-in demo faces.

Without --preset the constants below run: the WGAN paper's recipe (weight clipping). A preset
picks a whole recipe; a flag beats the preset, the preset beats the constants. Everything a run
writes goes into one folder, runs/<date-time>/ by default.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from pathlib import Path

from _common import HOME, Parser, import_wgan, skip_failing_remapper

# --- Hyperparameters (defaults of the WGAN paper and the original project) ----------------
N_SAMPLES = 3000  # real images sampled at random from the data folder (0 = use all)
N_EPOCHS = 150  # one epoch = one pass of the sampled images through the critic
ITERATIONS = 0  # train for this many generator iterations instead of N_EPOCHS (0 = off)
BATCH_SIZE = 64  # images per critic (and generator) batch
IMAGE_SIZE = 64  # square side in pixels: 4*2^k or 7*2^k (16, 28, 32, 64, 128, ...)
CHANNELS = 3  # 3 = colour, 1 = grayscale, 4 = RGBA
LATENT_DIM = 100  # length of the generator's input noise vector
LATENT_DIST = "uniform"  # noise drawn "uniform" in [0, 1] (original design) or "normal"
LOSS = "wasserstein"  # wasserstein, nonsaturating (DCGAN), hinge or least-squares
PENALTY = "clip"  # clip (weight clipping), gp (gradient penalty), r1, or none
CLIP_VALUE = 0.01  # PENALTY "clip": critic weights are clipped to [-CLIP_VALUE, CLIP_VALUE]
GP_WEIGHT = 10.0  # PENALTY "gp": lambda; "r1": gamma
SCHEDULE = "fixed"  # fixed (N_CRITIC), warmup (official 100-update start), margin (balanced)
N_CRITIC = 5  # critic updates per generator update
MARGIN = 1.0  # SCHEDULE "margin": largest |generator loss - critic loss| before one side waits
NORM = "batch"  # critic normalisation: batch, layer or none (gp and r1 need layer or none)
SPECTRAL_NORM = False  # spectral normalisation of every critic kernel
EMA = 0.0  # decay of the generator's moving average used for samples (0 = off, e.g. 0.999)
AUGMENT = ""  # DiffAugment policy for the critic's inputs, e.g. "color,translation,cutout"
OPTIMIZER = "rmsprop"  # rmsprop or adam, for both networks
LEARNING_RATE = 5e-5  # learning rate of both networks
GENERATOR_LR = 0.0  # the generator's own learning rate; 0 = LEARNING_RATE (InfoGAN uses 1e-3)
BETA1, BETA2 = 0.5, 0.999  # Adam's betas
LEAKY_SLOPE = 0.2  # LeakyReLU negative slope in both networks
INIT_STDDEV = 0.02  # weights initialised from N(0, INIT_STDDEV)
FILTERS = 64  # width of the networks (the first critic block; the rest scale with it)
SEED = 0  # seeds the image sample, the weights, the noise and the data order
SAMPLE_EVERY = 1  # write a sample grid every this many epochs (and at the end)
PRECISION = "float32"  # "float32", "bf16" (CPUs with AVX-512 bf16), "fp16" (GPUs) or "auto"
# SWD of samples vs. real images every this many epochs (and at the last); 0 = off. One takes
# ~2 s at 64x64 on 2 CPU cores; every 10th epoch gives a 150-epoch run 15 points to pick the
# best from while the generator weights kept at those epochs (~10 MB each) stay near 150 MB.
EVAL_EVERY = 10
EVAL_SAMPLES = 256  # generated and real images per SWD evaluation (fixed for the whole run)
KEEP_EVERY = 10  # keep the generator's weights every this many epochs (0 = only eval epochs)
FLAT_PATIENCE = 5  # warn when the critic loss is ~0 or flat for this many epochs (0 = off)
# Save the full training state this often inside an epoch (at every epoch's end anyway), so a
# kill or a crash costs at most this much work; 0 = only at epoch ends.
CHECKPOINT_MINUTES = 10.0
# RUN/tensorboard/ for `tensorboard --logdir runs`: every metric per epoch and every
# TENSORBOARD_EVERY iterations (0 = epochs only), the SWD, the grids and the hyperparameters.
TENSORBOARD = True
TENSORBOARD_EVERY = 10
# Models that use labels (the presets cgan, acgan, infogan and sgan set these)
MODEL = "gan"  # gan, cgan (conditional), acgan, infogan or sgan (semi-supervised)
CRITIC_CONDITION = "projection"  # cgan: the critic sees the label by projection, or "maps"
ATTRIBUTES = ""  # cgan/acgan on CelebA: attributes to condition on, e.g. "Smiling,Male"
LABELLED = 100  # sgan: labelled images (class-balanced), the rest train unlabelled
CATEGORIES = 10  # infogan: values of the categorical code
CONTINUOUS_CODES = 2  # infogan: continuous codes, uniform in [-1, 1]
AUX_WEIGHT = 1.0  # weight of the auxiliary loss (AC-GAN's class loss, InfoGAN's, SGAN's)
# Image-to-image models (the presets pix2pix and cyclegan set these; --model picks them)
PAIRS = "auto"  # pix2pix: the folder's pairs (side-by-side files, or A/ and B/), or "edges"
DIRECTION = "AtoB"  # pix2pix: translate the left half (A) into the right (B), or "BtoA"
DOMAIN_A, DOMAIN_B = "", ""  # cyclegan: sub-folders or CelebA attributes ("" = trainA/, trainB/)
HELD_OUT = 0.1  # share of the pairs (of each domain) held out for the grids and metrics
L1_WEIGHT = 100.0  # pix2pix: lambda of the L1 term
CYCLE_WEIGHT = 10.0  # cyclegan: lambda of the cycle loss
IDENTITY = 0.5  # cyclegan: identity loss weight as a share of CYCLE_WEIGHT (0 = off)
POOL_SIZE = 50  # cyclegan: earlier translations shown to the discriminators (0 = off)
ADVERSARIAL_WEIGHT = 1.0  # image-to-image: weight of the GAN term (0 = the L1-only baseline)
DECAY_AFTER = 1.0  # share of the run after which the lr falls linearly to 0 (1 = constant)
DROPOUT = 0.5  # pix2pix: dropout in the U-Net's decoder
TEST_DROPOUT = False  # pix2pix: translate with dropout and batch statistics, as the paper
# Devices: "auto" (every local GPU when there are several, else one device), "one",
# "mirrored" (every local GPU in this process) or "multiworker" (one process per machine, as
# the TF_CONFIG environment variable lists them). BATCH_SIZE stays the global batch.
STRATEGY = "auto"
WORKER_TIMEOUT = 120.0  # multiworker: seconds to wait for the other workers to start
# Image folder, "demo" or "digits" (built-in MNIST); None = celeba-dataset/, or demo when empty
DATA = None
CELEBA_DIR = HOME / "celeba-dataset"
RUNS_DIR = HOME / "runs"
# Decoded images are kept here as memory-mapped uint8 files, so a data set is decoded once and
# full CelebA (202,599 faces, 2.3 GB at 64x64) trains without being held in RAM. None = off.
CACHE_DIR = HOME / ".cache" / "images"
# ---------------------------------------------------------------------------------------------


def yes_no(text: str) -> bool:
    if text.lower() in ("1", "yes", "true", "on"):
        return True
    if text.lower() in ("0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


FLAGS = {  # flag -> (config field, type, constant, help)
    "--n-samples": ("n_samples", int, N_SAMPLES, "real images to sample (0 = all)"),
    "--epochs": ("epochs", int, N_EPOCHS, "passes of the sampled images through the critic"),
    "--iterations": ("iterations", int, ITERATIONS, "generator iterations instead of epochs"),
    "--batch-size": ("batch_size", int, BATCH_SIZE, "images per batch"),
    "--image-size": ("image_size", int, IMAGE_SIZE, "square image side: 16, 28, 32, 64, 128..."),
    "--channels": ("channels", int, CHANNELS, "1 (grayscale), 3 (colour) or 4 (RGBA)"),
    "--latent-dim": ("latent_dim", int, LATENT_DIM, "length of the noise vector"),
    "--latent-dist": ("latent_distribution", str, LATENT_DIST, "uniform (in [0, 1]) or normal"),
    "--loss": ("loss", str, LOSS, "wasserstein, nonsaturating, hinge or least-squares"),
    "--penalty": ("penalty", str, PENALTY, "clip, gp, r1 or none"),
    "--clip": ("clip", float, CLIP_VALUE, "critic weight clip value (--penalty clip)"),
    "--gp-weight": ("gp_weight", float, GP_WEIGHT, "penalty weight (--penalty gp or r1)"),
    "--schedule": ("schedule", str, SCHEDULE, "fixed, warmup or margin"),
    "--n-critic": ("n_critic", int, N_CRITIC, "critic updates per generator update"),
    "--margin": ("margin", float, MARGIN, "loss gap the margin schedule allows"),
    "--norm": ("norm", str, NORM, "critic normalisation: batch, layer or none"),
    "--spectral-norm": ("spectral_norm", yes_no, SPECTRAL_NORM, "spectral norm in the critic"),
    "--ema": ("ema", float, EMA, "generator moving-average decay, 0 = off"),
    "--augment": ("augment", str, AUGMENT, "DiffAugment policy, e.g. color,translation,cutout"),
    "--optimizer": ("optimizer", str, OPTIMIZER, "rmsprop or adam"),
    "--lr": ("lr", float, LEARNING_RATE, "learning rate"),
    "--generator-lr": ("generator_lr", float, GENERATOR_LR, "generator learning rate, 0 = --lr"),
    "--beta1": ("beta1", float, BETA1, "Adam beta_1"),
    "--beta2": ("beta2", float, BETA2, "Adam beta_2"),
    "--leaky-slope": ("leaky_slope", float, LEAKY_SLOPE, "LeakyReLU slope"),
    "--init-stddev": ("init_stddev", float, INIT_STDDEV, "stddev of the initial weights"),
    "--filters": ("filters", int, FILTERS, "network width"),
    "--seed": ("seed", int, SEED, "random seed"),
    "--sample-every": ("sample_every", int, SAMPLE_EVERY, "epochs between sample grids"),
    "--precision": ("precision", str, PRECISION, "float32, bf16, fp16 (GPUs) or auto"),
    "--eval-every": ("eval_every", int, EVAL_EVERY, "epochs between SWD evaluations, 0 = off"),
    "--eval-samples": ("eval_samples", int, EVAL_SAMPLES, "images per SWD evaluation"),
    "--keep-every": (
        "keep_every", int, KEEP_EVERY, "epochs between kept generator weights, 0 = evals only"
    ),
    "--flat-patience": (
        "flat_patience", int, FLAT_PATIENCE, "epochs of flat critic loss before a warning"
    ),
    "--checkpoint-minutes": (
        "checkpoint_minutes", float, CHECKPOINT_MINUTES,
        "minutes between saves inside an epoch, 0 = epoch ends only",
    ),
    "--tensorboard-every": (
        "tensorboard_every", int, TENSORBOARD_EVERY,
        "iterations between TensorBoard points, 0 = epochs only",
    ),
    "--model": ("model", str, MODEL, "gan, cgan, acgan, infogan, sgan, pix2pix or cyclegan"),
    "--critic-condition": (
        "critic_condition", str, CRITIC_CONDITION, "cgan: projection or maps"
    ),
    "--attributes": ("attributes", str, ATTRIBUTES, "CelebA attributes, e.g. Smiling,Male"),
    "--labelled": ("labelled", int, LABELLED, "sgan: labelled images"),
    "--categories": ("categories", int, CATEGORIES, "infogan: categorical code values"),
    "--continuous-codes": (
        "continuous_codes", int, CONTINUOUS_CODES, "infogan: continuous codes"
    ),
    "--aux-weight": ("aux_weight", float, AUX_WEIGHT, "weight of the auxiliary loss"),
    "--pairs": ("pairs", str, PAIRS, "pix2pix: auto (the folder's pairs) or edges"),
    "--direction": ("direction", str, DIRECTION, "pix2pix: AtoB or BtoA"),
    "--domain-a": ("domain_a", str, DOMAIN_A, "cyclegan: sub-folder or CelebA attribute"),
    "--domain-b": ("domain_b", str, DOMAIN_B, "cyclegan: sub-folder or CelebA attribute"),
    "--held-out": ("held_out", float, HELD_OUT, "share of pairs/images held out"),
    "--l1-weight": ("l1_weight", float, L1_WEIGHT, "pix2pix: lambda of the L1 term"),
    "--cycle-weight": ("cycle_weight", float, CYCLE_WEIGHT, "cyclegan: lambda of the cycle loss"),
    "--identity": ("identity", float, IDENTITY, "cyclegan: identity weight, x --cycle-weight"),
    "--pool-size": ("pool_size", int, POOL_SIZE, "cyclegan: image pool size, 0 = off"),
    "--adversarial-weight": (
        "adversarial_weight", float, ADVERSARIAL_WEIGHT, "image-to-image: GAN term weight"
    ),
    "--decay-after": ("decay_after", float, DECAY_AFTER, "share of the run before lr decay"),
    "--dropout": ("dropout", float, DROPOUT, "pix2pix: U-Net decoder dropout"),
    "--test-dropout": (
        "test_dropout", yes_no, TEST_DROPOUT, "pix2pix: translate in training mode"
    ),
}
# What --resume may change: how long the run goes on, and how often it saves.
RESUMABLE = ("epochs", "iterations", "checkpoint_minutes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    import_wgan()  # the presets listed in --help live in the library
    from wgan.presets import PRESETS

    presets = "\n".join(f"  {name:<9} {preset.summary}" for name, preset in PRESETS.items())
    parser = Parser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter,
        epilog=f"presets:\n{presets}",
    )  # fmt: skip
    parser.add_argument("--preset", metavar="NAME", help=f"a whole recipe: {', '.join(PRESETS)}")
    parser.add_argument("--data", help="image folder, demo or digits "
                        "(default: celeba-dataset/, else demo)")  # fmt: skip
    for flag, (_, kind, default, text) in FLAGS.items():
        # A yes/no flag alone means yes: --spectral-norm is --spectral-norm yes.
        switch = {"nargs": "?", "const": True} if kind is yes_no else {}
        parser.add_argument(
            flag, type=kind, default=None, help=f"{text} (default {default})", **switch
        )
    parser.add_argument("--warmup", action="store_true", help="short for --schedule warmup")
    parser.add_argument("--no-tensorboard", action="store_true",
                        help="write no RUN/tensorboard/ (default: written)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path,
                        help=f"where decoded images are memory-mapped (default {CACHE_DIR})")
    parser.add_argument("--no-cache", action="store_true",
                        help="decode the images into RAM on every run instead")
    parser.add_argument("--strategy", default=STRATEGY,
                        help="auto, one, mirrored or multiworker (TF_CONFIG) "
                        f"(default {STRATEGY})")  # fmt: skip
    parser.add_argument("--worker-timeout", type=float, default=WORKER_TIMEOUT, metavar="S",
                        help="multiworker: seconds to wait for the other workers to start "
                        f"(default {WORKER_TIMEOUT:g})")
    parser.add_argument("--cpu-devices", type=int, default=1, metavar="N",
                        help="split the CPU into N devices, to try --strategy mirrored "
                        "without GPUs (default 1)")  # fmt: skip
    parser.add_argument("--run-dir", type=Path, help="output folder (default runs/<date-time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue a run where its last save left it, with its own config")
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace):
    """The run's config: flags over --preset over the constants above (or the run's own)."""
    from wgan.presets import resolve
    from wgan.trainer import resume_config

    given = {
        field: value
        for flag, (field, *_rest) in FLAGS.items()
        if (value := getattr(args, flag[2:].replace("-", "_"))) is not None
    }
    if args.warmup:
        given["schedule"] = "warmup"
    if args.no_tensorboard:
        given["tensorboard"] = False
    if args.data is not None:
        given["data"] = args.data
    if args.resume is not None:
        flag_of = {field: flag for flag, (field, *_rest) in FLAGS.items()}
        flag_of.update(data="--data", schedule="--schedule/--warmup",
                       tensorboard="--no-tensorboard")  # fmt: skip
        ignored = [flag_of[k] for k in sorted(set(given) - set(RESUMABLE))]
        ignored += ["--preset"] * bool(args.preset) + ["--run-dir"] * bool(args.run_dir)
        if ignored:
            print(f"note: --resume uses the run's own config; ignoring {', '.join(ignored)}")
        return resume_config(args.resume, {k: v for k, v in given.items() if k in RESUMABLE})
    constants = {field: constant for field, _, constant, _ in FLAGS.values()}
    constants["data"] = DATA or ""
    constants["tensorboard"] = TENSORBOARD
    return resolve(constants, args.preset, given)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("wgan").setLevel(logging.INFO)
    skip_failing_remapper()
    from wgan.errors import WganError

    cluster = None
    try:
        config = resolve_config(args)
        strategy, cluster = make_strategy(args)
        session = start(config, args, strategy, cluster)
    except KeyboardInterrupt:
        sys.stderr.write("\ntrain.py: interrupted before training started\n")
        return 130
    except WganError as err:
        sys.stderr.write(f"train.py: error: {err}\n")
        return 2
    except Exception as err:  # another worker failed while this one waited for it
        import tensorflow as tf

        from wgan.distribute import lost_peer

        if cluster is None or not isinstance(err, tf.errors.OpError):
            raise
        sys.stderr.write(f"train.py: error: {lost_peer(err)} stopped before training began "
                         "(see its own output); start every worker again\n")  # fmt: skip
        return 2
    return train(session)


def make_strategy(args: argparse.Namespace):
    """The tf.distribute strategy of --strategy, and for multiworker this worker's cluster."""
    from wgan.distribute import make_strategy as build

    if args.worker_timeout <= 0:
        from wgan.errors import ConfigError

        raise ConfigError(f"--worker-timeout must be a number of seconds above 0, "
                          f"got {args.worker_timeout:g}")  # fmt: skip
    return build(args.strategy, args.cpu_devices, args.worker_timeout, "train.py: error: ")


def start(config, args: argparse.Namespace, strategy=None, cluster=None):
    """Load the data and build the run (printing what it found), ready to train."""
    from tqdm import tqdm

    from wgan.config import cpu_has_bf16
    from wgan.trainer import start_run

    if config.precision == "bf16" and cpu_has_bf16() is False:
        print("note: this CPU has no bfloat16 instructions (avx512_bf16, amx_bf16): "
              "--precision bf16 is emulated here and slower than float32")
    bars = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="loading images", unit="img", leave=False))
        bars[0].update(done - bars[0].n)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            session = start_run(
                config, run_dir=args.resume or args.run_dir, runs_dir=RUNS_DIR,
                resume=args.resume is not None, data=args.data, default_data=CELEBA_DIR,
                cache_dir=None if args.no_cache else (args.cache_dir or CACHE_DIR),
                progress=progress, strategy=strategy,
                chief=cluster is None or cluster.is_chief,
            )  # fmt: skip
        finally:
            for bar in bars:
                bar.close()
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"warning: {warning.message}")
    for note in session.notes:
        print(note)
    plan, config = session.plan, session.config
    length = (f"{plan.iterations} iterations to {plan.last_step}" if config.iterations
              else f"{config.epochs} epochs")
    recipe = f"preset {config.preset}" if config.preset else "the constants in train.py"
    where = session.folder.path if session.scratch is None else "written by the chief"
    print(f"run folder: {where}  ({recipe}; {plan.steps_per_epoch} generator "
          f"iterations per epoch, {length}, {config.image_size}x{config.image_size}, "
          f"{config.precision})")
    replicas = session.model.distribute_strategy.num_replicas_in_sync
    if replicas > 1 or cluster is not None:
        from wgan.trainer import distribution

        spread = distribution(session.model.distribute_strategy, config.batch_size)
        role = ""
        if cluster is not None:
            role = (f"; {cluster.me} of {cluster.workers}, "
                    f"{'the chief' if cluster.is_chief else 'writes nothing'}")  # fmt: skip
        print(f"strategy: {spread['strategy']}, {replicas} replicas{role}; batch "
              f"{config.batch_size} = {spread['per_replica_batch']} per replica")
    return session


def progress_bar(session):
    """One bar for the whole session: epoch x/y, the headline metrics and an ETA."""
    import keras
    from tqdm import tqdm

    plan = session.plan
    names = session.model.headline_metrics[:3]
    short = {name: name.replace("_loss", "").replace("_", " ") for name in names}

    class Bar(keras.callbacks.Callback):
        bar = None

        def on_epoch_begin(self, epoch, logs=None):
            if self.bar is None:
                self.bar = tqdm(
                    total=plan.iterations, unit="it", dynamic_ncols=True,
                    mininterval=0.5 if sys.stderr.isatty() else 30,
                )  # fmt: skip
            self.bar.set_description(f"epoch {epoch + 1}/{plan.last_epoch}")

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            self.bar.set_postfix(
                {short[n]: f"{float(logs.get(n, math.nan)):.4g}" for n in names}, refresh=False
            )
            self.bar.update(1)

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.close()

    return Bar()


def train(session) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from wgan.checkpoint import read_best
    from wgan.errors import DiskFullError, PeerLostError
    from wgan.interrupt import Interrupted, catch_signals
    from wgan.monitor import NonFiniteLossError

    folder = session.folder
    start = time.perf_counter()
    progress = progress_bar(session)
    resume = f"  python scripts/train.py --resume {folder.path}\n"
    if session.scratch is not None:  # a worker other than the chief: its folder is scratch
        resume = "  the same command on every worker, with --resume and the chief's run folder\n"
    try:
        # Warnings (a flat critic loss) print above the progress bar instead of through it.
        # Ctrl-C or SIGTERM: the iteration in progress ends and the state is saved (a second
        # one ends the process at once).
        with logging_redirect_tqdm(), catch_signals() as stop:
            session.fit(callbacks=[progress], stop=stop)
    except Interrupted as err:
        progress.on_train_end()
        said = str(err)
        if session.scratch is not None and err.saved:
            said = said.replace(err.saved, "in the chief's run folder")
        sys.stderr.write(f"\ntrain.py: {said}. Continue with:\n{resume}")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"\ninterrupted; the last saved state is kept. Continue with:\n{resume}")
        return 130
    except DiskFullError as err:
        progress.on_train_end()
        sys.stderr.write(f"\ntrain.py: error: {err}:\n{resume}")
        return 2
    except PeerLostError as err:
        progress.on_train_end()
        sys.stderr.write(f"\ntrain.py: error: {err}\n")
        return 2
    except NonFiniteLossError as err:
        progress.on_train_end()
        sys.stderr.write(f"train.py: error: {err}\n")
        return 3
    minutes = (time.perf_counter() - start) / 60
    if session.scratch is not None:
        print(f"done in {minutes:.1f} min; the chief wrote the run folder")
        return 0
    print(f"done in {minutes:.1f} min: grids in {folder.images}, "
          f"metrics in {folder.metrics} and {folder.loss_plot}")
    best = read_best(folder.checkpoints)
    if session.config.translates:
        print(f"translate images with it: python scripts/translate.py {folder.path} INPUT")
    elif best is not None:
        print(f"lowest SWD {best['swd']:.4g} at epoch {best['epoch']}: "
              f"python scripts/generate.py {folder.path} --checkpoint best")
    return 0


if __name__ == "__main__":
    sys.exit(main())
