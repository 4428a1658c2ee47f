"""Spectral normalisation (Miyato et al. 2018) as an exact reparametrisation W -> W / sigma(W).

Why not ``keras.layers.SpectralNormalization``: in training it *assigns* W / sigma into the
wrapped layer's kernel on every call, so the stored weights are overwritten, the gradient never
sees sigma as a function of W (it is a constant divisor of an already-divided kernel), every
call in a step renormalises again, and a variable assign inside the forward pass is awkward under
``tf.distribute``. Here the stored kernel is never modified: each call computes W / sigma(W) as
a tensor and differentiates through it (twice, for a gradient penalty). The only state is the
power-iteration vector ``u``, updated in training.

Miyato, Kataoka, Koyama and Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018 (arXiv:1802.05957).
"""

from __future__ import annotations

import keras
from keras import ops
from keras.src.backend import AutocastScope


def _l2_normalize(x, eps: float):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


def _compute_dtype(kernel) -> str:
    """float32, or float64 for a float64 kernel (never less than float32)."""
    return "float64" if keras.backend.standardize_dtype(kernel.dtype) == "float64" else "float32"


def spectral_normalize(
    kernel,
    u: keras.Variable,
    training: bool,
    power_iterations: int = 1,
    eps: float = 1e-12,
):
    """W / sigma(W), with sigma estimated by power iteration from ``u``.

    The kernel is reshaped to (-1, out_channels); ``power_iterations`` steps from ``u`` (shape
    (1, out)) give v = normalise(u W^T), u' = normalise(v W) and sigma = v W u'^T. u' and v are
    held constant (stop_gradient), as in the paper's reference implementation, but the gradient
    does flow through sigma as a (linear) function of W; at a converged u this is the exact
    gradient of W / sigma_max(W), since d sigma_max / dW = v^T u. In training u' is assigned back
    to ``u`` (the only state that changes: the stored kernel is never modified; inside a
    ``stateless_call`` Keras records the assignment instead); outside training ``u`` is used as
    is, so the function of W is deterministic. Computed and returned in float32 (float64 for a
    float64 kernel).
    """
    dtype = _compute_dtype(kernel)
    w = ops.cast(kernel, dtype)
    matrix = ops.reshape(w, (-1, w.shape[-1]))
    u_hat = ops.cast(u.value, dtype)
    v_hat = None
    for _ in range(max(int(power_iterations), 1)):
        v_hat = _l2_normalize(ops.matmul(u_hat, ops.transpose(matrix)), eps)
        u_hat = _l2_normalize(ops.matmul(v_hat, matrix), eps)
    u_hat, v_hat = ops.stop_gradient(u_hat), ops.stop_gradient(v_hat)
    sigma = ops.sum(ops.matmul(v_hat, matrix) * u_hat)
    if training:
        u.assign(ops.cast(u_hat, u.dtype))
    return w / sigma


def _unit_normal(shape, dtype=None):
    """A N(0, 1) draw scaled to unit length: the power iteration's starting vector."""
    u = keras.initializers.RandomNormal(0.0, 1.0)(shape, dtype=dtype)
    return u / ops.sqrt(ops.sum(ops.square(u)))


def add_power_iteration_vector(layer: keras.layers.Layer, out_channels: int) -> keras.Variable:
    """The non-trainable float32 ``sn_u`` variable, shape (1, out_channels), of a layer."""
    return layer.add_weight(
        name="sn_u",
        shape=(1, out_channels),
        initializer=_unit_normal,
        dtype="float32",
        trainable=False,
        autocast=False,
        # All replicas compute the same u from the same W: keep the first replica's.
        aggregation="only_first_replica",
    )


def normalized_kernel(layer: keras.layers.Layer, training: bool):
    """The layer's kernel divided by its spectral norm, cast to the layer's compute dtype.

    The float32 kernel is read with autocasting off: Keras would otherwise hand the layer a
    bfloat16 copy under ``mixed_bfloat16``, and the power iteration would run on that.
    """
    with AutocastScope(None):
        kernel = layer._kernel.value
    kernel = spectral_normalize(
        kernel, layer.sn_u, bool(training), power_iterations=layer.power_iterations
    )
    # A computed tensor is not autocast by Keras: cast it to what the layer computes in.
    return ops.cast(kernel, layer.compute_dtype)


class SpectralNormOption:
    """The ``spectral_norm`` and ``power_iterations`` options that this package's Conv2D and
    Dense add to Keras' layers (listed first among their bases). Off, the layer creates, draws
    and computes exactly what the Keras layer does."""

    def __init__(self, *args, spectral_norm: bool = False, power_iterations: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be at least 1, got {power_iterations}")
        if spectral_norm and getattr(self, "lora_rank", None):
            raise ValueError("spectral_norm does not support LoRA")
        self.spectral_norm = bool(spectral_norm)
        self.power_iterations = int(power_iterations)

    def _add_power_iteration_vector(self, out_channels: int) -> None:
        if self.spectral_norm:
            self.sn_u = add_power_iteration_vector(self, out_channels)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "spectral_norm": self.spectral_norm,
            "power_iterations": self.power_iterations,
        }


@keras.saving.register_keras_serializable(package="wgan")
class Dense(SpectralNormOption, keras.layers.Dense):
    """``keras.layers.Dense`` with optional spectral normalisation of its kernel.

    With ``spectral_norm=True`` the output is ``activation(x @ (W / sigma(W)) + b)``, sigma from
    ``power_iterations`` power-iteration steps per call from the non-trainable ``sn_u`` (see
    ``spectral_normalize``); with ``spectral_norm=False`` this is exactly ``keras.layers.Dense``.
    """

    def build(self, input_shape):
        super().build(input_shape)
        if self.spectral_norm and self.quantization_mode:
            raise ValueError("spectral_norm does not support quantized Dense layers")
        self._add_power_iteration_vector(self.units)

    def call(self, inputs, training=None):
        if not self.spectral_norm:
            return super().call(inputs, training=training)
        x = ops.matmul(inputs, normalized_kernel(self, training))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    @property
    def variable_serialization_spec(self):
        spec = super().variable_serialization_spec
        if self.spectral_norm:  # saved too, so a resumed run continues the same power iteration
            spec = {**spec, None: [*spec[None], "sn_u"]}
        return spec
