"""The run's checkpoints: ``last`` to resume from, ``best`` (lowest SWD) and kept generator weights.

Layout of the checkpoints folder (names in ``wgan.run_folder``)::

    checkpoint, last-N.*          the two newest epochs (tf.train.CheckpointManager)
    best/best-N.*, best.json      the epoch with the lowest SWD so far, with its value
    generator/epoch_NNNN.weights.h5   generator weights kept at chosen epochs (the averaged
                                  ones when EMA is on: those are what sampling uses)
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from wgan.ema import CHECKPOINT_KEY as EMA_KEY
from wgan.errors import WganError
from wgan.gan import GAN
from wgan.io import atomic_path, write_json
from wgan.run_folder import BEST_DIR, BEST_JSON, LAST_NAME, kept_weights, kept_weights_path

_PREFIX_PATTERN = re.compile(r"-(\d+)$")


class TrainingState:
    """Whatever the model holds (``GAN.checkpoint_items``: networks, optimizers, seeds, the
    parts' state such as the EMA generator), the fixed noise batch of the grids, the last
    completed epoch and the best SWD so far.

    ``tf.train.CheckpointManager`` writes the data files before it updates its index, so a
    run killed mid-save resumes from the previous epoch. The best SWD travels inside every
    checkpoint, so a resumed run remembers it exactly as of the epoch it resumes from.
    """

    def __init__(self, model: GAN, fixed_noise: np.ndarray, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.fixed_noise = tf.Variable(
            np.asarray(fixed_noise, np.float32), trainable=False, name="fixed_noise"
        )
        self.best_swd = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_swd")
        self.best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_epoch")
        self.checkpoint = tf.train.Checkpoint(
            **model.checkpoint_items(),
            fixed_noise=self.fixed_noise,
            epoch=self.epoch,
            best_swd=self.best_swd,
            best_epoch=self.best_epoch,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=2, checkpoint_name=LAST_NAME
        )

    def save(self, epoch: int) -> str:
        """Save ``last``; then best checkpoints the saved state no longer points to can go."""
        self.epoch.assign(epoch)
        path = self.manager.save(checkpoint_number=epoch)
        self._prune_best()
        return path

    def save_best(self, epoch: int, swd: float) -> str:
        """Record a new lowest SWD and write the full state as ``best/best-EPOCH``.

        The previous best is removed only once ``last`` records the new one (in ``save``),
        so a run killed in between still resumes with a best checkpoint that exists.
        """
        self.epoch.assign(epoch)
        self.best_swd.assign(float(swd))
        self.best_epoch.assign(epoch)
        path = self.checkpoint.write(str(self.directory / BEST_DIR / f"{BEST_DIR}-{epoch}"))
        self._write_best_json()
        return path

    def restore(self) -> int:
        """Load the newest checkpoint, if any; return the epoch it completed (0 for none).

        Generator weights and best checkpoints from epochs after it (written by the run that
        was stopped) are deleted: the resumed run writes its own.
        """
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise WganError(
                f"cannot resume from {latest} ({_first_line(err)}): was it written by another "
                "version of wgan or for other settings? Start a new run"
            ) from None
        epoch = int(self.epoch.numpy())
        for kept, path in kept_weights(self.directory).items():
            if kept > epoch:
                path.unlink()
        self._prune_best()
        return epoch

    @property
    def noise(self) -> np.ndarray:
        return self.fixed_noise.numpy()

    @property
    def best(self) -> tuple[int, float] | None:
        """(epoch, SWD) of the best evaluation so far, or None before the first."""
        epoch = int(self.best_epoch.numpy())
        return (epoch, float(self.best_swd.numpy())) if epoch else None

    def _prune_best(self) -> None:
        best = self.best
        keep = best[0] if best else None
        for epoch, prefix in _best_prefixes(self.directory).items():
            if epoch != keep:
                for path in prefix.parent.glob(prefix.name + ".*"):
                    path.unlink()
        if best is None:
            (self.directory / BEST_JSON).unlink(missing_ok=True)
        else:
            self._write_best_json()

    def _write_best_json(self) -> None:
        epoch, swd = self.best
        write_json(
            self.directory / BEST_JSON,
            {"epoch": epoch, "swd": swd, "checkpoint": f"{BEST_DIR}/{BEST_DIR}-{epoch}"},
        )


def save_generator_weights(
    generator: keras.Model, directory: str | os.PathLike, epoch: int
) -> Path:
    """Keep the generator's weights of one epoch (a small ``.weights.h5``, no optimizer)."""
    path = kept_weights_path(directory, epoch)
    with atomic_path(path, suffix=".weights.h5") as tmp:
        generator.save_weights(tmp)
    return path


def last_checkpoints(directory: str | os.PathLike) -> dict[int, str]:
    """Epoch -> prefix of the ``last`` checkpoints still on disk (the newest last)."""
    directory = Path(directory)
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None:
        return {}
    found = {}
    # TensorFlow has already joined each stored prefix to ``directory`` (relative to the
    # working directory when ``directory`` is): joining again would double a relative path.
    for prefix in state.all_model_checkpoint_paths:
        match = _PREFIX_PATTERN.search(prefix)
        if match and Path(prefix + ".index").exists():
            found[int(match.group(1))] = prefix
    return dict(sorted(found.items()))


def read_best(directory: str | os.PathLike) -> dict | None:
    """``best.json`` ({"epoch", "swd", "checkpoint"}) when its checkpoint exists, else None."""
    directory = Path(directory)
    try:
        best = json.loads((directory / BEST_JSON).read_text())
        prefix = directory / best["checkpoint"]
        int(best["epoch"])
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return None
    if not Path(str(prefix) + ".index").exists():
        return None
    return {**best, "checkpoint": str(prefix)}


def restore_generator(
    generator: keras.Model, prefix: str | os.PathLike, averaged: bool = False
) -> None:
    """Load only the generator's weights (the moving average's when ``averaged``) from a full
    training checkpoint."""
    key = EMA_KEY if averaged else "generator"
    try:
        status = tf.train.Checkpoint(**{key: generator}).read(str(prefix))
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise WganError(
            f"cannot restore the generator from checkpoint {prefix} ({_first_line(err)}); "
            "does config.json still describe this run's networks?"
        ) from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _best_prefixes(directory: Path) -> dict[int, Path]:
    found = {}
    for index in (directory / BEST_DIR).glob(f"{BEST_DIR}-*.index"):
        prefix = index.with_suffix("")
        match = _PREFIX_PATTERN.search(prefix.name)
        if match:
            found[int(match.group(1))] = prefix
    return found
