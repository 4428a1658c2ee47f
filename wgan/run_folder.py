"""The names of everything in a run folder, in one place, and the listings that read them back.

A run folder (``runs/<date-time>/``)::

    config.json                      resolved hyperparameters, metric names, versions, command
    metrics.csv                      one row per epoch (see wgan.history)
    loss.png                         the losses and the SWD, redrawn every epoch
    tensorboard/                     the hyperparameters (HParams); train/: every metric per
                                     epoch and per N iterations, the SWD, the grids (wgan.board)
    images/real.png                  a grid of real training images
    images/epoch_0001.png            the samples of the fixed noise batch after epoch 1 ...
    images/epoch_0001/sample_00.png  ... and each of them as a file of its own
    checkpoints/                     last-N.* (the two newest epochs), checkpoint (their index),
                                     best/best-N.* + best.json, generator/epoch_NNNN.weights.h5,
                                     partial/ (the state saved inside the epoch in progress)
    .lock                            held by the process that trains the run (wgan.lock)
    images/epoch_0001/labels.json    ... with the label of each, for a conditional model
    images/inputs/sample_00.png      an image-to-image run's held-out input behind sample_00
    generator.keras, critic.keras    the final networks (the averaged generator when EMA is on)
    classifier.keras                 the semi-supervised GAN's classifier, usable on its own
    audio/                           what scripts/sonify.py writes: epoch_NNNN.wav,
                                     progression_sample_NN.wav, losses.wav
    generated/                       what scripts/generate.py writes by default
    translated/                      what scripts/translate.py writes by default
    translation.json                 evaluate.py's figures for an image-to-image run

Nothing here imports TensorFlow: the sonification reads run folders without it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

CONFIG = "config.json"
METRICS = "metrics.csv"
LOSS_PLOT = "loss.png"
TENSORBOARD = "tensorboard"  # event files for `tensorboard --logdir runs` (wgan.board)
TENSORBOARD_TRAIN = "train"  # in tensorboard/: where Keras' TensorBoard callback writes
IMAGES = "images"
REAL_GRID = "real.png"
TRANSLATION_INPUTS = "inputs"  # in images/: the input of each translated sample
CHECKPOINTS = "checkpoints"
GENERATOR_MODEL = "generator.keras"
CRITIC_MODEL = "critic.keras"
CLASSIFIER_MODEL = "classifier.keras"  # the semi-supervised GAN's classifier, on its own
SAMPLE_LABELS = "labels.json"  # in an epoch's samples folder: the label of each sample
CONDITIONING_METRICS = "conditioning.json"  # evaluate.py's figures for a label model
AUDIO = "audio"
LOSSES_AUDIO = "losses"  # audio/losses.wav (.mp3): the metrics of every epoch as notes
GENERATED = "generated"
TRANSLATED = "translated"
TRANSLATION_METRICS = "translation.json"  # evaluate.py's figures for an image-to-image run
LOCK = ".lock"
# Inside checkpoints/
LAST_NAME = "last"
PARTIAL_DIR = "partial"  # partial/partial-STEP.*: saved inside an epoch, gone at its end
BEST_DIR = "best"
BEST_JSON = "best.json"
KEPT_DIR = "generator"

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_EPOCH = re.compile(r"^epoch_(\d+)$")
_SAMPLE = re.compile(r"^sample_(\d+)$")
_KEPT = re.compile(r"^epoch_(\d+)\.weights\.h5$")


def epoch_name(epoch: int) -> str:
    """``epoch_0007``: the name of an epoch's grid and sample folder (1-based, sorts as text)."""
    return f"epoch_{epoch:04d}"


def sample_name(index: int) -> str:
    return f"sample_{index:02d}.png"


def progression_name(index: int) -> str:
    """``progression_sample_03``: the audio file that follows one sample through the epochs."""
    return f"progression_sample_{index:02d}"


