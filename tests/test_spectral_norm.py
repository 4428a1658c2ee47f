import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.convolution import Conv2D
from wgan.spectral import Dense, spectral_normalize

X_DENSE = (3, 5)
X_CONV = (2, 6, 6, 3)


def make(kind: str, dtype="float32", seed=0, **kwargs):
    """A built spectrally normalised Dense(4) or Conv2D(4, 3), and an input for it."""
    keras.utils.set_random_seed(seed)
    if kind == "dense":
        layer, shape = Dense(4, spectral_norm=True, dtype=dtype, **kwargs), X_DENSE
    else:
        layer, shape = Conv2D(4, 3, spectral_norm=True, dtype=dtype, **kwargs), X_CONV
    layer.build(shape)
    rng = np.random.default_rng(seed)
    layer.bias.assign(rng.normal(0.0, 0.5, layer.bias.shape))
    return layer, tf.constant(rng.normal(0.0, 1.0, shape), "float32")


def apply(kind: str, x, kernel, bias):
    """The layer's linear map with an explicit kernel."""
    if kind == "dense":
        return tf.matmul(x, kernel) + bias
    return tf.nn.conv2d(x, kernel, 1, "VALID") + bias


def matrix(kernel) -> np.ndarray:
    kernel = np.asarray(kernel)
    return kernel.reshape(-1, kernel.shape[-1])


def largest_singular_value(kernel) -> float:
    return float(np.linalg.svd(matrix(kernel), compute_uv=False)[0])


def power_step(kernel, u):
    """One power-iteration step in float64 numpy: (v, u')."""
    w = matrix(kernel).astype("float64")
    v = u.astype("float64") @ w.T
    v /= np.linalg.norm(v)
    u_next = v @ w
    return v, u_next / np.linalg.norm(u_next)


KINDS = ["dense", "conv"]


