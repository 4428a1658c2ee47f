"""Batch normalisation as one fused kernel per pass, where Keras 3 spends a dozen ops.

Keras 3's BatchNormalization computes its moments with separate mean/variance ops and, under
the mixed_bfloat16 policy, upcasts every activation to float32 and back. TensorFlow's
``FusedBatchNormV3`` (oneDNN on x86) does the statistics, the normalisation and, in the
backward pass, all three gradients in one op each, on bfloat16 input with float32 statistics.
Same layer, same weights and the same results to float rounding: it only changes how the
graph computes them.
"""

from __future__ import annotations

import keras
import tensorflow as tf


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
