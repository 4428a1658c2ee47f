"""Judging a run while it trains: SWD column, the best checkpoint, NaN stops, flat critic loss."""

import csv
import json
import logging
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401
from wgan.build import build_gan
from wgan.checkpoint import TrainingState, kept_weights
from wgan.config import TrainConfig
from wgan.evaluation import SWDEvaluator
from wgan.generate import latent_noise, load_generator, sample_images
from wgan.history import read_metrics
from wgan.io import write_json
from wgan.monitor import FlatCriticWarning, NonFiniteLossError, flat_critic_loss
from wgan.trainer import fixed_noise, train

ROOT = Path(__file__).resolve().parents[1]
# Keras' own weight saving trips a NumPy 2 deprecation warning once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def tiny_config(**overrides) -> TrainConfig:
    values = dict(
        image_size=16, filters=8, latent_dim=8, batch_size=4, n_critic=2, epochs=4,
        grid_samples=4, eval_every=1, eval_samples=16, keep_every=0, seed=0,
    )
    return TrainConfig(**{**values, **overrides}).validate()


def real_images(n: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)


def train_run(run_dir: Path, config: TrainConfig, callbacks=(), resume=False):
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", config.to_dict())  # as train.py does
    return train(config, real_images(), run_dir, resume=resume, callbacks=callbacks)


def scripted_swd(monkeypatch, values):
    """Make each evaluation return the next of ``values``: the best epoch is then known."""
    queue = iter(values)
    monkeypatch.setattr(SWDEvaluator, "__call__", lambda self, generator, **_: next(queue))


def swd_column(run_dir: Path) -> list[str]:
    with (run_dir / "metrics.csv").open() as f:
        return [row["swd"] for row in csv.DictReader(f)]


def same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(
        np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.weights, b.weights, strict=True)
    )


class Poison(keras.callbacks.Callback):
    """Turn one critic weight into NaN when epoch ``epoch`` (1-based) begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            weight = self.model.critic.trainable_weights[0]
            weight.assign(np.full(weight.shape, np.nan, np.float32))


# --- SWD during training and the best checkpoint -------------------------------------------------


def test_swd_is_written_on_evaluation_epochs_and_the_last_and_plotted(tmp_path):
    run_dir = tmp_path / "run"
    model = train_run(run_dir, tiny_config(epochs=3, eval_every=2))
    rows = read_metrics(run_dir / "metrics.csv")
    assert list(rows[0]) == ["epoch", "step", *model.metric_names, "seconds", "swd"]
    column = swd_column(run_dir)
    assert column[0] == ""  # epoch 1: not evaluated
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in column[1:])  # epochs 2 and 3
    assert Image.open(run_dir / "loss.png").size == (800, 650)  # losses above, SWD below


def test_best_checkpoint_is_the_epoch_with_the_lowest_recorded_swd(tmp_path, monkeypatch):
    scripted_swd(monkeypatch, [5.0, 3.0, 4.0, 6.0])
    run_dir = tmp_path / "run"
    model = train_run(run_dir, tiny_config(epochs=4))
    column = [float(v) for v in swd_column(run_dir)]
    assert column == [5.0, 3.0, 4.0, 6.0]
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert best["epoch"] == 1 + int(np.argmin(column)) == 2 and best["swd"] == 3.0
    # Eval epochs keep their generator weights: "best" must load exactly epoch 2's.
    kept = kept_weights(run_dir / "checkpoints")
    assert sorted(kept) == [1, 2, 3, 4]
    loaded = load_generator(run_dir, "best")
    assert loaded.epoch == 2
    epoch_2 = load_generator(run_dir, "2").model
    assert same_weights(loaded.model, epoch_2)
    assert not same_weights(loaded.model, model.generator)  # the last epoch's are different
    assert sorted(p.name for p in (run_dir / "checkpoints" / "best").iterdir()) == [
        "best-2.data-00000-of-00001",
        "best-2.index",
    ]


def test_resumed_run_remembers_the_best_swd(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    scripted_swd(monkeypatch, [5.0, 3.0])
    train_run(run_dir, tiny_config(epochs=2))
    scripted_swd(monkeypatch, [4.0, 6.0])  # worse than 3.0: a forgotten best would take 4.0
    train_run(run_dir, tiny_config(epochs=4), resume=True)
    assert [float(v) for v in swd_column(run_dir)] == [5.0, 3.0, 4.0, 6.0]
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert (best["epoch"], best["swd"]) == (2, 3.0)
    assert load_generator(run_dir, "best").epoch == 2


def test_a_best_saved_after_the_last_checkpoint_is_dropped_on_resume(tmp_path):
    """Killed between the two saves of one epoch: resuming redoes it, so its best must go."""
    config = tiny_config()
    directory = tmp_path / "checkpoints"
    state = TrainingState(build_gan(config), fixed_noise(config), directory)
    state.save_best(1, 5.0)
    state.save(1)
    state.save_best(2, 3.0)  # ... and killed before state.save(2)

    resumed = TrainingState(build_gan(config), fixed_noise(config), directory)
    assert resumed.restore() == (1, 0)
    assert resumed.best == (1, 5.0)
    assert sorted(p.name for p in (directory / "best").iterdir()) == [
        "best-1.data-00000-of-00001",
        "best-1.index",
    ]
    assert json.loads((directory / "best.json").read_text())["epoch"] == 1


def test_resume_restores_the_averaged_generator_and_every_parts_seed(tmp_path):
    run_dir = tmp_path / "run"
    config = tiny_config(epochs=2, eval_every=0, ema=0.9, norm="layer", penalty="gp",
                         augment="translation")  # fmt: skip
    model = train_run(run_dir, config)
    resumed = build_gan(config)
    state = TrainingState(resumed, fixed_noise(config), run_dir / "checkpoints")
    assert state.restore() == (2, 0)
    assert same_weights(resumed.ema.average, model.ema.average)
    assert not same_weights(resumed.ema.average, resumed.generator)  # so the check can fail
    for name in ("penalty_seed", "augment_seed", "latent_seed", "train_iterations"):
        saved, restored = model.checkpoint_items()[name], resumed.checkpoint_items()[name]
        np.testing.assert_array_equal(saved.numpy(), restored.numpy(), err_msg=name)


# --- Failure detection -------------------------------------------------------------------------


def test_nan_stops_the_run_and_the_last_good_checkpoint_stays_loadable(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as caught:
        train_run(run_dir, tiny_config(epochs=5, grid_samples=4), callbacks=[Poison(3)])
    err = caught.value
    assert (err.epoch, err.last_good_epoch) == (3, 2)
    assert "epoch 3" in str(err) and "nan" in str(err) and "(epoch 2) is kept" in str(err)
    # Nothing of the broken epoch reached the disk, and no final model was written.
    assert [int(r["epoch"]) for r in read_metrics(run_dir / "metrics.csv")] == [1, 2]
    assert sorted(p.name for p in (run_dir / "images").glob("epoch_*.png")) == [
        "epoch_0001.png",
        "epoch_0002.png",
    ]
    assert not (run_dir / "generator.keras").exists()
    assert not (run_dir / "critic.keras").exists()
    # The checkpoint resumes at epoch 2 with finite weights, and generates finite images.
    config = TrainConfig.load(run_dir)
    model = build_gan(config)
    assert TrainingState(model, fixed_noise(config), run_dir / "checkpoints").restore() == (2, 0)
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)
    loaded = load_generator(run_dir, "last")
    assert loaded.epoch == 2
    noise = latent_noise(4, config.latent_dim, config.latent_distribution, 0)
    raw = loaded.model(noise, training=False).numpy()
    assert np.isfinite(raw).all()
    assert sample_images(loaded.model, noise).shape == (4, 16, 16, 3)


def test_nan_weights_behind_finite_losses_also_stop_the_run(tmp_path):
    """The losses are measured before an epoch's last update; the weights after it."""

    class PoisonAfterLastBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3 and not hasattr(self, "done"):  # 32 images / (4 x 2): 4 batches
                self.done = True
                weight = self.model.generator.trainable_weights[0]
                weight.assign(np.full(weight.shape, np.inf, np.float32))

    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as caught:
        train_run(run_dir, tiny_config(epochs=3, eval_every=0), callbacks=[PoisonAfterLastBatch()])
    assert caught.value.epoch == 1 and caught.value.last_good_epoch == 0
    assert "generator weight" in str(caught.value) and "no checkpoint" in str(caught.value)
    assert not (run_dir / "checkpoints" / "checkpoint").exists()


