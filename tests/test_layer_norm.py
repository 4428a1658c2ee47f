import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.convolution import Conv2D
from wgan.normalization import LayerNormalization

# Gradient-penalty check, float64 throughout: ours agrees with central differences to about 1e-10
# (measured 3e-11 .. 3e-10); Keras' LayerNormalization, computing the same function, is off by
# 1.4e-2 on the conv kernel and 7.5e-2 on the conv bias, because tf.nn.moments stops the gradient
# through the mean inside the variance.
EXACT = 1e-6
KERAS_AT_LEAST = 1e-3


def reference(x, gamma, beta, epsilon):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def built_layer(dtype, shape, epsilon=1e-5):
    layer = LayerNormalization(epsilon=epsilon, dtype=dtype)
    layer.build(shape)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.uniform(0.5, 1.5, shape[-1]), rng.normal(0.0, 0.5, shape[-1])])
    return layer


def test_layer_norm_normalises_each_sample_over_h_w_c_with_per_channel_gamma_and_beta():
    x = np.random.default_rng(1).normal(2.0, 3.0, (3, 4, 5, 6)).astype("float32")
    x[1] *= 10.0  # per-sample statistics: a sample's scale must not leak into the others
    layer = built_layer("float32", x.shape, epsilon=1e-3)
    gamma, beta = layer.get_weights()
    assert [w.shape for w in layer.weights] == [(6,), (6,)]
    np.testing.assert_allclose(layer(x), reference(x, gamma, beta, 1e-3), rtol=1e-5, atol=1e-5)


def test_layer_norm_under_mixed_bfloat16_returns_bfloat16_from_float32_variables():
    x = np.random.default_rng(2).normal(0.0, 2.0, (2, 4, 4, 3)).astype("float32")
    layer = built_layer("mixed_bfloat16", x.shape)
    y = layer(x)
    assert y.dtype == tf.bfloat16
    assert [w.dtype for w in layer.weights] == ["float32", "float32"]
    gamma, beta = layer.get_weights()
    expected = reference(tf.cast(tf.cast(x, "bfloat16"), "float32").numpy(), gamma, beta, 1e-5)
    np.testing.assert_allclose(tf.cast(y, "float32"), expected, rtol=2e-2, atol=2e-2)


def test_layer_norm_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, LayerNormalization(epsilon=1e-3, name="ln")(inputs))
    model.get_layer("ln").set_weights([np.array([0.5, 1.0, 2.0]), np.array([0.1, -0.2, 0.3])])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("ln")) is LayerNormalization
    assert loaded.get_layer("ln").epsilon == pytest.approx(1e-3)
    x = tf.random.stateless_normal((2, 4, 4, 3), seed=(1, 2))
    np.testing.assert_array_equal(loaded(x), model(x))


def critic(normalization) -> keras.Model:
    """Conv2D(4, 3, strides=2) -> normalization -> LeakyReLU(0.2) -> Flatten -> Dense(1)."""
    inputs = keras.Input((7, 7, 3), dtype="float64")
    x = Conv2D(4, 3, strides=2, dtype="float64", name="conv")(inputs)
    x = normalization(x)
    x = keras.layers.LeakyReLU(0.2, dtype="float64")(x)
    x = keras.layers.Flatten(dtype="float64")(x)
    return keras.Model(inputs, keras.layers.Dense(1, dtype="float64", name="score")(x))


def twin_critics():
    """Our critic and one with Keras' layer norm over (H, W, C), computing the same function."""
    ours = critic(LayerNormalization(dtype="float64", name="ln"))
    theirs = critic(
        keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=1e-5, dtype="float64", name="ln")
    )
    rng = np.random.default_rng(3)
    for name in ("conv", "score"):
        weights = [rng.normal(0.0, 0.5, w.shape) for w in ours.get_layer(name).weights]
        ours.get_layer(name).set_weights(weights)
        theirs.get_layer(name).set_weights(weights)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(0.0, 0.5, 4)
    ours.get_layer("ln").set_weights([gamma, beta])
    # Keras' parameters span (H, W, C): the per-channel ones, repeated over H and W.
    shape = theirs.get_layer("ln").gamma.shape
    theirs.get_layer("ln").set_weights(
        [np.broadcast_to(gamma, shape), np.broadcast_to(beta, shape)]
    )
    return ours, theirs


def penalty(model, x):
    """Mean over samples of (||grad_x D(x)||_2 - 1)^2, the WGAN-GP term, by a nested tape."""
    with tf.GradientTape() as inner:
        inner.watch(x)
        score = tf.reduce_sum(model(x))
    norm = tf.norm(tf.reshape(inner.gradient(score, x), (x.shape[0], -1)), axis=1)
    return tf.reduce_mean(tf.square(norm - 1.0))


def penalty_gradients(model, x):
    with tf.GradientTape() as tape:
        value = penalty(model, x)
    grads = tape.gradient(value, model.trainable_weights)
    return value, {
        w.path: np.zeros(w.shape) if g is None else g.numpy()
        for w, g in zip(model.trainable_weights, grads, strict=True)
    }


def finite_differences(model, x, n=4, h=1e-5):
    """Central differences of the penalty on n random coordinates of every trainable weight."""
    rng = np.random.default_rng(4)
    result = {}
    for w in model.trainable_weights:
        base = w.numpy()
        coords = rng.choice(base.size, min(n, base.size), replace=False)
        values = []
        for i in coords:
            sides = []
            for step in (h, -h):
                moved = base.copy().reshape(-1)
                moved[i] += step
                w.assign(moved.reshape(base.shape))
                sides.append(float(penalty(model, x)))
            w.assign(base)
            values.append((sides[0] - sides[1]) / (2 * h))
        result[w.path] = (coords, np.array(values))
    return result


def relative_error(grad, coords, expected):
    return np.linalg.norm(grad.reshape(-1)[coords] - expected) / np.linalg.norm(expected)


def test_penalty_gradient_through_layer_norm_is_exact_and_keras_layer_norm_is_biased():
    x = tf.random.stateless_normal((4, 7, 7, 3), seed=(5, 6), dtype="float64")
    ours, theirs = twin_critics()
    # The same function with the same first derivatives ...
    np.testing.assert_allclose(theirs(x), ours(x), rtol=1e-12)
    p_ours, g_ours = penalty_gradients(ours, x)
    p_theirs, g_theirs = penalty_gradients(theirs, x)
    np.testing.assert_allclose(p_theirs, p_ours, rtol=1e-12)

    fd = finite_differences(ours, x)
    assert set(fd) == set(g_ours) == {
        "conv/kernel", "conv/bias", "ln/gamma", "ln/beta", "score/kernel", "score/bias"
    }  # fmt: skip
    for name, (coords, expected) in fd.items():
        if name in ("ln/beta", "score/bias"):
            # With LeakyReLU, grad_x D does not depend on these: the penalty is flat in them.
            np.testing.assert_allclose(expected, 0.0, atol=1e-9)
            np.testing.assert_allclose(g_ours[name], 0.0, atol=1e-12)
        else:
            assert relative_error(g_ours[name], coords, expected) < EXACT, name

    # ... but Keras' second derivatives are wrong where they pass through its moments.
    keras_errors = [
        relative_error(g_theirs[name], *fd[name]) for name in ("conv/kernel", "conv/bias")
    ]
    assert min(keras_errors) > KERAS_AT_LEAST, keras_errors
    # The layers after the normalisation are unaffected: their gradients stay exact.
    assert relative_error(g_theirs["score/kernel"], *fd["score/kernel"]) < EXACT
