"""``--precision fp16``: Keras mixed_float16 with dynamic loss scaling on both optimizers.

CPUs run float16 slowly, but correctly: these tiny models check the loss-scaling path that
GPUs take, including a step skipped for non-finite gradients.
"""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.build import build_gan, critic_for
from wgan.checkpoint import TrainingState
from wgan.config import TrainConfig
from wgan.errors import ConfigError
from wgan.generate import latent_noise, load_generator, sample_images
from wgan.io import write_json
from wgan.penalties import R1, GradientPenalty
from wgan.presets import resolve
from wgan.run_folder import RunFolder
from wgan.trainer import train

SIZE, BATCH, N_CRITIC = 16, 8, 2
OVERFLOW = 2.0**40  # a loss scale whose gradients overflow float16 (max 65504)
LSO = keras.optimizers.LossScaleOptimizer
# Keras' own model and weight saving trips a NumPy 2 deprecation warning once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def tiny_config(**values) -> TrainConfig:
    values = {"image_size": SIZE, "batch_size": BATCH, "n_critic": N_CRITIC, "filters": 8,
              "latent_dim": 8, "latent_distribution": "normal", "lr": 1e-3, "precision": "fp16",
              "seed": 3, **values}  # fmt: skip
    return TrainConfig(**values).validate()


def tiny(**values):
    keras.utils.set_random_seed(0)
    return build_gan(tiny_config(**values))


def fit(model, steps: int):
    data = np.random.default_rng(0).integers(0, 256, (steps * BATCH, N_CRITIC, SIZE, SIZE, 3),
                                             dtype=np.uint8)  # fmt: skip
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(BATCH)
    return model.fit(dataset, epochs=1, verbose=0, shuffle=False).history


def trainable(network) -> np.ndarray:
    return np.concatenate([np.ravel(v.numpy()) for v in network.trainable_variables])


def optimizers(model):
    return model.critic_optimizer, model.generator_optimizer


def test_fp16_computes_in_float16_keeps_float32_weights_and_scales_both_optimizers():
    """Keras' compile would wrap only ``model.optimizer``, which a GAN does not use."""
    model = tiny()
    assert all(isinstance(opt, LSO) for opt in optimizers(model))
    assert model.critic.get_layer("conv_1").compute_dtype == "float16"
    assert model.generator.get_layer("conv_0").compute_dtype == "float16"
    assert all(w.dtype == "float32" for w in model.critic.weights + model.generator.weights)
    assert model.critic(model.generator(model.sample_latent(4))).dtype == tf.float32


def test_pix2pix_scales_both_optimizers_and_keeps_its_lr_decay():
    values = {"image_size": SIZE, "filters": 4, "batch_size": 2, "precision": "fp16"}
    model = build_gan(resolve({}, "pix2pix", values), total_iterations=4)
    assert all(isinstance(opt, LSO) for opt in optimizers(model))
    assert model.generator.get_layer("down_1").compute_dtype == "float16"
    model.generator_optimizer.inner_optimizer.iterations.assign(3)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(2e-4 * (1 - 1 / 2))
    images = tf.cast(tf.random.uniform((2, 1, SIZE, SIZE, 3), 0, 255), "uint8")
    logs = model.train_step({"inputs": images, "images": images})
    assert all(np.isfinite(float(value)) for value in logs.values())


def test_an_overflowing_step_is_skipped_halves_the_scale_and_still_counts_as_an_iteration():
    model = tiny()
    for optimizer in optimizers(model):
        optimizer.dynamic_scale.assign(OVERFLOW)
    before = [trainable(model.critic), trainable(model.generator)]
    history = fit(model, 1)
    assert all(np.isfinite(values).all() for values in history.values())  # losses are fine
    assert int(model.train_iterations) == 1  # the iteration counts (step column, --iterations)
    assert [int(opt.iterations) for opt in optimizers(model)] == [0, 0]  # no update counts
    np.testing.assert_array_equal(trainable(model.critic), before[0])
    np.testing.assert_array_equal(trainable(model.generator), before[1])
    assert float(model.critic_optimizer.dynamic_scale) == OVERFLOW / 2**N_CRITIC
    assert float(model.generator_optimizer.dynamic_scale) == OVERFLOW / 2
    # Back at the initial scale (2**15), these tiny gradients fit float16: every update counts.
    for optimizer in optimizers(model):
        optimizer.dynamic_scale.assign(optimizer.initial_scale)
    history = fit(model, 2)
    assert all(np.isfinite(values).all() for values in history.values())
    assert int(model.train_iterations) == 3
    assert [int(opt.iterations) for opt in optimizers(model)] == [2 * N_CRITIC, 2]
    assert not np.array_equal(trainable(model.generator), before[1])
    assert np.abs(trainable(model.critic)).max() <= 0.01 + 1e-7  # clipping still holds