def test_train_script_reports_nan_in_one_line_and_exits_non_zero(
    tmp_path, monkeypatch, capsys, load_script
):
    import wgan.trainer

    module = load_script("train")
    real_fit = wgan.trainer.Session.fit

    def poisoned(self, callbacks=(), stop=None):
        return real_fit(self, callbacks=[*callbacks, Poison(2)], stop=stop)

    monkeypatch.setattr(wgan.trainer.Session, "fit", poisoned)
    run_dir = tmp_path / "run"
    code = module.main(
        ["--data", "demo", "--n-samples", "32", "--epochs", "3", "--image-size", "16",
         "--filters", "8", "--latent-dim", "8", "--batch-size", "4", "--n-critic", "2",
         "--run-dir", str(run_dir)]
    )
    err = capsys.readouterr().err
    assert code != 0
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1, err
    assert "epoch 2" in errors[0] and "critic_loss is nan" in errors[0]
    assert "last good checkpoint (epoch 1) is kept" in errors[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "losses,expected",
    [
        ([-0.3, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0], "stayed at 0"),
        ([-1.0, -0.8, -0.6, 1e-3, -2e-3, 1e-3, 5e-4, -1e-3], "near 0"),
        ([-0.2, -0.5002, -0.5, -0.5001, -0.5003, -0.5001], "flat at -0.50"),
        ([3e-5, 3e-5, 3e-5, 3e-5, 3e-5], "flat"),
    ],
)
def test_flat_or_zero_critic_loss_is_reported(losses, expected):
    reason = flat_critic_loss(losses, patience=5)
    assert reason is not None and expected in reason and "5 epochs" in reason


@pytest.mark.parametrize(
    "losses",
    [
        [-2.6e-5, -5.6e-5, -7.8e-5, -9.8e-5, -1.22e-4, -1.47e-4],  # a young critic: growing
        [-0.52, -0.47, -0.55, -0.43, -0.50, -0.46],  # a noisy but moving loss
        [0.0, 0.0, 0.0, 0.0],  # fewer epochs than the patience
        [0.0, 0.0, math.nan, 0.0, 0.0],  # a gap is no evidence
    ],
)
def test_a_moving_critic_loss_is_not_reported(losses):
    assert flat_critic_loss(losses, patience=5) is None


def test_flat_warning_is_logged_once_per_episode(caplog):
    warner = FlatCriticWarning(patience=3, history=[-0.4])
    with caplog.at_level(logging.WARNING, logger="wgan.monitor"):
        for epoch, loss in enumerate([0.0, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0]):
            warner.on_epoch_end(epoch, {"critic_loss": loss})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # flat from epoch 3 on; moving at 5; flat again at 8
    assert warnings[0].startswith("epoch 3: the critic loss has stayed at 0")
    assert warnings[1].startswith("epoch 8: ")
    assert "likely a failed run" in warnings[0]
