import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.convolution import Conv2D, kernel_gradient


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding"),
    [
        (8, 4, 2, "same"),
        (9, 3, 2, "same"),
        (6, 3, 1, "same"),
        (9, 4, 2, "valid"),
        (7, 3, 1, "valid"),
    ],
)
def test_kernel_gradient_equals_tensorflows_backprop_filter(size, kernel, stride, padding):
    x = tf.random.stateless_normal((3, size, size, 5), seed=(1, 2))
    w_shape = (kernel, kernel, 5, 6)
    y = tf.nn.conv2d(x, tf.zeros(w_shape), stride, padding.upper())
    dy = tf.random.stateless_normal(y.shape, seed=(3, 4))
    expected = tf.compat.v1.nn.conv2d_backprop_filter(
        x, w_shape, dy, [1, stride, stride, 1], padding.upper()
    )
    got = kernel_gradient(x, dy, (kernel, kernel), (stride, stride), padding)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32") * tf.linspace(-1.0, 1.0, y.shape[-1]))
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_conv2d_matches_keras_in_outputs_and_all_gradients(dtype):
    x = tf.random.stateless_normal((4, 8, 8, 16), seed=(5, 6))
    ours = Conv2D(32, 4, strides=2, padding="same", dtype=dtype)
    plain = keras.layers.Conv2D(32, 4, strides=2, padding="same", dtype=dtype)
    ours.build(x.shape)
    plain.build(x.shape)
    plain.set_weights([np.random.default_rng(0).normal(0, 0.1, w.shape) for w in ours.weights])
    ours.set_weights(plain.get_weights())
    assert ours._fast_kernel_gradient(x) == (dtype == "mixed_bfloat16")  # 4x4 output maps
    (y_ours, g_ours), (y_plain, g_plain) = gradients(ours, x), gradients(plain, x)
    tol = 1e-5 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(tf.cast(y_ours, "float32"), tf.cast(y_plain, "float32"), atol=tol)
    for a, b in zip(g_ours, g_plain, strict=True):
        scale = float(tf.reduce_max(tf.abs(b)))
        np.testing.assert_allclose(a / scale, b / scale, atol=tol)


def test_larger_output_maps_keep_the_keras_gradient():
    layer = Conv2D(8, 4, strides=2, padding="same", dtype="mixed_bfloat16")
    assert not layer._fast_kernel_gradient(tf.zeros((1, 32, 32, 3)))


def test_conv2d_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 3))
    outputs = Conv2D(4, 4, strides=2, padding="same", dtype="mixed_bfloat16", name="c")(inputs)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("c")) is Conv2D
    assert loaded.get_layer("c").dtype_policy.name == "mixed_bfloat16"
    x = tf.random.stateless_normal((2, 8, 8, 3), seed=(1, 1))
    np.testing.assert_array_equal(
        tf.cast(loaded(x), "float32"), tf.cast(model(x), "float32")
    )
