"""The bf16 (mixed_bfloat16) training step does the same algorithm as the float32 one."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.build import build_gan
from wgan.config import TrainConfig

SIZE, BATCH, N_CRITIC, STEPS = 16, 8, 3, 2


def tiny(precision, seed=0):
    keras.utils.set_random_seed(seed)  # the same initial weights for both precisions
    config = TrainConfig(
        image_size=SIZE,
        batch_size=BATCH,
        n_critic=N_CRITIC,
        filters=8,
        latent_dim=8,
        latent_distribution="normal",
        lr=1e-3,
        precision=precision,
        seed=3,
    ).validate()
    return build_gan(config)


def groups(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (STEPS * BATCH, N_CRITIC, SIZE, SIZE, 3), dtype=np.uint8)


def fit(model, data):
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(BATCH)
    return model.fit(dataset, epochs=1, verbose=0, shuffle=False).history


def flat(weights):
    return np.concatenate([np.ravel(w) for w in weights])


def test_bf16_models_compute_in_bfloat16_and_keep_float32_weights_and_outputs():
    model = tiny("bf16")
    assert model.critic.get_layer("conv_1").compute_dtype == "bfloat16"
    assert model.generator.get_layer("conv_0").compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in model.critic.weights + model.generator.weights)
    latent = model.sample_latent(4)
    assert model.generator(latent).dtype == tf.float32  # images leave the generator in float32
    assert model.critic(model.generator(latent)).dtype == tf.float32  # and scores the critic


def test_bf16_step_makes_n_critic_updates_keeps_the_clip_and_finite_losses():
    model = tiny("bf16")
    before = flat(model.critic.get_weights())
    history = fit(model, groups())
    assert int(model.generator_optimizer.iterations) == STEPS
    assert int(model.critic_optimizer.iterations) == STEPS * N_CRITIC
    assert all(np.isfinite(values).all() for values in history.values())
    trainable = flat(w.numpy() for w in model.critic.trainable_weights)
    assert np.abs(trainable).max() <= 0.01 + 1e-7
    assert not np.array_equal(before, flat(model.critic.get_weights()))


def test_float32_and_bf16_steps_agree_to_bf16_tolerance():
    f32, bf16 = tiny("float32"), tiny("bf16")
    np.testing.assert_array_equal(flat(bf16.get_weights()), flat(f32.get_weights()))
    start = {
        name: flat(net.get_weights())
        for name, net in (("critic", f32.critic), ("generator", f32.generator))
    }
    logs = {name: fit(model, groups()) for name, model in (("f32", f32), ("bf16", bf16))}
    # Scores are ~1e-4 sums of terms that nearly cancel, so bf16 rounding shows as a few %.
    for key in ("critic_real", "critic_fake", "generator_loss"):
        a, b = logs["f32"][key][-1], logs["bf16"][key][-1]
        assert b == pytest.approx(a, rel=0.25), key
    # The updates point the same way: RMSprop's steps from both precisions nearly coincide.
    for name in ("critic", "generator"):
        moved = [flat(getattr(m, name).get_weights()) - start[name] for m in (f32, bf16)]
        cosine = moved[0] @ moved[1] / (np.linalg.norm(moved[0]) * np.linalg.norm(moved[1]))
        assert cosine > 0.99, (name, cosine)
    latent = f32.sample_latent(16)
    images = [np.asarray(m.generator(latent)) for m in (f32, bf16)]
    assert np.abs(images[1] - images[0]).max() <= 0.05 * np.abs(images[0]).max()
