"""Images from a trained generator: loaded safely from a run or a ``.keras`` file, sampled, walked.

A run folder offers several sets of weights (``last``, ``best``, kept epochs); they are loaded
into a generator built from the run's ``config.json``, so no code from a file is ever run. A
``.keras`` file is opened with Keras' safe mode for the same reason.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from wgan.build import generator_for
from wgan.checkpoint import (
    DamagedCheckpoint,
    check_readable,
    last_checkpoints,
    read_best,
    restore_generator,
)
from wgan.config import RUN_FORMAT, TrainConfig
from wgan.data import to_uint8
from wgan.errors import WganError, first_line
from wgan.inputs import InputSpace, batches, count
from wgan.io import atomic_path, save_png
from wgan.model_files import load_model_file
from wgan.priors import Prior, make_prior
from wgan.run_folder import BEST_JSON, RunFolder, kept_weights
from wgan.translation import TRANSLATION_MODELS


@dataclass
class LoadedGenerator:
    model: keras.Model
    latent_dim: int
    distribution: str  # "uniform" or "normal", as in training
    source: str  # where the weights came from, for the user
    epoch: int | None = None  # the epoch the weights are from, when known
    space: InputSpace | None = None  # labels and codes the generator takes (None: noise only)

    def __post_init__(self):
        if self.space is None:
            self.space = InputSpace(self.latent_dim, self.distribution)


def latent_noise(
    n: int, latent_dim: int, distribution: str = "uniform", seed: int | np.random.Generator = 0
) -> np.ndarray:
    """``n`` latent vectors drawn from the run's prior (``wgan.priors``), in numpy."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return make_prior(distribution).sample_numpy(n, latent_dim, rng)


