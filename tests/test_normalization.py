import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.normalization import FusedBatchNormalization


def pair(dtype, **kwargs):
    """A Keras BatchNormalization and the fused one with the same (non-trivial) weights."""
    x = tf.random.stateless_normal((6, 5, 5, 4), seed=(1, 2)) * 3.0 + 1.5
    plain = keras.layers.BatchNormalization(dtype=dtype, **kwargs)
    fused = FusedBatchNormalization(dtype=dtype, **kwargs)
    plain.build(x.shape)
    fused.build(x.shape)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in plain.weights]
    plain.set_weights(weights)
    fused.set_weights(weights)
    return x, plain, fused


def loss_and_grads(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.cast(y, "float32") ** 3)
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_matches_keras_outputs_gradients_and_moving_statistics(training):
    x, plain, fused = pair("float32", momentum=0.9)
    y_plain, g_plain = loss_and_grads(plain, x, training)
    y_fused, g_fused = loss_and_grads(fused, x, training)
    np.testing.assert_allclose(y_fused, y_plain, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_fused, g_plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    for a, b in zip(fused.non_trainable_weights, plain.non_trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


def test_fused_batch_norm_moving_variance_is_the_biased_batch_variance():
    x, _, fused = pair("float32", momentum=0.0)  # momentum 0: moving stats = batch stats
    fused(x, training=True)
    np.testing.assert_allclose(fused.moving_mean.numpy(), x.numpy().mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(
        fused.moving_variance.numpy(), x.numpy().var(axis=(0, 1, 2)), rtol=1e-4
    )


def test_fused_batch_norm_under_bf16_keeps_bf16_activations_and_float32_statistics():
    x, plain, fused = pair("mixed_bfloat16")
    y_plain, _ = loss_and_grads(plain, x, True)
    y_fused, _ = loss_and_grads(fused, x, True)
    assert y_fused.dtype == tf.bfloat16
    assert fused.moving_mean.dtype == "float32" and fused.gamma.dtype == "float32"
    np.testing.assert_allclose(
        tf.cast(y_fused, "float32"), tf.cast(y_plain, "float32"), rtol=2e-2, atol=2e-2
    )


def test_frozen_fused_batch_norm_uses_moving_statistics_like_keras():
    x, plain, fused = pair("float32")
    plain.trainable = fused.trainable = False
    np.testing.assert_allclose(
        fused(x, training=True), plain(x, training=True), rtol=1e-4, atol=1e-4
    )


def test_inputs_the_fused_op_cannot_take_fall_back_to_keras():
    x = tf.random.stateless_normal((8, 3), seed=(3, 4))
    plain, fused = keras.layers.BatchNormalization(), FusedBatchNormalization()
    np.testing.assert_allclose(
        fused(x, training=True), plain(x, training=True), rtol=1e-5, atol=1e-5
    )


def test_fused_batch_norm_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, FusedBatchNormalization(momentum=0.8, name="bn")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("bn")) is FusedBatchNormalization
    assert loaded.get_layer("bn").momentum == pytest.approx(0.8)


@pytest.mark.parametrize("policy", ["bfloat16", "float64"])
def test_policies_with_non_float32_statistics_fall_back_to_keras(policy):
    x = tf.random.stateless_normal((4, 3, 3, 2), seed=(7, 8))
    plain, fused = keras.layers.BatchNormalization(dtype=policy), FusedBatchNormalization(
        dtype=policy
    )
    got, expected = fused(x, training=True), plain(x, training=True)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(
        tf.cast(got, "float32"), tf.cast(expected, "float32"), rtol=2e-2, atol=2e-2
    )
