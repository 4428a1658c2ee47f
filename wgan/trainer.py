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
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from wgan.board import RunBoard
from wgan.build import build_gan, classifier_for
from wgan.callbacks import (
    EvaluateSWD,
    GridInputs,
    InsideEpoch,
    KeepGenerator,
    LossPlot,
    MetricsCSV,
    SampleGrid,
    SaveBest,
    SaveCheckpoint,
)
from wgan.checkpoint import TrainingState, checkpoint_position
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
from wgan.distribute import Agreement, is_multi_worker, lost_peer, per_replica_batch
from wgan.errors import ConfigError, DiskFullError, PeerLostError, WganError, first_line
from wgan.evaluation import SWDEvaluator
from wgan.gan import CRITIC_LOSS, GAN
from wgan.grids import make_grid
from wgan.history import read_metrics, truncate_after
from wgan.inputs import InputSpace
from wgan.interrupt import StopRequest
from wgan.io import (
    atomic_path,
    is_disk_full,
    make_writable_folder,
    save_png,
    stale_temp_files,
    write_json,
)
from wgan.labels import LabelSet, balanced_subset
from wgan.lock import RunLock
from wgan.monitor import FlatCriticWarning, StopOnNonFinite
from wgan.pairs import Domains
from wgan.run_folder import BEST_DIR, KEPT_DIR, RunFolder
from wgan.schedules import make_schedule
from wgan.sources import load_training_data
from wgan.translation_grids import Examples, TranslationSWD, write_inputs

