"""The parts around the core: penalties, schedules, the EMA generator and the priors."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.ema import EMA
from wgan.errors import ConfigError
from wgan.gan import GAN
from wgan.losses import AdversarialLoss
from wgan.models import build_critic, build_generator
from wgan.penalties import NORM_EPSILON, R1, GradientPenalty, Penalty, WeightClip
from wgan.priors import Normal, Uniform, make_prior
from wgan.schedules import Fixed, LossMargin

SIZE, LATENT, BATCH = 16, 8, 4


def square_critic(w):
    """D(x) = (w . x)^2: its input gradient 2 (w . x) w depends on where it is taken."""
    w = tf.constant(w, "float32")
    return lambda x: tf.reduce_sum(x * w, axis=(1, 2, 3), keepdims=False)[:, None] ** 2


def test_gradient_penalty_equals_a_hand_computation_with_alpha_drawn_per_sample():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(6, 2, 3, 2)).astype("float32")
    fake = rng.normal(size=(6, 2, 3, 2)).astype("float32")
    w = rng.normal(size=(2, 3, 2)).astype("float32")
    penalty = GradientPenalty(weight=10.0)
    penalty.build(SimpleNamespace(seed=3))
    seed = tf.cast(penalty.seed_generator.state.value, "int64")  # the draw it is about to make
    alpha = tf.random.stateless_uniform((6, 1, 1, 1), seed, 0.0, 1.0).numpy()
    value, metrics = penalty.loss(square_critic(w), tf.constant(real), tf.constant(fake))

    mixed = alpha * real + (1 - alpha) * fake
    grads = 2 * np.sum(mixed * w, axis=(1, 2, 3))[:, None, None, None] * w  # d/dx (w.x)^2
    norms = np.sqrt(np.sum(grads**2, axis=(1, 2, 3)) + NORM_EPSILON)
    expected = np.mean((norms - 1) ** 2)
    assert float(metrics["gradient_penalty"]) == pytest.approx(expected, rel=1e-4)
    assert float(value) == pytest.approx(10 * expected, rel=1e-4)
    assert len(np.unique(alpha)) == 6  # one alpha per sample, not one per batch
    one_alpha = alpha[0] * real + (1 - alpha[0]) * fake  # what a batch-wide alpha would give
    one_grads = 2 * np.sum(one_alpha * w, axis=(1, 2, 3))[:, None, None, None] * w
    batch_wide = np.mean((np.sqrt(np.sum(one_grads**2, axis=(1, 2, 3))) - 1) ** 2)
    assert abs(batch_wide - expected) > 1e-3 * expected


def test_a_zero_gradient_gives_a_finite_penalty_and_finite_gradients():
    w = tf.Variable(tf.zeros((2, 2, 1)))
    penalty = GradientPenalty(weight=10.0)
    penalty.build(SimpleNamespace(seed=0))
    x = tf.ones((3, 2, 2, 1))
    with tf.GradientTape() as tape:
        value, _ = penalty.loss(lambda img: tf.reduce_sum(img * w, axis=(1, 2, 3)), x, -x)
    grad = tape.gradient(value, w)
    assert float(value) == pytest.approx(10.0, rel=1e-5)  # (0 - 1)^2, times lambda
    assert np.isfinite(grad.numpy()).all()


def test_r1_is_half_gamma_times_the_squared_gradient_norm_on_real_images():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(5, 2, 3, 2)).astype("float32")
    w = rng.normal(size=(2, 3, 2)).astype("float32")
    value, metrics = R1(weight=4.0).loss(square_critic(w), tf.constant(real), None)
    grads = 2 * np.sum(real * w, axis=(1, 2, 3))[:, None, None, None] * w
    expected = np.mean(np.sum(grads**2, axis=(1, 2, 3)))
    assert float(metrics["r1_penalty"]) == pytest.approx(expected, rel=1e-4)
    assert float(value) == pytest.approx(0.5 * 4.0 * expected, rel=1e-4)


def test_weight_clip_clips_every_trainable_weight_and_nothing_else():
    critic = build_critic(SIZE, 3, filters=8)
    for w in critic.trainable_weights:
        w.assign(tf.ones_like(w) * 5.0)
    stats = [w.numpy().copy() for w in critic.non_trainable_weights]
    WeightClip(0.02).after_update(critic)
    assert all(np.abs(w.numpy()).max() == pytest.approx(0.02) for w in critic.trainable_weights)
    for before, w in zip(stats, critic.non_trainable_weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy())  # BatchNorm statistics are not weights


@pytest.mark.parametrize(
    "make,flag",
    [(lambda: WeightClip(0), "--clip"), (lambda: GradientPenalty(-1), "--gp-weight"),
     (lambda: EMA(1.5), "--ema"), (lambda: LossMargin(0), "--margin"),
     (lambda: Fixed(0), "--n-critic")],
)  # fmt: skip
def test_parts_refuse_bad_settings_naming_the_flag(make, flag):
    with pytest.raises(ConfigError, match=flag):
        make()


class Forced(AdversarialLoss):
    """Scores barely matter; the offsets decide which side's loss is worse."""

    def __init__(self, critic_offset=0.0, generator_offset=0.0):
        self.critic_offset, self.generator_offset = critic_offset, generator_offset

    def critic_terms(self, real_scores, fake_scores):
        return (1e-3 * tf.reduce_mean(fake_scores - real_scores) + self.critic_offset,
                tf.constant(0.0))  # fmt: skip

    def generator(self, fake_scores):
        return -1e-3 * tf.reduce_mean(fake_scores) + self.generator_offset


