"""Keras callbacks that write what a person needs to judge a run, epoch by epoch."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from wgan.checkpoint import TrainingState
from wgan.grids import make_grid, to_uint8
from wgan.history import COLUMNS, append_row, read_metrics
from wgan.io import atomic_path, save_png

log = logging.getLogger(__name__)


def epoch_name(epoch: int) -> str:
    """``epoch_0007``: the name of an epoch's grid (1-based, sorts as text)."""
    return f"epoch_{epoch:04d}"


class MetricsCSV(keras.callbacks.Callback):
    """Append one row per epoch to ``metrics.csv``: the epoch's mean losses, step and seconds."""

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {key: float(logs[key]) for key in COLUMNS if key in logs}
        row["epoch"] = epoch + 1
        row["step"] = int(self.model.generator_optimizer.iterations.numpy())
        row["seconds"] = round(time.perf_counter() - self._start, 3)
        append_row(self.path, row)


class SampleGrid(keras.callbacks.Callback):
    """Grid of samples from one fixed noise batch, so grids are comparable across epochs.

    Each grid's samples are also written one PNG each (``epoch_0001/sample_00.png``), for
    steps such as sonification that read images rather than slice a figure.
    """

    def __init__(self, images_dir: str | os.PathLike, noise: np.ndarray, every: int, epochs: int):
        super().__init__()
        self.images_dir = Path(images_dir)
        self.noise = noise
        self.every = every
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.epochs:
            write_samples(self.model.generator, self.noise, self.images_dir, epoch_name(done))


def write_samples(generator: keras.Model, noise: np.ndarray, images_dir: Path, name: str) -> Path:
    """Write ``name.png`` (the grid) and ``name/sample_NN.png``; return the grid's path."""
    images = to_uint8(generator(noise, training=False))
    folder = images_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        save_png(folder / f"sample_{i:02d}.png", image)
    grid_path = images_dir / f"{name}.png"
    save_png(grid_path, make_grid(images))
    return grid_path


class LossPlot(keras.callbacks.Callback):
    """Redraw ``loss.png`` from ``metrics.csv`` after every epoch."""

    def __init__(self, metrics_path: str | os.PathLike, plot_path: str | os.PathLike):
        super().__init__()
        self.metrics_path = Path(metrics_path)
        self.plot_path = Path(plot_path)

    def on_epoch_end(self, epoch, logs=None):
        plot_losses(read_metrics(self.metrics_path), self.plot_path)


def plot_losses(rows: list[dict[str, float]], path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for key, label in (
        ("critic_loss", "critic loss"),
        ("generator_loss", "generator loss"),
        ("wasserstein_estimate", "Wasserstein estimate"),
    ):
        ax.plot(epochs, [row.get(key, math.nan) for row in rows], label=label, marker=".")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("WGAN training (critic loss = -Wasserstein estimate)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


class SaveCheckpoint(keras.callbacks.Callback):
    """Save the full training state at the end of every epoch (after the CSV row and grids)."""

    def __init__(self, state: TrainingState):
        super().__init__()
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        self.state.save(epoch + 1)