log = logging.getLogger(__name__)
AutoShardPolicy = tf.data.experimental.AutoShardPolicy


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

    ``position``: iterations of epoch ``first_epoch + 1`` done before (a run resumed inside
    an epoch). With ``iterations`` set, the last epoch may be partial: it stops at
    ``last_step`` and is written like any other epoch.
    """

    steps_per_epoch: int
    first_epoch: int
    last_epoch: int
    first_step: int
    last_step: int
    position: int = 0

    @property
    def iterations(self) -> int:
        return self.last_step - self.first_step


def make_plan(
    config: TrainConfig, steps: int, first_epoch: int, first_step: int, position: int = 0
) -> Plan:
    if config.iterations:
        last_step = max(config.iterations, first_step)
        last_epoch = first_epoch + math.ceil((last_step - first_step + position) / steps)
        if last_step == first_step:
            last_epoch = first_epoch
    else:
        last_epoch = max(config.epochs, first_epoch + (1 if position else 0))
        last_step = first_step + (last_epoch - first_epoch) * steps - position
    return Plan(steps, first_epoch, last_epoch, first_step, last_step, position)


class _Segments(keras.callbacks.CallbackList):
    """The callbacks of one session's ``fit`` calls (the rest of the epoch a resumed run
    starts inside, then whole epochs): they see one training, begun once and ended once."""

    begun = False

    def on_train_begin(self, logs=None):
        if not self.begun:
            self.begun = True
            super().on_train_begin(logs)

    def on_train_end(self, logs=None):
        pass  # the session ends it (``end``) once every segment has trained

    def end(self) -> None:
        super().on_train_end()


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
    lock: RunLock | None = None  # held from start_run until fit ends
    agree: Agreement = field(default_factory=Agreement)  # one decision for every worker
    scratch: Path | None = None  # a non-chief worker's folder, removed when it is done

    @property
    def grid(self):
        """What every grid of the run shows: the fixed noise (and labels), or for an
        image-to-image run the first held-out inputs."""
        if self.domains is not None:
            return Examples.from_domains(self.domains, self.config.test_dropout)
        return grid_inputs(self.config, self.state.noise)

    def dataset(self, first_epoch: int, epochs: int, skip: int = 0):
        """The real batches of ``epochs`` epochs from ``first_epoch`` (0-based), the first
        ``skip`` left out (labels and the labelled stream as the model needs). Each epoch's
        order comes from the run's seed and the epoch alone, so a resumed run reads what the
        uninterrupted run would have read."""
        with warnings.catch_warnings():  # open_session has said it once
            warnings.simplefilter("ignore", ReusedImagesWarning)
            where = {"seed": self.config.seed, "first_epoch": first_epoch, "epochs": epochs,
                     "skip": skip}  # fmt: skip
            data = self._dataset(where)
        # Every worker builds the same batches and keeps its share of each (the data is in
        # memory: there are no files to shard).
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = AutoShardPolicy.DATA
        return data.with_options(options)

    def _dataset(self, where: dict):
        rows, config = self.rows, self.config
        if self.domains is not None:
            return make_pair_dataset(
                self.domains.train_a, self.domains.train_b, config.batch_size,
                self.model.schedule.real_batches, paired=self.domains.paired, **where,
            )  # fmt: skip
        labelled = None
        if rows.labelled is not None:
            labelled = (np.asarray(self.images[rows.labelled]), self.labels.values[rows.labelled])
        return make_dataset(
            self.images, config.batch_size, self.model.schedule.real_batches,
            labels=rows.labels, indices=rows.unlabelled, labelled=labelled, **where,
        )  # fmt: skip

    def fit(
        self, callbacks: Sequence[keras.callbacks.Callback] = (), stop: StopRequest | None = None
    ) -> GAN:
        """Train the plan, writing the run folder epoch by epoch; save the final networks.

        Raises ``wgan.monitor.NonFiniteLossError`` when a metric or weight turns NaN or
        infinite; the files of the last good epoch are then left as they were (no ``.keras``
        is written). Logs a warning when the critic loss looks stuck. When ``stop`` is set
        (``wgan.interrupt.catch_signals`` sets it on SIGINT or SIGTERM), the iteration in
        progress ends, the state is saved and ``wgan.interrupt.Interrupted`` is raised.
        A full disk raises ``DiskFullError`` saying what was kept: every file written before
        stays readable, and a resume continues from the last save once space is freed.
        """
        try:
            return self._fit(callbacks, stop)
        except (tf.errors.UnavailableError, tf.errors.CancelledError) as err:
            if not is_multi_worker(self.model.distribute_strategy):
                raise
            raise PeerLostError(
                f"{lost_peer(err)} stopped answering, and the other workers cannot go on "
                f"without it; the last saved state is {self._saved()}: restart every worker "
                "with --resume and the chief's run folder"
            ) from None
        except Exception as err:
            if not is_disk_full(err):
                raise
            _remove_stale(self.folder)  # the half-written file takes space the resume needs
            raise DiskFullError(
                f"the disk holding {self.folder.path} is full ({first_line(err)}); every file "
                f"written before is intact, and the last saved state is {self._saved()}: free "
                "some space and resume"
            ) from None
        finally:
            self.close()

    def _saved(self) -> str:
        """Where a resume starts from: the newest save, and where in the run it was."""
        kept = self.state.newest()
        if kept is None:
            return "nothing yet (the run starts again)"
        epoch, position, step = checkpoint_position(kept)
        at = (f"{position} iterations into epoch {epoch + 1}" if position
              else f"the end of epoch {epoch}")  # fmt: skip
        return f"at {at} (iteration {step})" + ("" if self.scratch else f" in {kept}")

    def close(self) -> None:
        """Let another process train this run folder (and drop a non-chief worker's scratch
        folder)."""
        if self.lock is not None:
            self.lock.release()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _fit(self, callbacks, stop) -> GAN:
        config, plan, model, folder = self.config, self.plan, self.model, self.folder
        if plan.last_epoch > plan.first_epoch:
            steps = plan.steps_per_epoch
            inside = InsideEpoch(self.state, steps, plan.first_epoch, plan.position,
                                 plan.last_step, config.checkpoint_minutes, stop,
                                 self.agree)  # fmt: skip
            at_step = [StopAtStep(plan.first_step, plan.last_step)] if config.iterations else []
            listed = _Segments([*_run_callbacks(self), inside, *at_step, *callbacks],
                               add_history=True, model=model, epochs=plan.last_epoch,
                               steps=steps)  # fmt: skip
            epoch = plan.first_epoch
            if plan.position:  # resumed inside an epoch: first the rest of it
                rest = min(steps - plan.position, plan.last_step - plan.first_step)
                data = self.dataset(epoch, 1, skip=plan.position)
                model.fit(data, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=rest,
                          verbose=0, shuffle=False, callbacks=listed)  # fmt: skip
                epoch += 1
            if epoch < plan.last_epoch and not model.stop_training:
                data = self.dataset(epoch, plan.last_epoch - epoch)
                model.fit(data, epochs=plan.last_epoch, initial_epoch=epoch,
                          steps_per_epoch=steps, verbose=0, shuffle=False,
                          callbacks=listed)  # fmt: skip
            listed.end()
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
    replicas = strategy.num_replicas_in_sync
    per_replica_batch(config.batch_size, replicas)
    with strategy.scope():
        model = build_gan(config, total_iterations=config.iterations or config.epochs * steps)
        # An image-to-image run's grids show held-out images the seed picks: no noise to keep.
        noise = np.zeros((1, 1), np.float32) if domains is not None else fixed_noise(config)
        state = TrainingState(model, noise, folder.checkpoints)
    first_epoch, position = state.restore() if resume else (0, 0)
    first_step = int(model.train_iterations.numpy())
    plan = make_plan(config, steps, first_epoch, first_step, position)
    if config.iterations:
        config.epochs = plan.last_epoch
    if record is not None:
        record = {**record, "distribution": distribution(strategy, config.batch_size)}
        write_json(folder.config, _config_record(config, model, steps, record, folder, resume))
    if resume:
        dropped = truncate_after(folder.metrics, first_epoch)
        if dropped:
            log.info("dropped %d metrics rows written after the last checkpoint", dropped)
    folder.images.mkdir(parents=True, exist_ok=True)
    if not folder.real_grid.exists():
        save_png(folder.real_grid, make_grid(images[: config.grid_samples]))
    session = Session(config, folder, images, model, state, plan, labels=labels, rows=rows,
                      domains=domains, agree=Agreement(strategy))  # fmt: skip
    if domains is not None:
        write_inputs(session.grid, folder)
    return session


def distribution(strategy: tf.distribute.Strategy, batch_size: int) -> dict:
    """How a session spreads its batch: the strategy, replicas (and workers), and each
    replica's share of the global batch."""
    replicas = strategy.num_replicas_in_sync
    workers = 1
    if is_multi_worker(strategy):  # each worker holds its share of the replicas
        workers = replicas // len(strategy.extended.worker_devices)
    return {
        "strategy": ("multiworker" if is_multi_worker(strategy) else
                     "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else
                     "one"),  # fmt: skip
        "replicas": replicas,
        "workers": workers,
        "per_replica_batch": per_replica_batch(batch_size, replicas),
    }


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
    chief: bool = True,
) -> Session:
    """Everything before the first iteration: the run folder (a new one never overwrites
    another run; nothing is left behind when this fails), the images, config.json, the model
    and, with ``resume``, its restored state. ``run_dir`` defaults to ``runs_dir/<date-time>``.

    The session holds the run folder's lock (``wgan.lock``) until ``fit`` ends, so a second
    process cannot train the same folder. The other workers of a multi-worker run
    (``chief=False``) write nothing there: they train into a scratch folder, removed at the
    end, and a resume starts them from the chief's checkpoint (see ``wgan.distribute``).
    """
    if not chief:
        return _start_worker(config, run_dir, resume, data, default_data, cache_dir, progress,
                             strategy)  # fmt: skip
    if resume:
        folder = RunFolder(run_dir)
        created = False
        held = RunLock(folder.lock).acquire()
    else:
        folder, created, held = _new_run_folder(run_dir, runs_dir)
    try:
        if resume:
            _remove_stale(folder)  # what a process killed mid-write left behind
        loaded = _load(config, folder.path, resume, data, default_data, cache_dir, progress)
        record = {
            "versions": package_versions(),
            "command": " ".join(sys.argv),
            "started": dt.datetime.now().isoformat(timespec="seconds"),
        }
        session = open_session(
            config, loaded.images, folder, resume, strategy, record, labels=loaded.labels,
            domains=loaded.domains,
        )
    except BaseException as err:
        if not resume:  # a new run's folder was empty: leave it as it was found
            _discard(folder.path, remove=created)
        if held is not None:  # after the discard: no other process works in it meanwhile
            held.release()
        if isinstance(err, Exception) and is_disk_full(err) and not isinstance(err, WganError):
            raise DiskFullError(
                f"the disk holding {folder.path} is full ({first_line(err)}): free some space "
                "and start again" + (" (--resume)" if resume else "")
            ) from None
        raise
    session.notes = loaded.notes
    session.lock = held
    return session