def margin_gan(loss):
    critic = build_critic(SIZE, 3, filters=8)
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    model = GAN(critic, generator, loss=loss, penalty=Penalty(), schedule=LossMargin(1.0), seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def snapshot(network):
    return [w.numpy().copy() for w in network.weights]


def unchanged(before, network):
    return all(np.array_equal(b, w.numpy()) for b, w in zip(before, network.weights, strict=True))


@pytest.mark.parametrize(
    "critic_offset,generator_offset,critic_moves,generator_moves",
    [(10.0, 0.0, True, False),  # critic loss (mean of its terms: 5) far above: only the critic
     (0.0, 10.0, False, True),  # generator far behind: only the generator
     (1.0, 0.2, True, True)],  # within the margin: both
)  # fmt: skip
def test_loss_margin_updates_only_the_side_whose_loss_is_worse(
    critic_offset, generator_offset, critic_moves, generator_moves
):
    model = margin_gan(Forced(critic_offset, generator_offset))
    critic, generator = snapshot(model.critic), snapshot(model.generator)
    real = np.random.default_rng(0).integers(0, 256, (BATCH, 1, SIZE, SIZE, 3), np.uint8)
    logs = tf.function(model.train_step)(tf.constant(real))
    assert unchanged(critic, model.critic) is not critic_moves
    assert unchanged(generator, model.generator) is not generator_moves
    assert float(logs["critic_updated"]) == float(critic_moves)
    assert float(logs["generator_updated"]) == float(generator_moves)
    assert int(model.critic_optimizer.iterations.numpy()) == int(critic_moves)
    assert int(model.generator_optimizer.iterations.numpy()) == int(generator_moves)
    assert int(model.train_iterations.numpy()) == 1


def test_ema_after_k_steps_equals_the_closed_form():
    decay = 0.8
    critic = build_critic(SIZE, 3, filters=8)
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    model = GAN(critic, generator, schedule=Fixed(1), ema=EMA(decay), seed=0)
    model.compile()
    history = [snapshot(model.generator)]
    real = np.random.default_rng(0).integers(0, 256, (BATCH, 1, SIZE, SIZE, 3), np.uint8)
    step = tf.function(model.train_step)
    for _ in range(4):
        step(tf.constant(real))
        history.append(snapshot(model.generator))
    k = len(history) - 1
    for i, average in enumerate(model.ema.average.weights):  # BatchNorm statistics included
        expected = decay**k * history[0][i] + sum(
            (1 - decay) * decay ** (k - j) * history[j][i] for j in range(1, k + 1)
        )
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert any("moving_mean" in w.path for w in model.ema.average.weights)


def test_priors_draw_the_same_distribution_in_tensorflow_and_numpy():
    rng = np.random.default_rng(0)
    for prior in (Uniform(), Normal()):
        tf_draws = prior.sample((4000, 3), tf.constant([1, 2], "int64")).numpy()
        np_draws = prior.sample_numpy(4000, 3, rng)
        assert np_draws.dtype == np.float32 and tf_draws.dtype == np.float32
        assert tf_draws.mean() == pytest.approx(np_draws.mean(), abs=0.05)
        assert tf_draws.std() == pytest.approx(np_draws.std(), abs=0.05)
    with pytest.raises(ConfigError, match="--latent-dist must be one of uniform, normal"):
        make_prior("cauchy")


def test_normal_walks_keep_the_typical_length_and_uniform_walks_stay_in_the_cube():
    rng = np.random.default_rng(0)
    a, b = Normal().sample_numpy(2, 512, rng)
    t = np.linspace(0, 1, 9)
    lengths = np.linalg.norm(Normal().walk(a, b, t), axis=1)
    assert lengths.min() > 0.9 * min(np.linalg.norm(a), np.linalg.norm(b))
    u = Uniform().walk(*Uniform().sample_numpy(2, 16, rng), t)
    assert u.min() >= 0 and u.max() <= 1
