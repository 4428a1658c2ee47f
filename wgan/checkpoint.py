"""The run's checkpoints: ``last`` to resume from, ``best`` (lowest SWD) and kept generator weights.

Layout of the checkpoints folder (names in ``wgan.run_folder``)::

    checkpoint, last-N.*          the two newest epochs (tf.train.CheckpointManager)
    partial/partial-STEP.*        the state saved inside the epoch in progress (every
                                  ``--checkpoint-minutes``, or when a signal stops the run);
                                  removed once that epoch's ``last`` is saved
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
from wgan.errors import WganError, first_line
from wgan.gan import GAN
from wgan.io import atomic_path, write_json
from wgan.run_folder import (
    BEST_DIR,
    BEST_JSON,
    CONFIG,
    LAST_NAME,
    PARTIAL_DIR,
    kept_weights,
    kept_weights_path,
)

_PREFIX_PATTERN = re.compile(r"-(\d+)$")
INDEX = "checkpoint"  # tf.train.CheckpointManager's list of the saves in a folder
_ITERATIONS_KEY = "train_iterations/.ATTRIBUTES/VARIABLE_VALUE"
_EPOCH_KEY = "epoch/.ATTRIBUTES/VARIABLE_VALUE"
_POSITION_KEY = "position/.ATTRIBUTES/VARIABLE_VALUE"


class TrainingState:
    """Whatever the model holds (``GAN.checkpoint_items``: networks, optimizers, seeds, the
    parts' state such as the EMA generator, the epoch's running metrics), the fixed noise
    batch of the grids, the last completed epoch, the iterations done in the next one
    (``position``, non-zero in a partial checkpoint) and the best SWD so far.

    ``tf.train.CheckpointManager`` writes the data files before it updates its index, so a
    run killed mid-save resumes from the previous save. The best SWD travels inside every
    checkpoint, so a resumed run remembers it exactly as of the point it resumes from.
    """

    def __init__(self, model: GAN, fixed_noise: np.ndarray, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.fixed_noise = tf.Variable(
            np.asarray(fixed_noise, np.float32), trainable=False, name="fixed_noise"
        )
        self.best_swd = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_swd")
        self.best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_epoch")
        self.position = tf.Variable(0, dtype=tf.int64, trainable=False, name="position")
        self.model = model
        self.checkpoint = tf.train.Checkpoint(
            **model.checkpoint_items(),
            fixed_noise=self.fixed_noise,
            epoch=self.epoch,
            position=self.position,
            best_swd=self.best_swd,
            best_epoch=self.best_epoch,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=2, checkpoint_name=LAST_NAME
        )
        self.partial = tf.train.CheckpointManager(
            self.checkpoint, self.directory / PARTIAL_DIR, max_to_keep=1,
            checkpoint_name=PARTIAL_DIR,
        )  # fmt: skip
        # The epoch's running metrics as restored (fit resets them when the epoch begins).
        self.metric_values: list[np.ndarray] = []

    def save(self, epoch: int) -> str:
        """Save ``last`` at the end of ``epoch``; then the partial checkpoint of that epoch and
        best checkpoints the saved state no longer points to can go."""
        self.epoch.assign(epoch)
        self.position.assign(0)
        path = self.manager.save(checkpoint_number=epoch)
        self.remove_partial()
        self._prune_best()
        return path

    def save_partial(self, epoch: int, position: int) -> str:
        """Save the state ``position`` iterations into the epoch after ``epoch`` (completed)."""
        self.epoch.assign(epoch)
        self.position.assign(position)
        return self.partial.save(checkpoint_number=int(self.model.train_iterations.numpy()))

    def save_best(self, epoch: int, swd: float) -> str:
        """Record a new lowest SWD and write the full state as ``best/best-EPOCH``.

        The previous best is removed only once ``last`` records the new one (in ``save``),
        so a run killed in between still resumes with a best checkpoint that exists.
        """
        self.epoch.assign(epoch)
        self.position.assign(0)
        self.best_swd.assign(float(swd))
        self.best_epoch.assign(epoch)
        path = self.checkpoint.write(str(self.directory / BEST_DIR / f"{BEST_DIR}-{epoch}"))
        self._write_best_json()
        return path

    def restore(self) -> tuple[int, int]:
        """Load the newest checkpoint, ``last`` or a newer partial one, if any; return (the
        epoch it completed, the iterations done in the next), (0, 0) for none.

        Generator weights and best checkpoints from epochs after it (written by the run that
        was stopped) are deleted: the resumed run writes its own.
        """
        latest = self.newest()
        if latest is None:
            if (self.directory / INDEX).exists():  # a list of saves whose files are gone
                raise WganError(
                    f"{self.directory / INDEX} lists checkpoints that are not there: nothing to "
                    "resume from; start a new run"
                )
            return 0, 0
        try:
            check_readable(latest)
        except DamagedCheckpoint as err:
            raise WganError(
                f"{err}: delete its files ({Path(latest).name}.*) to resume from the save "
                "before it, or start a new run"
            ) from None
        status = None
        try:
            status = self.checkpoint.restore(latest)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, IndexError, tf.errors.OpError) as err:
            if status is not None:
                status.expect_partial()  # no warnings about the values left unrestored
            raise WganError(
                f"cannot resume from {latest} ({first_line(err)}): "
                f"{self.directory.parent / CONFIG} no longer holds the settings the run was "
                "trained with (or another version of wgan wrote it); undo the edits, or start "
                "a new run"
            ) from None
        epoch, position = int(self.epoch.numpy()), int(self.position.numpy())
        self.metric_values = [v.numpy() for v in self.checkpoint.metric_trackers]
        for kept, path in kept_weights(self.directory).items():
            if kept > epoch:
                path.unlink()
        self._prune_best()
        return epoch, position

    def newest(self) -> str | None:
        return newest_checkpoint(self.directory)

    def remove_partial(self) -> None:
        """The list first, then the files: a kill in between leaves files no list names
        (removed next time), never a list naming files that are gone."""
        folder = self.directory / PARTIAL_DIR
        (folder / INDEX).unlink(missing_ok=True)
        for path in folder.glob("*"):
            path.unlink(missing_ok=True)

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
            if epoch != keep:  # the index last: a kill in between leaves a listed-less file
                index = Path(f"{prefix}.index")
                for path in prefix.parent.glob(prefix.name + ".*"):
                    if path != index:
                        path.unlink()
                index.unlink(missing_ok=True)
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
    except (AssertionError, ValueError, IndexError, tf.errors.OpError) as err:
        config = Path(prefix).parent.parent / CONFIG
        if Path(prefix).parent.name == BEST_DIR:
            config = config.parent.parent / CONFIG
        raise WganError(
            f"cannot restore the generator from checkpoint {prefix} ({first_line(err)}); "
            f"does {config} still describe this run's networks?"
        ) from None


def _iterations_of(prefix: str) -> int:
    """The iteration count a checkpoint was saved at (-1 when it cannot be read)."""
    try:
        return checkpoint_position(prefix)[2]
    except (tf.errors.OpError, ValueError):
        return -1


def newest_checkpoint(directory: str | os.PathLike) -> str | None:
    """The prefix a resume starts from: the partial checkpoint when it is ahead of ``last``
    (a run stopped inside an epoch), else ``last``; None when there is neither."""
    directory = Path(directory)
    found = [_latest_in(directory, LAST_NAME), _latest_in(directory / PARTIAL_DIR, PARTIAL_DIR)]
    found = [prefix for prefix in found if prefix]
    if len(found) < 2:
        return found[0] if found else None
    return max(found, key=_iterations_of)  # ties: ``last``, listed first


def _latest_in(folder: Path, name: str) -> str | None:
    """The newest checkpoint in ``folder`` by its list (``checkpoint``), or, when that list is
    damaged, by the highest number among the ``name-N.index`` files there."""
    listed = tf.train.latest_checkpoint(str(folder))
    if listed:
        return listed
    numbers = [int(m.group(1)) for index in folder.glob(f"{name}-*.index")
               if (m := _PREFIX_PATTERN.search(index.stem))]  # fmt: skip
    return str(folder / f"{name}-{max(numbers)}") if numbers else None


class DamagedCheckpoint(WganError):
    """A checkpoint's files do not read back (cut short, overwritten); the message names the
    file at fault. The caller adds what to do instead."""


def check_readable(prefix: str | os.PathLike) -> None:
    """Read every value of a checkpoint once, so that a damaged file is said to be damaged and
    named, rather than taken for settings that no longer fit the networks."""
    prefix = str(prefix)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (ValueError, tf.errors.OpError) as err:
        raise DamagedCheckpoint(
            f"checkpoint {prefix}.index is damaged ({first_line(err)})"
        ) from None
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    # TensorFlow's reader raises IndexError for a data file shorter than its index says.
    except (IndexError, ValueError, tf.errors.OpError) as err:
        data = sorted(Path(prefix).parent.glob(Path(prefix).name + ".data-*"))
        name = data[0] if len(data) == 1 else f"{prefix}.data-*"
        raise DamagedCheckpoint(f"checkpoint {name} is damaged ({first_line(err)})") from None


def checkpoint_position(prefix: str | os.PathLike) -> tuple[int, int, int]:
    """(epochs completed, iterations into the next, iterations in all) of a saved state,
    read from its files without building the model."""
    reader = tf.train.load_checkpoint(str(prefix))
    epoch, position, step = (int(reader.get_tensor(key))
                             for key in (_EPOCH_KEY, _POSITION_KEY, _ITERATIONS_KEY))  # fmt: skip
    return epoch, position, step


def _best_prefixes(directory: Path) -> dict[int, Path]:
    found = {}
    for index in (directory / BEST_DIR).glob(f"{BEST_DIR}-*.index"):
        prefix = index.with_suffix("")
        match = _PREFIX_PATTERN.search(prefix.name)
        if match:
            found[int(match.group(1))] = prefix
    return found