def _load(config: TrainConfig, run_dir, resume, data, default_data, cache_dir, progress):
    """The run's images (and labels or pairs), with what they are recorded in ``config``; a
    resume refuses data that changed since the run began."""
    loaded = load_training_data(config, None if resume else data, default_data, cache_dir,
                                progress)  # fmt: skip
    if resume and config.n_images and config.n_images != len(loaded.images):
        raise ConfigError(
            f"--resume {run_dir}: the run trained on {config.n_images} images of "
            f"{loaded.source} and {len(loaded.images)} load now (files added, removed or "
            "damaged?): restore the data to resume exactly, or start a new run"
        )
    config.data, config.n_images = loaded.source, int(len(loaded.images))
    loaded.describe_labels(config)
    config.precision = resolve_precision(config.precision)
    return loaded


def _start_worker(config, run_dir, resume, data, default_data, cache_dir, progress, strategy):
    """A non-chief worker's session: the same model, data and restored state as the chief's,
    in a scratch folder (a copy of the run's config, metrics and checkpoints when resuming)."""
    scratch = Path(tempfile.mkdtemp(prefix="wgan-worker-"))
    folder = RunFolder(scratch)
    try:
        if resume:
            _copy_for_resume(RunFolder(run_dir), folder)
        loaded = _load(config, run_dir, resume, data, default_data, cache_dir, progress)
        session = open_session(config, loaded.images, folder, resume, strategy,
                               labels=loaded.labels, domains=loaded.domains)  # fmt: skip
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    session.notes, session.scratch = loaded.notes, scratch
    return session