class RunFolder:
    """Paths of one run folder; nothing is created until a writer asks for its path."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    config = property(lambda self: self.path / CONFIG)
    metrics = property(lambda self: self.path / METRICS)
    loss_plot = property(lambda self: self.path / LOSS_PLOT)
    tensorboard = property(lambda self: self.path / TENSORBOARD)
    tensorboard_train = property(lambda self: self.path / TENSORBOARD / TENSORBOARD_TRAIN)
    images = property(lambda self: self.path / IMAGES)
    real_grid = property(lambda self: self.path / IMAGES / REAL_GRID)
    translation_inputs = property(lambda self: self.path / IMAGES / TRANSLATION_INPUTS)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    lock = property(lambda self: self.path / LOCK)
    # tf.train.CheckpointManager's index of the last checkpoints
    checkpoint_index = property(lambda self: self.path / CHECKPOINTS / "checkpoint")
    generator_model = property(lambda self: self.path / GENERATOR_MODEL)
    critic_model = property(lambda self: self.path / CRITIC_MODEL)
    classifier_model = property(lambda self: self.path / CLASSIFIER_MODEL)
    audio = property(lambda self: self.path / AUDIO)
    generated = property(lambda self: self.path / GENERATED)
    translated = property(lambda self: self.path / TRANSLATED)
    translation_metrics = property(lambda self: self.path / TRANSLATION_METRICS)

    def epoch_grid(self, epoch: int) -> Path:
        return self.images / f"{epoch_name(epoch)}.png"

    def run_format(self) -> int:
        """The run-folder format config.json records (1: written before formats were recorded)."""
        return int(json.loads(self.config.read_text()).get("run_format", 1))

    def epoch_samples(self, epoch: int) -> Path:
        return self.images / epoch_name(epoch)

    def epoch_dirs(self) -> dict[int, Path]:
        """Epoch number -> ``images/epoch_NNNN/`` folder, in epoch order."""
        found = {}
        if self.images.is_dir():
            for path in self.images.iterdir():
                match = _EPOCH.match(path.name)
                if match and path.is_dir():
                    found[int(match.group(1))] = path
        return dict(sorted(found.items()))

    def epoch_folders(self) -> dict[int, Path]:
        """Epoch number -> folder of that epoch's samples (those holding any), in epoch order."""
        return {epoch: path for epoch, path in self.epoch_dirs().items() if sample_files(path)}

    def has_epoch_grids(self) -> bool:
        return self.images.is_dir() and any(self.images.glob("epoch_*.png"))

    def is_run(self) -> bool:
        """Whether this looks like a folder train.py wrote (its config or its final model)."""
        return self.config.is_file() or self.generator_model.is_file()


def sample_files(folder: str | os.PathLike) -> list[Path]:
    """The sample images of one epoch folder, in grid order."""
    samples = []
    for path in Path(folder).iterdir():
        match = _SAMPLE.match(path.stem)
        if match and path.suffix.lower() in IMAGE_SUFFIXES:
            samples.append((int(match.group(1)), path))
    return [path for _, path in sorted(samples)]


def sample_labels(folder: str | os.PathLike) -> dict[str, str]:
    """The label of each sample file in ``folder`` (``labels.json``, written for conditional
    and InfoGAN samples), by file name; empty when there is none or it cannot be read."""
    try:
        found = json.loads((Path(folder) / SAMPLE_LABELS).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def kept_weights_path(checkpoints: str | os.PathLike, epoch: int) -> Path:
    """Where the generator weights kept at ``epoch`` go (``generator/epoch_NNNN.weights.h5``)."""
    return Path(checkpoints) / KEPT_DIR / f"{epoch_name(epoch)}.weights.h5"


def kept_weights(checkpoints: str | os.PathLike) -> dict[int, Path]:
    """Epoch -> ``.weights.h5`` file of every kept generator, in epoch order."""
    folder = Path(checkpoints) / KEPT_DIR
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = _KEPT.match(path.name)
            if match:
                found[int(match.group(1))] = path
    return dict(sorted(found.items()))
