"""Train a GAN into a run folder that explains itself.

``start_run`` does everything up to the first iteration (run folder, images, config.json, the
model, the checkpoint to resume from, the plan); ``Session.fit`` trains. A script only chooses
the settings, calls these two and prints what they return.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from wgan.build import build_gan, classifier_for
from wgan.callbacks import (
    EvaluateSWD,
    GridInputs,
    KeepGenerator,
    LossPlot,
    MetricsCSV,
    SampleGrid,
    SaveBest,
    SaveCheckpoint,
)
from wgan.checkpoint import TrainingState
from wgan.config import (
    RUN_FORMAT,
    TrainConfig,
    length_in_epochs,
    package_versions,
    resolve_precision,
)
from wgan.data import (
    ReusedImagesWarning,
    make_dataset,
    make_pair_dataset,
    reuse_message,
    steps_per_epoch,
)
from wgan.errors import ConfigError
from wgan.evaluation import SWDEvaluator
from wgan.gan import CRITIC_LOSS, GAN
from wgan.grids import make_grid
from wgan.history import read_metrics, truncate_after
from wgan.inputs import InputSpace
from wgan.io import atomic_path, make_writable_folder, save_png, write_json
from wgan.labels import LabelSet, balanced_subset
from wgan.monitor import FlatCriticWarning, StopOnNonFinite
from wgan.pairs import Domains
from wgan.run_folder import RunFolder
from wgan.schedules import make_schedule
from wgan.sources import load_training_data
from wgan.translation_grids import Examples, TranslationSWD, write_inputs

log = logging.getLogger(__name__)


def fixed_noise(config: TrainConfig) -> np.ndarray:
    """The latent batch behind every grid of a run, drawn once from the run's seed (InfoGAN's
    codes included); the checkpoint keeps it."""
    inputs = InputSpace.from_config(config).grid(config.grid_samples, config.seed)[0]
    return inputs[0] if isinstance(inputs, list) else inputs


def grid_inputs(config: TrainConfig, noise: np.ndarray) -> GridInputs:
    """The grids' generator inputs: the fixed latent batch, with a label per sample for a
    conditional model (one row per class, or per attribute off and on; InfoGAN: a row per
    category), and the caption of each sample."""
    space = InputSpace.from_config(config)
    _, labels, columns, rows = space.grid(config.grid_samples, config.seed)
    captions = [row for row in rows for _ in range(columns)] if rows else []
    return GridInputs(space.inputs(noise, labels) if space.conditional else noise,
                      columns, captions)  # fmt: skip


@dataclass(frozen=True)
class Rows:
    """Which images train how: all of them alike, or for the semi-supervised GAN a small
    class-balanced labelled set (drawn once with the seed) and the rest unlabelled."""

    labels: np.ndarray | None = None  # per image, passed with the images (conditional models)
    unlabelled: np.ndarray | None = None  # row indices of the adversarial stream (None: all)
    labelled: np.ndarray | None = None  # row indices of the labelled set

    def count(self, n_images: int) -> int:
        return n_images if self.unlabelled is None else len(self.unlabelled)


def training_rows(config: TrainConfig, n_images: int, labels: LabelSet | None) -> Rows:
    if not config.needs_labels or labels is None:
        return Rows()
    if config.model != "sgan":
        return Rows(labels=labels.values)
    if config.labelled > n_images:
        raise ConfigError(
            f"--labelled {config.labelled} is more than the {n_images} images loaded: "
            "lower --labelled or load more (--n-samples)"
        )
    chosen = balanced_subset(labels.values, config.labelled, config.seed)
    rest = np.setdiff1d(np.arange(n_images), chosen)
    return Rows(unlabelled=rest, labelled=chosen)


@dataclass(frozen=True)
class Plan:
    """What this session trains: from (first_epoch, first_step) done to (last_epoch, last_step).

    With ``iterations`` set, the last epoch may be partial: it stops at ``last_step`` and is
    written like any other epoch.
    """

    steps_per_epoch: int
    first_epoch: int
    last_epoch: int
    first_step: int
    last_step: int

    @property
    def iterations(self) -> int:
        return self.last_step - self.first_step


def make_plan(config: TrainConfig, steps: int, first_epoch: int, first_step: int) -> Plan:
    if config.iterations:
        last_step = max(config.iterations, first_step)
        last_epoch = first_epoch + math.ceil((last_step - first_step) / steps)
    else:
        last_epoch = max(config.epochs, first_epoch)
        last_step = first_step + (last_epoch - first_epoch) * steps
    return Plan(steps, first_epoch, last_epoch, first_step, last_step)


class StopAtStep(keras.callbacks.Callback):
    """End training after the iteration that reaches ``last_step`` (``--iterations``)."""

    def __init__(self, first_step: int, last_step: int):
        super().__init__()
        self.step, self.last_step = first_step, last_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step >= self.last_step:
            self.model.stop_training = True


@dataclass
class Session:
    """A run ready to train: its folder, data, model, restored state and plan."""

    config: TrainConfig
    folder: RunFolder
    images: np.ndarray
    model: GAN
    state: TrainingState
    plan: Plan
    notes: list[str] = field(default_factory=list)
    labels: LabelSet | None = None
    rows: Rows = field(default_factory=Rows)
    domains: Domains | None = None  # an image-to-image run's pairs or domains

    @property
    def grid(self):
        """What every grid of the run shows: the fixed noise (and labels), or for an
        image-to-image run the first held-out inputs."""
        if self.domains is not None:
            return Examples.from_domains(self.domains, self.config.test_dropout)
        return grid_inputs(self.config, self.state.noise)

    def dataset(self, seed: int):
        """The real batches of one session (labels and the labelled stream as the model needs)."""
        with warnings.catch_warnings():  # open_session has said it once
            warnings.simplefilter("ignore", ReusedImagesWarning)
            return self._dataset(seed)

    def _dataset(self, seed: int):
        rows, config = self.rows, self.config
        if self.domains is not None:
            return make_pair_dataset(
                self.domains.train_a, self.domains.train_b, config.batch_size,
                self.model.schedule.real_batches, seed=seed, paired=self.domains.paired,
            )  # fmt: skip
        labelled = None
        if rows.labelled is not None:
            labelled = (np.asarray(self.images[rows.labelled]), self.labels.values[rows.labelled])
        return make_dataset(
            self.images, config.batch_size, self.model.schedule.real_batches, seed=seed,
            labels=rows.labels, indices=rows.unlabelled, labelled=labelled,
        )  # fmt: skip

    def fit(self, callbacks: Sequence[keras.callbacks.Callback] = ()) -> GAN:
        """Train the plan, writing the run folder epoch by epoch; save the final networks.

        Raises ``wgan.monitor.NonFiniteLossError`` when a metric or weight turns NaN or
        infinite; the files of the last good epoch are then left as they were (no ``.keras``
        is written). Logs a warning when the critic loss looks stuck.
        """
        config, plan, model, folder = self.config, self.plan, self.model, self.folder
        if plan.last_epoch > plan.first_epoch:
            # A new shuffle seed per resume, so a resumed run does not replay epoch 1's order.
            dataset = self.dataset(seed=config.seed + plan.first_epoch)
            stop = [StopAtStep(plan.first_step, plan.last_step)] if config.iterations else []
            model.fit(
                dataset,
                epochs=plan.last_epoch,
                initial_epoch=plan.first_epoch,
                verbose=0,
                shuffle=False,
                callbacks=[*_run_callbacks(self), *stop, *callbacks],
            )
        elif not folder.has_epoch_grids():
            self.grid.write(model.sampler, folder, plan.last_epoch)
        save_model(model.sampler, folder.generator_model)
        save_model(model.critic, folder.critic_model)
        if config.model == "sgan":
            save_model(classifier_for(model.critic), folder.classifier_model)
        return model


def train(
    config: TrainConfig,
    images: np.ndarray,
    run_dir: str | os.PathLike,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: tf.distribute.Strategy | None = None,
) -> GAN:
    """Train on uint8 ``images`` (N, H, W, C) into ``run_dir`` (config.json written by the
    caller, or not at all); with ``resume``, continue after the last checkpointed epoch."""
    return open_session(config, images, RunFolder(run_dir), resume, strategy).fit(callbacks)


def open_session(
    config: TrainConfig,
    images: np.ndarray,
    folder: RunFolder,
    resume: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    record: Mapping[str, object] | None = None,
    labels: LabelSet | None = None,
    domains: Domains | None = None,
) -> Session:
    """Build the model (inside ``strategy``'s scope), restore the newest checkpoint when
    resuming, and plan the epochs. With ``record``, config.json is then written: the resolved
    config, the model's metric names and ``record``'s entries (versions, command, ...); a
    resumed run keeps the entries of its start and lists each resume under ``resumed``.

    Rows that ``metrics.csv`` gained after the restored checkpoint are dropped, so no epoch
    is doubled. ``labels`` (one per image) feed the models that use them.
    """
    rows = training_rows(config, len(images), labels)
    batches = make_schedule(config.schedule, config.n_critic, config.margin).real_batches
    n_rows = rows.count(len(images))
    if domains is not None:
        n_rows = domains.epoch_length
    steps = steps_per_epoch(n_rows, config.batch_size, batches)
    if steps == 0:
        raise ConfigError("no images to train on: give --data a folder with images, or raise "
                          "--n-samples")  # fmt: skip
    reuse = reuse_message(n_rows, config.batch_size, batches)
    if reuse:
        log.warning(reuse)  # once here; the data set's own warning is silenced in fit
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_gan(config, total_iterations=config.iterations or config.epochs * steps)
        # An image-to-image run's grids show held-out images the seed picks: no noise to keep.
        noise = np.zeros((1, 1), np.float32) if domains is not None else fixed_noise(config)
        state = TrainingState(model, noise, folder.checkpoints)
    first_epoch = state.restore() if resume else 0
    first_step = int(model.train_iterations.numpy())
    plan = make_plan(config, steps, first_epoch, first_step)
    if config.iterations:
        config.epochs = plan.last_epoch
    if record is not None:
        write_json(folder.config, _config_record(config, model, steps, record, folder, resume))
    if resume:
        dropped = truncate_after(folder.metrics, first_epoch)
        if dropped:
            log.info("dropped %d metrics rows written after the last checkpoint", dropped)
    folder.images.mkdir(parents=True, exist_ok=True)
    if not folder.real_grid.exists():
        save_png(folder.real_grid, make_grid(images[: config.grid_samples]))
    session = Session(config, folder, images, model, state, plan, labels=labels, rows=rows,
                      domains=domains)  # fmt: skip
    if domains is not None:
        write_inputs(session.grid, folder)
    return session


def _config_record(
    config: TrainConfig, model: GAN, steps: int, record: Mapping, folder: RunFolder, resume: bool
) -> dict:
    values = config.to_dict()
    values["precision"] = resolve_precision(config.precision)
    written = {
        **values,
        "steps_per_epoch": steps,
        "metrics": {
            "names": list(model.metric_names),
            "headline": list(model.headline_metrics),
            "labels": model.metric_labels,
        },
        "run_format": RUN_FORMAT,
        **record,
    }
    if resume:  # the run's start stays on record; each resume is added to the list
        earlier = json.loads(folder.config.read_text())
        resumed = [*earlier.get("resumed", []), {**record, "epochs": config.epochs,
                                                 "iterations": config.iterations}]  # fmt: skip
        written.update({key: earlier[key] for key in record if key in earlier})
        written["resumed"] = resumed
    return written


def start_run(
    config: TrainConfig,
    *,
    run_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike = "runs",
    resume: bool = False,
    data: str | None = None,
    default_data: str | os.PathLike = "celeba-dataset",
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> Session:
    """Everything before the first iteration: the run folder (a new one never overwrites
    another run; nothing is left behind when this fails), the images, config.json, the model
    and, with ``resume``, its restored state. ``run_dir`` defaults to ``runs_dir/<date-time>``.
    """
    if resume:
        folder = RunFolder(run_dir)
        created = False
    else:
        folder, created = _new_run_folder(run_dir, runs_dir)
    try:
        loaded = load_training_data(
            config, None if resume else data, default_data, cache_dir, progress
        )
        config.data, config.n_images = loaded.source, int(len(loaded.images))
        loaded.describe_labels(config)
        config.precision = resolve_precision(config.precision)
        record = {
            "versions": package_versions(),
            "command": " ".join(sys.argv),
            "started": dt.datetime.now().isoformat(timespec="seconds"),
        }
        session = open_session(
            config, loaded.images, folder, resume, strategy, record, labels=loaded.labels,
            domains=loaded.domains,
        )
    except BaseException:
        if not resume:  # a new run's folder was empty: leave it as it was found
            _discard(folder.path, remove=created)
        raise
    session.notes = loaded.notes
    return session


def _new_run_folder(run_dir, runs_dir) -> tuple[RunFolder, bool]:
    path = Path(run_dir) if run_dir else Path(runs_dir) / dt.datetime.now().strftime(
        "%Y%m%d-%H%M%S"
    )
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(
            f"--run-dir {path} already holds files; use --resume {path} or a new folder"
        )
    created = not path.exists()
    try:
        make_writable_folder(path)
    except OSError as err:
        raise ConfigError(
            f"--run-dir {path} is not writable ({err.strerror}); choose another folder"
        ) from None
    return RunFolder(path), created


def _discard(path: Path, remove: bool) -> None:
    """Take back what a new run wrote into its folder (nothing was trained yet), and the
    folder itself when this call made it."""
    import shutil

    if remove:
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir():
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def resume_config(run_dir: str | os.PathLike, changes: Mapping[str, object]) -> TrainConfig:
    """The config of the run in ``run_dir``, with ``changes`` to how long it trains (epochs,
    iterations). A folder written before the current run format cannot be resumed."""
    folder = RunFolder(run_dir)
    if not folder.config.is_file():
        raise ConfigError(
            f"--resume {run_dir}: no config.json there; give a folder made by train.py"
        )
    try:
        recorded = folder.run_format()
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise ConfigError(f"{folder.config} cannot be read ({err}); it cannot be resumed") from None
    if recorded != RUN_FORMAT:
        raise ConfigError(
            f"--resume {run_dir}: this run was written by an older wgan (run format {recorded}, "
            f"now {RUN_FORMAT}) and cannot be resumed; start a new run (generate.py and "
            "sonify.py still read it)"
        )
    config = TrainConfig.load(run_dir)
    if length_in_epochs(changes):
        config.iterations = 0  # a new length in epochs replaces one in iterations
    for name, value in changes.items():
        setattr(config, name, value)
    return config.validate()


def _run_callbacks(session: Session) -> list[keras.callbacks.Callback]:
    """The callbacks that write the run folder, in the order each epoch needs them.

    The NaN check goes first, so a broken epoch reaches no file; the SWD goes into the logs
    before the CSV row and the best checkpoint read it; ``last`` is saved once all is written.
    """
    config, folder, state = session.config, session.folder, session.state
    last_epoch = session.plan.last_epoch
    history = [row.get(CRITIC_LOSS, np.nan) for row in read_metrics(folder.metrics)]
    found = [
        StopOnNonFinite(state),
        MetricsCSV(folder.metrics),
        SampleGrid(folder, session.grid, config.sample_every, last_epoch),
        LossPlot(folder.metrics, folder.loss_plot),
        KeepGenerator(state.directory, config.keep_every, config.eval_every, last_epoch),
        SaveBest(state),
        SaveCheckpoint(state),
    ]
    if config.eval_every > 0 and session.domains is not None:
        evaluator = TranslationSWD(session.domains, config.eval_samples, config.seed,
                                   config.test_dropout)  # fmt: skip
        found.insert(1, EvaluateSWD(evaluator, config.eval_every, last_epoch))
    elif config.eval_every > 0:
        evaluator = SWDEvaluator(
            session.images, config.eval_samples, config.latent_dim, config.latent_distribution,
            config.seed, space=InputSpace.from_config(config),
            labels=None if session.labels is None else session.labels.values,
        )  # fmt: skip
        found.insert(1, EvaluateSWD(evaluator, config.eval_every, last_epoch))
    if config.flat_patience:
        found.insert(-1, FlatCriticWarning(config.flat_patience, history))
    return found


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a ``.keras`` file without ever leaving a half-written one."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
