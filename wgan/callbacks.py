"""Keras callbacks that write what a person needs to judge a run, epoch by epoch."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras

from wgan.checkpoint import TrainingState, save_generator_weights
from wgan.data import to_uint8
from wgan.distribute import Agreement
from wgan.evaluation import SWDEvaluator
from wgan.grids import make_grid
from wgan.history import append_row, columns_for, read_metrics
from wgan.interrupt import Interrupted, StopRequest
from wgan.io import atomic_path, save_png, write_json
from wgan.monitor import non_finite_state
from wgan.run_folder import SAMPLE_LABELS, RunFolder, sample_name

log = logging.getLogger(__name__)


def is_due(epoch: int, every: int, epochs: int) -> bool:
    """Whether 1-based ``epoch`` is one of every ``every`` epochs, or the run's last."""
    return every > 0 and (epoch % every == 0 or epoch == epochs)


class EvaluateSWD(keras.callbacks.Callback):
    """At evaluation epochs, put the SWD of the samples into the epoch's logs as ``swd``
    (``evaluator(sampler)``: an ``SWDEvaluator`` or a ``TranslationSWD``).

    Listed before ``MetricsCSV`` (which writes it) and ``SaveBest`` (which compares it).
    """

    def __init__(self, evaluator: SWDEvaluator | Callable, every: int, epochs: int):
        super().__init__()
        self.evaluator = evaluator
        self.every = every
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and is_due(epoch + 1, self.every, self.epochs):
            logs["swd"] = float(self.evaluator(self.model.sampler))


class MetricsCSV(keras.callbacks.Callback):
    """Append one row per epoch to ``metrics.csv``: the epoch's mean metrics (whichever the
    model's parts report), the iteration count and the seconds the epoch took."""

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        columns = columns_for(self.model.metric_names)
        row = {key: float(logs[key]) for key in columns if key in logs}
        row["epoch"] = epoch + 1
        row["step"] = int(self.model.train_iterations.numpy())
        row["seconds"] = round(time.perf_counter() - self._start, 3)
        append_row(self.path, row, columns)


class SampleGrid(keras.callbacks.Callback):
    """Grid of samples from one fixed noise batch, so grids are comparable across epochs.

    Each grid's samples are also written one PNG each (``epoch_0001/sample_00.png``), for
    steps such as sonification that read images rather than slice a figure. The samples come
    from the model's ``sampler`` (the moving average when EMA is on).
    """

    def __init__(self, folder: RunFolder, grid, every: int, epochs: int):
        """``grid``: what each grid shows, with a ``write(generator, folder, epoch)``
        (``GridInputs``, or an image-to-image run's ``wgan.translation_grids.Examples``)."""
        super().__init__()
        self.folder = folder
        self.grid = grid
        self.every = every
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if is_due(done, self.every, self.epochs):
            self.grid.write(self.model.sampler, self.folder, done)


@dataclass
class GridInputs:
    """The generator inputs behind every grid of a run, and how to lay them out and say them."""

    inputs: object  # latent batch, or [latent, labels]
    columns: int | None = None  # samples per row (None: a square grid)
    captions: list[str] = field(default_factory=list)  # each sample's label, when it has one

    def write(self, generator: keras.Model, folder: RunFolder, epoch: int) -> Path:
        return write_samples(generator, self, folder, epoch)


def write_samples(generator: keras.Model, grid: GridInputs, folder: RunFolder, epoch: int) -> Path:
    """Write an epoch's grid and its samples one file each (and their labels, for a
    conditional model); return the grid's path."""
    images = to_uint8(generator(grid.inputs, training=False))
    samples = folder.epoch_samples(epoch)
    samples.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        save_png(samples / sample_name(i), image)
    if grid.captions:
        write_json(samples / SAMPLE_LABELS,
                   {sample_name(i): text for i, text in enumerate(grid.captions)})  # fmt: skip
    grid_path = folder.epoch_grid(epoch)
    save_png(grid_path, make_grid(images, columns=grid.columns))
    return grid_path


class LossPlot(keras.callbacks.Callback):
    """Redraw ``loss.png`` from ``metrics.csv`` after every epoch, with the model's headline
    metrics (``GAN.headline_metrics``) and their labels."""

    def __init__(self, metrics_path: str | os.PathLike, plot_path: str | os.PathLike):
        super().__init__()
        self.metrics_path = Path(metrics_path)
        self.plot_path = Path(plot_path)

    def on_epoch_end(self, epoch, logs=None):
        labels = self.model.metric_labels
        series = {name: labels[name] for name in self.model.headline_metrics}
        plot_losses(read_metrics(self.metrics_path), self.plot_path, series)


