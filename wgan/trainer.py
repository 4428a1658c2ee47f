"""Train a WGAN into a run folder that explains itself."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from wgan.callbacks import (
    EvaluateSWD,
    KeepGenerator,
    LossPlot,
    MetricsCSV,
    SampleGrid,
    SaveBest,
    SaveCheckpoint,
    write_samples,
)
from wgan.checkpoint import TrainingState
from wgan.config import TrainConfig
from wgan.data import make_dataset
from wgan.evaluation import SWDEvaluator
from wgan.gan import WGAN
from wgan.generate import latent_noise
from wgan.grids import make_grid
from wgan.history import read_metrics, truncate_after
from wgan.io import atomic_path, save_png
from wgan.models import build_critic, build_generator
from wgan.monitor import FlatCriticWarning, StopOnNonFinite

log = logging.getLogger(__name__)


def build_wgan(config: TrainConfig, steps_per_execution: int = 1) -> WGAN:
    """Critic, generator and composite, compiled with RMSprop as the paper prescribes.

    Call inside a ``tf.distribute`` strategy's scope to train on several devices.
    ``steps_per_execution`` runs that many generator iterations per compiled call.
    """
    common = {
        "image_size": config.image_size,
        "channels": config.channels,
        "filters": config.filters,
        "leaky_slope": config.leaky_slope,
        "init_stddev": config.init_stddev,
        "dtype": config.dtype_policy,
    }
    critic = build_critic(clip_value=config.clip, **common)
    generator = build_generator(latent_dim=config.latent_dim, **common)
    model = WGAN(
        critic,
        generator,
        latent_dim=config.latent_dim,
        n_critic=config.n_critic,
        latent_distribution=config.latent_distribution,
        warmup=config.warmup,
        seed=config.seed,
    )
    model.compile(
        critic_optimizer=keras.optimizers.RMSprop(config.lr),
        generator_optimizer=keras.optimizers.RMSprop(config.lr),
        steps_per_execution=steps_per_execution,
    )
    return model


def fixed_noise(config: TrainConfig) -> np.ndarray:
    """The latent batch behind every grid of a run, drawn once from the run's seed."""
    return latent_noise(
        config.grid_samples, config.latent_dim, config.latent_distribution, config.seed
    )


def train(
    config: TrainConfig,
    images: np.ndarray,
    run_dir: str | os.PathLike,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: tf.distribute.Strategy | None = None,
) -> WGAN:
    """Train on uint8 ``images`` (N, H, W, C) and write every output into ``run_dir``.

    With ``resume``, training continues after the last checkpointed epoch; rows that
    ``metrics.csv`` gained after that checkpoint are dropped first, so no epoch is doubled.

    Raises ``wgan.monitor.NonFiniteLossError`` when a loss or weight turns NaN or infinite;
    the files of the last good epoch are then left as they were (no ``.keras`` is written).
    Logs a warning when the critic loss looks stuck (``wgan.monitor.flat_critic_loss``).
    """
    run_dir = Path(run_dir)
    images_dir = run_dir / "images"
    metrics_path = run_dir / "metrics.csv"
    images_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_wgan(config)
        state = TrainingState(model, fixed_noise(config), run_dir / "checkpoints")
    initial_epoch = state.restore() if resume else 0
    if resume:
        dropped = truncate_after(metrics_path, initial_epoch)
        if dropped:
            log.info("dropped %d metrics rows written after the last checkpoint", dropped)
    if not (images_dir / "real.png").exists():
        save_png(images_dir / "real.png", make_grid(images[: config.grid_samples]))

    if initial_epoch < config.epochs:
        # A new shuffle seed per resume, so a resumed run does not replay epoch 1's order.
        dataset = make_dataset(
            images, config.batch_size, config.n_critic, seed=config.seed + initial_epoch
        )
        model.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            verbose=0,
            shuffle=False,
            callbacks=[*_run_callbacks(config, model, state, images, run_dir), *callbacks],
        )
    elif not any(images_dir.glob("epoch_*.png")):
        write_samples(model.generator, state.noise, images_dir, f"epoch_{config.epochs:04d}")
    save_model(model.generator, run_dir / "generator.keras")
    save_model(model.critic, run_dir / "critic.keras")
    return model


def _run_callbacks(
    config: TrainConfig, model: WGAN, state: TrainingState, images: np.ndarray, run_dir: Path
) -> list[keras.callbacks.Callback]:
    """The callbacks that write the run folder, in the order each epoch needs them.

    The NaN check goes first, so a broken epoch reaches no file; the SWD goes into the logs
    before the CSV row and the best checkpoint read it; ``last`` is saved once all is written.
    """
    metrics_path = run_dir / "metrics.csv"
    evaluating = config.eval_every > 0
    history = [row.get("critic_loss", np.nan) for row in read_metrics(metrics_path)]
    found = [
        StopOnNonFinite(state),
        MetricsCSV(metrics_path),
        SampleGrid(run_dir / "images", state.noise, config.sample_every, config.epochs),
        LossPlot(metrics_path, run_dir / "loss.png"),
        KeepGenerator(state.directory, config.keep_every, config.eval_every, config.epochs),
        SaveBest(state),
        SaveCheckpoint(state),
    ]
    if evaluating:
        evaluator = SWDEvaluator(
            images, config.eval_samples, config.latent_dim, config.latent_distribution, config.seed
        )
        found.insert(1, EvaluateSWD(evaluator, config.eval_every, config.epochs))
    if config.flat_patience:
        found.insert(-1, FlatCriticWarning(config.flat_patience, history))
    return found


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a ``.keras`` file without ever leaving a half-written one."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