def sample_images(
    generator: keras.Model,
    noise,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """uint8 images (N, H, W, C) for the generator inputs ``noise`` (latent vectors, or
    [latent, labels] for a conditional generator), a batch at a time."""
    images = []
    total = count(noise)
    for start in range(0, total, batch_size):
        batch = batches(noise, start, start + batch_size)
        images.append(to_uint8(generator(batch, training=False)))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return np.concatenate(images)


def latent_walk(
    points: np.ndarray, steps: int, distribution: str | Prior = "uniform"
) -> np.ndarray:
    """A closed walk through ``points`` (K, D): ``steps`` vectors per leg, K * steps in all,
    along the prior's own paths (straight lines for uniform noise, great circles for normal;
    ``distribution`` may be the prior itself, e.g. InfoGAN's noise and codes)."""
    prior = distribution if isinstance(distribution, Prior) else make_prior(distribution)
    t = np.arange(steps, dtype=np.float64) / steps
    legs = [prior.walk(a, b, t) for a, b in zip(points, np.roll(points, -1, axis=0), strict=True)]
    return np.concatenate(legs).astype(np.float32)


def save_images(
    images: np.ndarray, folder: str | os.PathLike, prefix: str = "sample"
) -> list[Path]:
    """Write ``prefix_0000.png``, ``prefix_0001.png``, ... (each file complete or absent)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(images) - 1)))
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{prefix}_{i:0{width}d}.png"
        save_png(path, image)
        paths.append(path)
    return paths


def save_gif(frames: np.ndarray, path: str | os.PathLike, frame_ms: int = 80) -> Path:
    """An endlessly looping animated GIF of uint8 frames (alpha is dropped: GIF has none)."""
    frames = np.asarray(frames)
    if frames.shape[-1] == 1:
        pictures = [Image.fromarray(frame[..., 0], "L") for frame in frames]
    else:
        pictures = [Image.fromarray(np.ascontiguousarray(f[..., :3]), "RGB") for f in frames]
    with atomic_path(path, suffix=".gif") as tmp:
        pictures[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=frame_ms,
            loop=0,
        )
    return Path(path)


def available_epochs(run_dir: str | os.PathLike) -> list[int]:
    """Epochs whose generator weights a run folder still holds (kept, last and best)."""
    checkpoints = RunFolder(run_dir).checkpoints
    epochs = set(kept_weights(checkpoints)) | set(last_checkpoints(checkpoints))
    best = read_best(checkpoints)
    if best is not None:
        epochs.add(int(best["epoch"]))
    return sorted(epochs)


def load_generator(path: str | os.PathLike, checkpoint: str | None = None) -> LoadedGenerator:
    """The generator of a run folder (``checkpoint`` = "last", "best" or an epoch number;
    default "last") or of a ``.keras`` file.
    """
    path = Path(path)
    if not path.exists():
        raise WganError(
            f"{path} does not exist: give a run folder made by train.py or a generator .keras file"
        )
    _refuse_translation(path if path.is_dir() else path.parent)
    if path.is_dir():
        return _from_run(path, checkpoint or "last")
    if checkpoint is not None:
        raise WganError(
            f"--checkpoint {checkpoint} needs a run folder, and {path} is a single model file; "
            f"give its folder ({path.parent}) instead"
        )
    return _from_keras_file(path)


def _refuse_translation(run_dir: Path) -> None:
    """One line for an image-to-image run: its generator takes images, not noise."""
    try:
        model = json.loads(RunFolder(run_dir).config.read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return
    if model in TRANSLATION_MODELS:
        raise WganError(f"{run_dir} is a {model} run, which translates images: use "
                        f"scripts/translate.py {run_dir} INPUT")  # fmt: skip


def _from_keras_file(
    path: Path, instead: str = "give a generator.keras written by train.py, or its run folder"
) -> LoadedGenerator:
    if path.suffix != ".keras":
        raise WganError(
            f"{path} is not a .keras model file: give a run folder made by train.py or its "
            "generator.keras"
        )
    model = load_model_file(path, instead)
    latent_dim = _check_is_generator(model, path)
    distribution = "uniform"
    config_path = RunFolder(path.parent).config
    space = None
    if config_path.is_file():
        config = TrainConfig.load(path.parent)  # a damaged one is a line that names it
        distribution = config.latent_distribution
        if config.model != "gan":
            space = InputSpace.from_config(config)
            if space.width != latent_dim:
                raise WganError(
                    f"{config_path} describes a generator of {space.width} latent inputs, and "
                    f"{path} takes {latent_dim}: give the run folder the model was trained in"
                )
    else:
        warnings.warn(
            f"no config.json beside {path}: assuming uniform latent noise in [0, 1] "
            "(the default of train.py)",
            stacklevel=2,
        )
    if len(model.inputs) > 1 and (space is None or not space.conditional):
        raise WganError(
            f"{path} is a conditional generator and {config_path} does not say its labels: "
            "give the run folder it was trained in"
        )
    return LoadedGenerator(model, latent_dim, distribution, str(path), space=space)


def _check_readable(prefix: str | os.PathLike, run_dir: Path, chosen: str) -> None:
    """Read every value of a training checkpoint, so that a damaged one (cut short,
    overwritten) is a line that names its file, not a complaint about config.json."""
    try:
        check_readable(prefix)
    except DamagedCheckpoint as err:
        raise WganError(f"{err}; {_other_weights(run_dir, chosen)}") from None


def _drop_failed_restore(err: WganError) -> None:
    """A restore that failed half-way leaves TensorFlow objects behind (reached through the
    error's context) that log a warning per value never restored when they are collected, at
    exit at the latest, under the one-line error. Collect them now, with that logger quiet."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        err.__context__ = None
        gc.collect()
    finally:
        logger.setLevel(level)


def _other_weights(run_dir: Path, chosen: str) -> str:
    """What to try instead of the damaged weights ``chosen`` (--checkpoint): the others the
    run folder holds."""
    checkpoints = RunFolder(run_dir).checkpoints
    there = {"last": last_checkpoints(checkpoints), "best": read_best(checkpoints)}
    names = [name for name, found in there.items() if found and name != chosen]
    epochs = [str(epoch) for epoch in available_epochs(run_dir) if str(epoch) != chosen]
    choices = names + ([f"an epoch ({', '.join(epochs)})"] if epochs else [])
    generator = RunFolder(run_dir).generator_model
    found = [f"pick other weights with --checkpoint {' or '.join(choices)}"] if choices else []
    found += [f"give {generator}"] if generator.is_file() else []
    return ", or ".join(found) or "train the run again"


def _check_is_generator(model: keras.Model, path: Path) -> int:
    """The latent input's length; a generator maps latent vectors (and maybe labels) to images."""
    inputs, outputs = model.input_shape, model.output_shape
    if isinstance(inputs, list) and len(model.inputs) == 2:  # [latent, label]
        inputs = inputs[0]
    if not (
        isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(outputs, tuple)
        and len(outputs) == 4 and outputs[-1] in (1, 3, 4)
    ):
        raise WganError(
            f"{path} is not a generator (it maps {inputs} to {outputs}, not latent vectors to "
            "images); give generator.keras, not critic.keras"
        )
    return int(inputs[-1])


def _from_run(run_dir: Path, checkpoint: str) -> LoadedGenerator:
    config = TrainConfig.load(run_dir)
    folder = RunFolder(run_dir)
    checkpoints = folder.checkpoints
    generator = generator_for(config)
    averaged = config.ema > 0  # sample from the moving average, as the run's grids did

    def restore(prefix) -> None:
        _check_readable(prefix, run_dir, checkpoint)
        try:
            restore_generator(generator, prefix, averaged=averaged)
        except WganError as err:
            _drop_failed_restore(err)
            if folder.run_format() < RUN_FORMAT:  # config.json was read already
                raise WganError(
                    f"{run_dir} was written before run format {RUN_FORMAT} and its checkpoint "
                    "does not fit today's networks; give its generator.keras, or train again"
                ) from err
            raise

    space = InputSpace.from_config(config)

    def loaded(source: str, epoch: int | None) -> LoadedGenerator:
        return LoadedGenerator(
            generator, config.latent_dim, config.latent_distribution, source, epoch, space
        )

    if checkpoint == "last":
        last = last_checkpoints(checkpoints)
        if last:
            epoch, prefix = list(last.items())[-1]
            restore(prefix)
            return loaded(f"{run_dir} checkpoint last (epoch {epoch})", epoch)
        if folder.generator_model.is_file():
            found = _from_keras_file(
                folder.generator_model, "restore the file from a copy, or train the run again"
            )
            return LoadedGenerator(
                found.model, found.latent_dim, config.latent_distribution, found.source,
                space=space,
            )  # fmt: skip
        raise WganError(f"{run_dir} has no checkpoint yet: let training finish an epoch first")
    if checkpoint == "best":
        best = read_best(checkpoints)
        if best is None and (checkpoints / BEST_JSON).is_file():
            raise WganError(
                f"{checkpoints / BEST_JSON} is damaged or names a checkpoint that is gone; use "
                "--checkpoint last or an epoch number"
            )
        if best is None:
            raise WganError(
                f"{run_dir} has no best checkpoint: it is written at evaluation epochs "
                f"(--eval-every, {config.eval_every or 'off'} in this run); use --checkpoint last"
            )
        restore(best["checkpoint"])
        epoch = int(best["epoch"])
        swd = best.get("swd")
        swd = f", SWD {swd:.4g}" if isinstance(swd, int | float) else ""
        return loaded(f"{run_dir} checkpoint best (epoch {epoch}{swd})", epoch)
    try:
        epoch = int(checkpoint)
    except ValueError:
        raise WganError(
            f"--checkpoint must be best, last or an epoch number, got {checkpoint!r}"
        ) from None
    kept = kept_weights(checkpoints)
    if epoch in kept:
        try:
            generator.load_weights(kept[epoch])
        except Exception as err:  # the whole file is read here: any failure means it is unusable
            why = f"it is damaged, or {folder.config} no longer describes the run"
            if isinstance(err, OSError):  # h5py cannot open it
                why = "it is damaged or cut short"
            raise WganError(
                f"cannot load {kept[epoch]} ({type(err).__name__}: {first_line(err, 200)}): {why}; "
                f"{_other_weights(run_dir, checkpoint)}"
            ) from None
        return loaded(f"{kept[epoch]}", epoch)
    last = last_checkpoints(checkpoints)
    best = read_best(checkpoints)
    prefix = last.get(epoch) or (best["checkpoint"] if best and best["epoch"] == epoch else None)
    if prefix is not None:
        restore(prefix)
        return loaded(f"{run_dir} checkpoint of epoch {epoch}", epoch)
    have = available_epochs(run_dir)
    listed = ", ".join(map(str, have)) if have else "none"
    raise WganError(
        f"no weights kept for epoch {epoch} in {run_dir}; epochs available: {listed} "
        "(train.py keeps every --keep-every epochs, the evaluation epochs, and the last two)"
    )