def _copy_for_resume(run: RunFolder, scratch: RunFolder) -> None:
    """What a worker reads to resume (never writes) from the chief's run folder: the
    config, the metrics and the checkpoints to restore (not the kept generator weights, nor
    the best checkpoint, which only the chief writes)."""
    if not run.config.is_file():
        raise ConfigError(f"--resume {run.path}: no config.json there; every worker needs the "
                          "chief's run folder on a shared file system")  # fmt: skip
    for path in (run.config, run.metrics):
        if path.is_file():
            shutil.copy2(path, scratch.path / path.name)
    skip = shutil.ignore_patterns(KEPT_DIR, BEST_DIR, "*.tmp*", "*_temp*", "*.tempstate*")
    if run.checkpoints.is_dir():
        shutil.copytree(run.checkpoints, scratch.checkpoints, ignore=skip)


def _new_run_folder(run_dir, runs_dir) -> tuple[RunFolder, bool, RunLock]:
    path = Path(run_dir) if run_dir else Path(runs_dir) / dt.datetime.now().strftime(
        "%Y%m%d-%H%M%S"
    )
    folder = RunFolder(path)
    _refuse_used(folder)
    created = not path.exists()
    try:
        make_writable_folder(path)
    except OSError as err:
        raise ConfigError(
            f"--run-dir {path} is not writable ({err.strerror}); choose another folder"
        ) from None
    held = RunLock(folder.lock).acquire()  # two runs given one --run-dir: the second stops here
    try:
        _refuse_used(folder)
    except ConfigError:
        held.release()
        raise
    return folder, created, held


def _remove_stale(folder: RunFolder) -> None:
    for path in stale_temp_files(folder.path):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _refuse_used(folder: RunFolder) -> None:
    path = folder.path
    ours = (folder.lock.name, ".write-test-")  # the lock, and make_writable_folder's probe
    if path.exists() and (
        not path.is_dir() or any(not p.name.startswith(ours) for p in path.iterdir())
    ):
        raise ConfigError(
            f"--run-dir {path} already holds files; use --resume {path} or a new folder"
        )



def _discard(path: Path, remove: bool) -> None:
    """Take back what a new run wrote into its folder (nothing was trained yet), and the
    folder itself when this call made it."""
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
    config = TrainConfig.load(run_dir)  # a damaged config.json: its own line, as elsewhere
    try:
        recorded = folder.run_format()
    except (TypeError, ValueError):
        raise ConfigError(f"{folder.config}: run_format is not a number; put back the value "
                          "the run was written with, or start a new run") from None  # fmt: skip
    if recorded != RUN_FORMAT:
        raise ConfigError(
            f"--resume {run_dir}: this run was written by an older wgan (run format {recorded}, "
            f"now {RUN_FORMAT}) and cannot be resumed; start a new run (generate.py and "
            "sonify.py still read it)"
        )
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
        SaveBest(state, session.agree, chief=session.scratch is None),
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
    if config.tensorboard:  # after the SWD and the grid, which it logs; before the save
        found.insert(-1, RunBoard(folder, config, last_epoch))
    if config.flat_patience:
        found.insert(-1, FlatCriticWarning(config.flat_patience, history))
    return found


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a ``.keras`` file without ever leaving a half-written one."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