def plot_losses(
    rows: list[dict[str, float]], path: str | os.PathLike, series: dict[str, str]
) -> None:
    """``series`` (column -> label) per epoch; below them the SWD, when the run evaluated it,
    its best marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in rows]
    scored = [(row["epoch"], row["swd"]) for row in rows if math.isfinite(row.get("swd", math.nan))]
    if scored:
        fig, (ax, ax_swd) = plt.subplots(
            2, 1, figsize=(8, 6.5), dpi=100, sharex=True, height_ratios=(3, 2)
        )
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for key, label in series.items():
        ax.plot(epochs, [row.get(key, math.nan) for row in rows], label=label, marker=".")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_ylabel("value")
    ax.set_title("training metrics, epoch means")
    ax.legend()
    ax.grid(alpha=0.3)
    if scored:
        x, y = zip(*scored, strict=True)
        best = min(range(len(y)), key=y.__getitem__)
        ax_swd.plot(x, y, color="tab:purple", marker="o", label="SWD (lower is better)")
        ax_swd.plot(
            [x[best]], [y[best]], linestyle="none", marker="*", markersize=14, color="gold",
            markeredgecolor="black", label=f"best: {y[best]:.4g} at epoch {int(x[best])}",
        )
        ax_swd.set_ylabel("SWD x 1e3")
        ax_swd.legend()
        ax_swd.grid(alpha=0.3)
        ax_swd.set_xlabel("epoch")
    else:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


class KeepGenerator(keras.callbacks.Callback):
    """Keep the sampler's weights (the generator's, or their moving average when EMA is on)
    every ``every`` epochs and at evaluation epochs, so a later epoch can be sampled
    (``generate.py --checkpoint EPOCH``)."""

    def __init__(self, directory: str | os.PathLike, every: int, eval_every: int, epochs: int):
        super().__init__()
        self.directory = Path(directory)
        self.every = every
        self.eval_every = eval_every
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if (self.every and done % self.every == 0) or is_due(done, self.eval_every, self.epochs):
            save_generator_weights(self.model.sampler, self.directory, done)


class SaveBest(keras.callbacks.Callback):
    """Write the full state as ``best`` whenever an epoch's SWD beats the best so far. In a
    multi-worker run the chief's SWD decides, for every worker at once (saving all-reduces:
    ``wgan.distribute.Agreement``)."""

    def __init__(self, state: TrainingState, agree: Agreement | None = None, chief: bool = True):
        super().__init__()
        self.state, self.chief = state, chief
        self.agree = agree or Agreement()

    def on_epoch_end(self, epoch, logs=None):
        swd = (logs or {}).get("swd")
        if swd is None:
            return
        best = self.state.best
        better = math.isfinite(swd) and (best is None or swd < best[1])
        if self.agree(better and self.chief)[0]:
            self.state.save_best(epoch + 1, swd)
            log.info("epoch %d: new best SWD %.4g, saved as the best checkpoint", epoch + 1, swd)


class SaveCheckpoint(keras.callbacks.Callback):
    """Save the full training state at the end of every epoch (after the CSV row and grids)."""

    def __init__(self, state: TrainingState):
        super().__init__()
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        self.state.save(epoch + 1)


class InsideEpoch(keras.callbacks.Callback):
    """The state inside an epoch: a partial checkpoint every ``minutes`` of training (so a
    kill costs at most that much work, not a whole epoch) and when ``stop`` is requested
    (then ``Interrupted`` is raised), and the running metrics of the epoch a resumed run
    starts inside, put back after ``fit`` resets them.

    Listed after ``SaveCheckpoint``: an epoch's end is saved by it, and a stop requested
    during the last iteration of an epoch waits for that save.
    """

    def __init__(
        self,
        state: TrainingState,
        steps: int,
        first_epoch: int,
        position: int,
        last_step: int,
        minutes: float = 0.0,
        stop: StopRequest | None = None,
        agree: Agreement | None = None,
    ):
        super().__init__()
        self.agree = agree or Agreement()
        self.state, self.steps, self.last_step = state, steps, last_step
        self.first_epoch, self.position = first_epoch, position
        self.seconds = minutes * 60.0
        self.stop = stop if stop is not None else StopRequest()
        self.epoch, self.epoch_start, self.step = first_epoch, 0, 0
        self.saved_at = time.monotonic()

    def on_train_begin(self, logs=None):
        # Counted here from then on, rather than read from the model after every iteration.
        self.step = int(self.model.train_iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start = self.step
        if epoch == self.first_epoch and self.position:
            self.epoch_start -= self.position
            trackers = [v for t in self.model.trackers.values() for v in t.variables]
            for variable, value in zip(trackers, self.state.metric_values, strict=True):
                variable.assign(value)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        step = self.step
        position = step - self.epoch_start
        if position >= self.steps or step >= self.last_step:
            return  # the epoch's end saves, and stops on a request (on_epoch_end)
        due = bool(self.seconds) and time.monotonic() - self.saved_at >= self.seconds
        # A multi-worker run saves and stops on every worker at once (they all-reduce to save).
        # Decided on the agreed flags only: a signal that lands during the all-reduce counts
        # at the next iteration, on every worker alike.
        stops, due = self.agree(bool(self.stop), due)
        if not (stops or due):
            return
        if stops and not self.stop:
            self.stop.from_peer()
        # A broken state is never saved: the epoch's end stops the run on it (StopOnNonFinite),
        # and a resume must start from the last good save, not from the broken one.
        finite = non_finite_state(self.model, logs or {}) is None
        saved = self.state.save_partial(self.epoch, position) if finite else ""
        self.saved_at = time.monotonic()
        if stops:
            saved = saved or self.state.newest() or "nothing (no good state yet)"
            raise Interrupted(self.stop, self.epoch, position if finite else 0, step, saved)

    def on_epoch_end(self, epoch, logs=None):
        self.saved_at = time.monotonic()
        stops = self.agree(bool(self.stop))[0]
        if stops and not self.stop:
            self.stop.from_peer()
        if stops and self.step < self.last_step:
            saved = self.state.manager.latest_checkpoint or ""
            raise Interrupted(self.stop, epoch + 1, 0, self.step, saved)
