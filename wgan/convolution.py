"""A Conv2D whose weight gradient is computed as a forward convolution where that is faster.

The gradient of a convolution's kernel is a correlation of its input with the output gradient,
summed over the batch. oneDNN's bfloat16 kernel for it (``Conv2DBackpropFilter``) is slow when
the output maps are small and the channels many, as in the critic's last block (8x8 -> 4x4,
256 -> 512 channels at 64x64): there it runs at a third of the forward speed. Written as a
forward convolution with the batch as the reduced channel axis, the same sum runs on the fast
forward kernel. Same numbers to float rounding; only the graph differs.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from wgan.spectral import SpectralNormOption, normalized_kernel

# Output maps up to this side take the forward-convolution route for the kernel gradient in
# bfloat16 (measured: 8x8 -> 4x4 twice as fast, 16x16 -> 8x8 a little faster, larger slower).
SMALL_MAP = 8


def kernel_gradient(x, dy, kernel_size: tuple[int, int], strides: tuple[int, int], padding: str):
    """d loss / d kernel of ``conv2d(x, kernel, strides, padding)`` given dy = d loss / d output.

    kernel[i, j, c, f] pairs x[n, s*y + i - pad, s*x + j - pad, c] with dy[n, y, x, f], summed
    over n, y and x: a VALID convolution of the channel-major input (C, H, W, N) with dy as an
    (Ho, Wo, N, F) filter dilated by the stride.
    """
    kh, kw = kernel_size
    pads = []
    for size, out, k, s in zip(x.shape[1:3], dy.shape[1:3], (kh, kw), strides, strict=True):
        total = max((out - 1) * s + k - size, 0) if padding == "same" else 0
        pads.append([total // 2, total - total // 2])
    channel_major = tf.pad(tf.transpose(x, (3, 1, 2, 0)), [[0, 0], *pads, [0, 0]])
    as_filter = tf.transpose(dy, (1, 2, 0, 3))
    grad = tf.nn.conv2d(channel_major, as_filter, 1, "VALID", dilations=list(strides))
    return tf.transpose(grad[:, :kh, :kw, :], (1, 2, 0, 3))


@keras.saving.register_keras_serializable(package="wgan")
class Conv2D(SpectralNormOption, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` (channels last, undilated, ungrouped) with a faster bfloat16
    kernel gradient for small output maps; everything else is the Keras layer.

    ``spectral_norm=True`` convolves with W / sigma(W) instead of W (Miyato et al. 2018; see
    ``wgan.spectral.spectral_normalize``: the stored kernel is never modified, the gradient flows
    through sigma, and the only state is the non-trainable power-iteration vector ``sn_u`` of
    shape (1, filters), advanced ``power_iterations`` steps per training call). Off (the
    default), the layer creates, draws and computes exactly what it did without the option.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._add_power_iteration_vector(self.filters)

    def call(self, inputs, training=None):
        if not self.spectral_norm:
            return super().call(inputs)
        # Cast before convolution_op, so both its routes (the bfloat16 one below and Keras')
        # get a kernel in the compute dtype; the gradient flows back through the cast.
        outputs = self.convolution_op(inputs, normalized_kernel(self, training))
        if self.use_bias:
            if self.data_format == "channels_last":
                bias_shape = (1,) * (self.rank + 1) + (self.filters,)
            else:
                bias_shape = (1, self.filters) + (1,) * self.rank
            outputs = ops.add(outputs, ops.reshape(self.bias, bias_shape))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs

    def _sn_u_index(self) -> str:
        return str(1 + int(bool(self.use_bias)))  # after the kernel and the bias Keras saves

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built and self.spectral_norm:
            store[self._sn_u_index()] = self.sn_u

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.built and self.spectral_norm:
            self.sn_u.assign(store[self._sn_u_index()])

    def _fast_kernel_gradient(self, inputs) -> bool:
        out = self.compute_output_shape(inputs.shape)
        return (
            self.compute_dtype == "bfloat16"
            and self.data_format == "channels_last"
            and self.groups == 1
            and tuple(self.dilation_rate) == (1, 1)
            and None not in out[1:3]
            and max(out[1:3]) <= SMALL_MAP
        )

    def convolution_op(self, inputs, kernel):
        if not self._fast_kernel_gradient(inputs):
            return super().convolution_op(inputs, kernel)
        strides, padding = tuple(self.strides), self.padding.upper()
        # The float32 variable, as Keras autocasts it, or a spectrally normalised float32 tensor.
        kernel = tf.cast(kernel, self.compute_dtype)

        @tf.custom_gradient
        def conv(x, w):
            def grad(dy):
                dx = tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=tf.shape(x),
                    filter=w,
                    out_backprop=dy,
                    strides=[1, *strides, 1],
                    padding=padding,
                )
                dw = kernel_gradient(x, dy, self.kernel_size, strides, self.padding)
                return dx, tf.cast(dw, w.dtype)

            return tf.nn.conv2d(x, w, [1, *strides, 1], padding), grad

        return conv(inputs, kernel)
