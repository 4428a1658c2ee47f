"""Batch normalisation as one fused kernel per pass, where Keras 3 spends a dozen ops.

Keras 3's BatchNormalization computes its moments with separate mean/variance ops and, under
the mixed_bfloat16 policy, upcasts every activation to float32 and back. TensorFlow's
``FusedBatchNormV3`` (oneDNN on x86) does the statistics, the normalisation and, in the
backward pass, all three gradients in one op each, on bfloat16 input with float32 statistics.
Same layer, same weights and the same results to float rounding: it only changes how the
graph computes them.

Also here: a layer normalisation for gradient-penalty critics whose second derivatives are exact
(Keras' normalisation layers get them wrong; see ``LayerNormalization``).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="wgan")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` on 4-D channels-last input, run by the fused op.

    Anything the fused op does not cover (masks, other ranks or axes, renorm, synchronised
    statistics, non-float32 variables) falls back to the Keras implementation.
    """

    def _fusable(self, inputs, mask) -> bool:
        return (
            mask is None
            and self.variable_dtype == "float32"  # the op keeps its statistics in float32
            and inputs.dtype in (tf.float32, tf.bfloat16, tf.float16)
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and not self.renorm
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma.value if self.scale else tf.ones((channels,), "float32")
        beta = self.beta.value if self.center else tf.zeros((channels,), "float32")
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, is_training=True
            )
            # The op returns the unbiased (n - 1) batch variance; Keras averages the biased one.
            count = tf.cast(tf.size(inputs) // channels, "float32")
            variance = variance * ((count - 1.0) / count)
            keep = self.momentum
            self.moving_mean.assign(self.moving_mean.value * keep + mean * (1.0 - keep))
            self.moving_variance.assign(self.moving_variance.value * keep + variance * (1.0 - keep))
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=self.moving_mean.value,
                variance=self.moving_variance.value,
                epsilon=self.epsilon,
                is_training=False,
            )
        return tf.cast(outputs, self.compute_dtype)


def batch_norm(gamma_initializer, dtype, name: str) -> FusedBatchNormalization:
    """The networks' batch norm. Built under a strategy with several replicas it is
    synchronised: the batch statistics are those of the global batch (one all-reduce per
    layer and pass), so a batch split across replicas normalises as it does on one device,
    and the moving statistics stay equal on every replica. (Unsynchronised, each replica
    would normalise by its own share and keep its own moving statistics.)"""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return FusedBatchNormalization(
        gamma_initializer=gamma_initializer, dtype=dtype, name=name, synchronized=replicas > 1
    )


@keras.saving.register_keras_serializable(package="wgan")
class LayerNormalization(keras.layers.Layer):
    """Per-sample normalisation over all non-batch axes, then a per-channel scale and offset.

    The critic normalisation of the WGAN-GP paper (Gulrajani et al. 2017, "Improved Training of
    Wasserstein GANs", arXiv:1704.00028, recommend layer norm as the drop-in replacement for
    batch norm, which a per-sample gradient penalty rules out). As in common WGAN-GP code (the
    official tflib ``LayerNorm`` normalises over axes [1, 2, 3] with per-channel parameters),
    each sample is normalised over H, W and C together, then ``gamma`` (init ones) and ``beta``
    (init zeros), both of shape (C,), are applied.

    Why not ``keras.layers.LayerNormalization`` (or Batch/GroupNormalization): they take their
    moments from ``tf.nn.moments``, which stops the gradient through the mean inside the
    variance. First derivatives are right, second derivatives are not, so the gradient of a
    gradient penalty through them is biased. Here mean = mean(x) and
    var = mean((x - mean)^2) are written out with no stop_gradient, and both derivatives are
    exact. The statistics and the normalisation are computed in float32 (float64 under a float64
    policy) and the result is returned in the compute dtype; the variables are float32 under
    ``mixed_bfloat16``.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"LayerNormalization needs a known channel axis, got {input_shape}")
        channels = (input_shape[-1],)
        self.gamma = self.add_weight(
            name="gamma", shape=channels, initializer="ones", autocast=False
        )
        self.beta = self.add_weight(
            name="beta", shape=channels, initializer="zeros", autocast=False
        )

    def call(self, inputs):
        dtype = "float64" if self.compute_dtype == "float64" else "float32"
        x = ops.cast(inputs, dtype)
        axes = tuple(range(1, len(x.shape)))
        mean = ops.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)
        y = centred * ops.rsqrt(variance + self.epsilon)
        y = y * ops.cast(self.gamma, dtype) + ops.cast(self.beta, dtype)
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}