@pytest.mark.parametrize("kind", KINDS)
def test_training_calls_drive_the_largest_singular_value_of_the_normalised_kernel_to_one(kind):
    layer, x = make(kind)
    layer.kernel.assign(layer.kernel * 3.0)  # sigma well away from 1 before normalisation
    layer(x, training=True)
    first = largest_singular_value(spectral_normalize(layer.kernel, layer.sn_u, training=False))
    for _ in range(60):
        layer(x, training=True)
    normalised = spectral_normalize(layer.kernel, layer.sn_u, training=False)
    assert largest_singular_value(normalised) == pytest.approx(1.0, abs=1e-4)
    assert abs(first - 1.0) > 1e-3  # one step from a random u is not yet there
    # ... and the layer computes with exactly that kernel.
    np.testing.assert_allclose(
        layer(x, training=False), apply(kind, x, normalised, layer.bias), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("kind", KINDS)
def test_forward_calls_never_modify_the_kernel_and_advance_sn_u_only_in_training(kind):
    layer, x = make(kind)
    kernel, u = layer.kernel.numpy(), layer.sn_u.numpy()
    assert u.shape == (1, 4) and np.linalg.norm(u) == pytest.approx(1.0, rel=1e-6)
    layer(x, training=False)
    layer(x)
    np.testing.assert_array_equal(layer.sn_u.numpy(), u)
    layer(x, training=True)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    np.testing.assert_allclose(layer.sn_u.numpy(), power_step(kernel, u)[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(layer.sn_u.numpy(), u, atol=1e-3)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_kernel_gradient_differentiates_through_sigma_with_u_and_v_held_fixed(kind, training):
    layer, x = make(kind)
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    v, u = power_step(kernel, layer.sn_u.numpy())  # the step the call takes from sn_u
    y = layer(x, training=False)
    weights = tf.constant(np.linspace(-1.0, 1.0, y.shape[-1]), "float64")

    def loss(w, sigma):
        out = apply(kind, tf.cast(x, "float64"), w / sigma, bias)
        return tf.reduce_sum(out * weights * out)  # not linear in the kernel

    w = tf.Variable(kernel.astype("float64"))
    with tf.GradientTape(persistent=True) as tape:
        exact = loss(w, tf.reduce_sum(tf.matmul(v, tf.reshape(w, (-1, 4))) * u))  # v W u^T
        frozen = loss(w, (v @ matrix(kernel) @ u.T).item())  # sigma as a constant
    expected, without_sigma = tape.gradient(exact, w), tape.gradient(frozen, w)

    with tf.GradientTape() as tape:
        out = tf.cast(layer(x, training=training), "float64")
        value = tf.reduce_sum(out * weights * out)
    got = tape.gradient(value, layer.kernel)
    np.testing.assert_allclose(value, exact, rtol=1e-5)

    def error(a, b):
        return float(tf.norm(tf.cast(a, "float64") - b) / tf.norm(b))

    assert error(got, expected) < 1e-5  # float32 layer: measured 5e-8 (Dense), 2e-7 (Conv2D)
    # Leaving out d sigma / dW would be caught: measured 0.42 (Dense), 0.17 (Conv2D).
    assert error(without_sigma, expected) > 1e-2


@pytest.mark.parametrize("kind", KINDS)
def test_spectral_norm_under_mixed_bfloat16_computes_in_bfloat16_from_float32_variables(kind):
    ours, x = make(kind, dtype="mixed_bfloat16")
    plain, _ = make(kind)
    plain.set_weights(ours.get_weights())
    if kind == "conv":
        x = tf.random.stateless_normal((2, 8, 8, 3), seed=(1, 2))
        ours = Conv2D(4, 4, strides=2, padding="same", spectral_norm=True, dtype="mixed_bfloat16")
        plain = Conv2D(4, 4, strides=2, padding="same", spectral_norm=True)
        ours.build(x.shape)
        plain.build(x.shape)
        plain.set_weights(ours.get_weights())
        assert ours._fast_kernel_gradient(x)  # 4x4 maps: the custom-gradient route
    assert [w.dtype for w in ours.weights] == ["float32"] * 3
    results = []
    for layer in (ours, plain):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.square(tf.cast(y, "float32")))
        results.append((y, tape.gradient(loss, layer.trainable_weights)))
    (y16, g16), (y32, g32) = results
    assert y16.dtype == tf.bfloat16 and y32.dtype == tf.float32
    np.testing.assert_allclose(tf.cast(y16, "float32"), y32, rtol=3e-2, atol=3e-2)
    for a, b in zip(g16, g32, strict=True):
        assert a.dtype == tf.float32
        scale = float(tf.reduce_max(tf.abs(b)))
        np.testing.assert_allclose(a / scale, b / scale, atol=3e-2)
    np.testing.assert_allclose(ours.sn_u.numpy(), plain.sn_u.numpy(), atol=1e-2)


def critic(dtype="float32", activation=None) -> keras.Model:
    """Conv2D(4, 3, strides=2, SN) -> LeakyReLU(0.2) (or activation) -> Flatten -> Dense(1, SN)."""
    inputs = keras.Input((7, 7, 3), dtype=dtype)
    x = Conv2D(4, 3, strides=2, spectral_norm=True, dtype=dtype, name="conv")(inputs)
    if activation is None:
        x = keras.layers.LeakyReLU(0.2, dtype=dtype)(x)
    else:
        x = keras.layers.Activation(activation, dtype=dtype)(x)
    x = keras.layers.Flatten(dtype=dtype)(x)
    return keras.Model(inputs, Dense(1, spectral_norm=True, dtype=dtype, name="score")(x))


@pytest.mark.parametrize("compiled", [False, True])
def test_stateless_call_in_training_returns_the_new_sn_u_and_leaves_the_variables(compiled):
    keras.utils.set_random_seed(1)
    model = critic()
    x = tf.random.stateless_normal((2, 7, 7, 3), seed=(3, 4))
    rng = np.random.default_rng(6)
    # Values other than the variables', as an optimizer step would pass: the call must use them.
    trainable = [v.numpy() + rng.normal(0.0, 0.2, v.shape) for v in model.trainable_variables]
    before = [v.numpy() for v in model.non_trainable_variables]
    assert [v.path for v in model.non_trainable_variables] == ["conv/sn_u", "score/sn_u"]

    def step(t, n, inputs, training):
        return model.stateless_call(t, n, inputs, training=training)

    call = tf.function(step, reduce_retracing=True) if compiled else step
    out, updated = call(trainable, before, x, True)
    for variable, old in zip(model.non_trainable_variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), old)
    _, same = call(trainable, before, x, False)
    for new, old in zip(same, before, strict=True):
        np.testing.assert_array_equal(new, old)
    # The discarded update is what a stateful training call with those values would store.
    for variable, value in zip(model.trainable_variables, trainable, strict=True):
        variable.assign(value)
    np.testing.assert_allclose(out, model(x, training=True), rtol=1e-6)
    for new, variable, old in zip(updated, model.non_trainable_variables, before, strict=True):
        np.testing.assert_allclose(new, variable.numpy(), rtol=1e-6, atol=1e-7)
        if old.size > 1:  # the score's (1, 1) u is +-1 after any step
            assert not np.allclose(new, old, atol=1e-3)


def test_spectral_layers_round_trip_through_a_keras_file_with_their_power_iteration_state(
    tmp_path,
):
    inputs = keras.Input((6, 6, 3))
    x = Conv2D(4, 3, spectral_norm=True, power_iterations=2, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, Dense(3, spectral_norm=True, name="dense")(x))
    data = tf.random.stateless_normal((2, 6, 6, 3), seed=(5, 6))
    for _ in range(3):
        model(data, training=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for name, cls in (("conv", Conv2D), ("dense", Dense)):
        layer = loaded.get_layer(name)
        assert type(layer) is cls and layer.spectral_norm
        assert layer.power_iterations == (2 if name == "conv" else 1)
        np.testing.assert_array_equal(layer.sn_u.numpy(), model.get_layer(name).sn_u.numpy())
    np.testing.assert_array_equal(loaded(data), model(data))


def build_pair(ours_cls, keras_cls, args, shape, seed):
    """Each layer built right after the same seed, then a probe drawing the next numbers."""
    results = []
    for cls in (ours_cls, keras_cls):
        keras.utils.set_random_seed(seed)
        layer = cls(*args)
        layer.build(shape)
        probe = keras.layers.Dense(3)
        probe.build((None, 2))
        results.append((layer, probe.kernel.numpy()))
    return results


@pytest.mark.parametrize(
    ("ours_cls", "keras_cls", "args", "shape"),
    [
        (Conv2D, keras.layers.Conv2D, (4, 3), X_CONV),
        (Dense, keras.layers.Dense, (4,), X_DENSE),
    ],
)
def test_without_spectral_norm_the_layers_are_the_keras_layers(ours_cls, keras_cls, args, shape):
    (ours, probe_ours), (plain, probe_plain) = build_pair(ours_cls, keras_cls, args, shape, 11)
    assert not ours.spectral_norm and not hasattr(ours, "sn_u")
    assert [(w.name, w.shape) for w in ours.weights] == [(w.name, w.shape) for w in plain.weights]
    for a, b in zip(ours.weights, plain.weights, strict=True):  # same draws, in the same order
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(probe_ours, probe_plain)  # and no extra ones
    plain.set_weights([np.random.default_rng(0).normal(0, 0.5, w.shape) for w in plain.weights])
    ours.set_weights(plain.get_weights())
    x = tf.random.stateless_normal(shape, seed=(7, 8))
    for training in (False, True):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y_ours, y_plain = ours(x, training=training), plain(x, training=training)
        np.testing.assert_array_equal(y_ours, y_plain)
        for a, b in zip(
            tape.gradient(y_ours, [x, *ours.weights]),
            tape.gradient(y_plain, [x, *plain.weights]),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    config = ours.get_config()
    assert config["spectral_norm"] is False and config["power_iterations"] == 1
    assert set(config) - set(plain.get_config()) == {"spectral_norm", "power_iterations"}


def penalty(model, x, training):
    """Mean over samples of (||grad_x D(x)||_2 - 1)^2, the WGAN-GP term, by a nested tape."""
    with tf.GradientTape() as inner:
        inner.watch(x)
        score = tf.reduce_sum(model(x, training=training))
    norm = tf.norm(tf.reshape(inner.gradient(score, x), (x.shape[0], -1)), axis=1)
    return tf.reduce_mean(tf.square(norm - 1.0))


def penalty_gradients(model, x, training=False):
    with tf.GradientTape() as tape:
        value = penalty(model, x, training)
    return value, tape.gradient(value, model.trainable_weights)


def test_penalty_second_derivatives_through_spectral_norm_match_finite_differences():
    """Float64 critic (tanh, so that the conv bias and curvature matter), u first converged by
    training calls, then the penalty at fixed u.

    Finite differences see sigma's full dependence on W (through v as well); the layers hold u
    and v fixed. The two agree because at a converged u the v-term vanishes (v maximises
    ||v W||), i.e. the layers differentiate W / sigma_max(W) exactly. Measured: 6e-10 .. 9e-9.
    """
    keras.utils.set_random_seed(2)
    model = critic("float64", activation="tanh")
    x = tf.random.stateless_normal((4, 7, 7, 3), seed=(9, 10), dtype="float64")
    for _ in range(100):
        model(x, training=True)
    _, grads = penalty_gradients(model, x)
    rng = np.random.default_rng(5)
    h = 1e-6
    for variable, grad in zip(model.trainable_weights, grads, strict=True):
        base = variable.numpy()
        coords = rng.choice(base.size, min(4, base.size), replace=False)
        expected = []
        for i in coords:
            sides = []
            for step in (h, -h):
                moved = base.copy().reshape(-1)
                moved[i] += step
                variable.assign(moved.reshape(base.shape))
                sides.append(float(penalty(model, x, False)))
            variable.assign(base)
            expected.append((sides[0] - sides[1]) / (2 * h))
        expected = np.array(expected)
        if variable.path == "score/bias":  # grad_x D does not depend on the last bias
            assert grad is None or not np.any(grad)
            np.testing.assert_allclose(expected, 0.0, atol=1e-9)
            continue
        got = grad.numpy().reshape(-1)[coords]
        assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-6, variable.path

    # The float32 critic (the default) with the same weights, penalty in training mode (sn_u is
    # assigned inside the nested tapes): finite and within float32 rounding of the float64 one.
    model32 = critic("float32", activation="tanh")
    model32.set_weights(model.get_weights())
    value64, _ = penalty_gradients(model, x)
    value32, grads32 = penalty_gradients(model32, tf.cast(x, "float32"), training=True)
    np.testing.assert_allclose(value32, value64, rtol=1e-5)  # measured 7e-7
    for g32, g64 in zip(grads32, grads, strict=True):
        if g64 is None:
            continue
        assert np.all(np.isfinite(g32))
        scale = float(tf.reduce_max(tf.abs(g64)))
        np.testing.assert_allclose(g32 / scale, g64 / scale, atol=1e-4)  # measured 4e-7