def test_the_loss_scale_state_survives_the_checkpoint(tmp_path):
    model = tiny()
    for optimizer, scale, count in zip(optimizers(model), (512.0, 256.0), (7, 3), strict=True):
        optimizer.dynamic_scale.assign(scale)
        optimizer.step_counter.assign(count)
        optimizer.inner_optimizer.iterations.assign(count + 10)
    TrainingState(model, np.zeros((1, 1), np.float32), tmp_path).save(1)
    resumed = tiny()
    TrainingState(resumed, np.zeros((1, 1), np.float32), tmp_path).restore()
    restored = [(float(opt.dynamic_scale), int(opt.step_counter), int(opt.iterations))
                for opt in optimizers(resumed)]  # fmt: skip
    assert restored == [(512.0, 7, 17), (256.0, 3, 13)]


@pytest.mark.parametrize("penalty", [GradientPenalty, R1])
def test_input_gradient_penalties_agree_with_float32_under_loss_scaling(penalty):
    """The penalties differentiate the critic twice: in float16 with a loss scale their value
    and their gradient match float32's, from the same weights and images."""
    real, fake = (tf.random.uniform((BATCH, SIZE, SIZE, 3), -1, 1, seed=s) for s in (1, 2))
    found = {}
    for precision, scale in (("float32", 1.0), ("fp16", 1024.0)):
        keras.utils.set_random_seed(0)
        critic = critic_for(tiny_config(precision=precision, norm="layer", penalty="gp"))
        part = penalty(10.0)
        part.build(type("Model", (), {"seed": 0}))
        with tf.GradientTape() as tape:
            loss, _ = part.loss(lambda x, c=critic: c(x, training=False), real, fake)
            scaled = loss * scale
        grads = tape.gradient(scaled, critic.trainable_variables)
        flat = np.concatenate([np.ravel(g) / scale for g in grads if g is not None])
        assert loss.dtype == tf.float32 and np.isfinite(flat).all()
        found[precision] = float(loss), flat
    assert found["fp16"][0] == pytest.approx(found["float32"][0], rel=0.01)
    a, b = found["float32"][1], found["fp16"][1]
    assert np.linalg.norm(b - a) <= 0.02 * np.linalg.norm(a)


class OverflowFirst(keras.callbacks.Callback):
    """Scale the first iteration's losses past float16's range, the later ones within it."""

    def __init__(self):
        super().__init__()
        self.seen = 0

    def on_train_batch_begin(self, batch, logs=None):
        for optimizer in optimizers(self.model):
            optimizer.dynamic_scale.assign(OVERFLOW if self.seen == 0 else 2.0**10)
        self.seen += 1


@pytest.fixture(scope="module")
def fp16_run(tmp_path_factory):
    """A 3-iteration fp16 run whose first iteration is skipped by loss scaling."""
    run_dir = tmp_path_factory.mktemp("fp16") / "run"
    run_dir.mkdir()
    config = TrainConfig(image_size=SIZE, filters=8, latent_dim=8, batch_size=4, n_critic=2,
                         iterations=3, grid_samples=4, eval_every=0, precision="fp16",
                         seed=0).validate()  # fmt: skip
    write_json(run_dir / "config.json", config.to_dict())
    images = np.random.default_rng(0).integers(0, 256, (32, SIZE, SIZE, 3), dtype=np.uint8)
    return run_dir, train(config, images, run_dir, callbacks=[OverflowFirst()])


def test_iterations_and_the_step_column_count_skipped_steps(fp16_run):
    run_dir, model = fp16_run
    with RunFolder(run_dir).metrics.open(newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps[-1] == int(model.train_iterations) == 3  # --iterations 3, one of them skipped
    assert [int(opt.iterations) for opt in optimizers(model)] == [2 * 2, 2]


@pytest.mark.parametrize("source", ["generator.keras", ""])  # the file, the run's checkpoint
def test_generate_loads_an_fp16_run(fp16_run, source):
    loaded = load_generator(fp16_run[0] / source)
    assert loaded.model.get_layer("conv_0").compute_dtype == "float16"
    images = sample_images(loaded.model, latent_noise(4, 8, "uniform", 0))
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert images.std() > 0


def test_fp16_is_a_precision_choice_and_a_bad_one_is_one_line(run, tmp_path):
    assert TrainConfig(precision="fp16").validate().dtype_policy == "mixed_float16"
    with pytest.raises(ConfigError, match=r"^--precision must be one of float32, bf16, fp16"):
        TrainConfig(precision="fp17").validate()
    help_text = " ".join(run("train.py", "--help").stdout.split())
    assert "--precision PRECISION float32, bf16, fp16 (GPUs) or auto" in help_text
    result = run("train.py", "--precision", "fp17", "--run-dir", tmp_path / "run")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--precision" in result.stderr and not (tmp_path / "run").exists()
