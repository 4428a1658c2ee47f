"""The kernel ceiling: one iteration's convolutions timed one by one, on their own.

Each Conv2D of the critic and the generator is run alone (forward, input gradient, kernel
gradient) at the shapes, precision and kernels the training step uses, and the times are added
up with the counts one generator iteration needs (the same counts as ``flops.py``). No step can
beat that sum without faster kernels; how close the step gets shows what the rest (batch
normalisation, activations, optimizers, scheduling) costs. Dense layers (under 0.1 % of the
FLOPs) are left out.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import keras
import tensorflow as tf

from benchmarks.flops import compute_layers, pass_counts
from wgan.convolution import Conv2D, kernel_gradient


def _median_seconds(run: Callable[[], tf.Tensor], repeats: int) -> float:
    for _ in range(2):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(tf.reduce_sum(run()[:1]))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def conv_times(layer: keras.layers.Conv2D, batch: int, repeats: int = 5) -> dict[str, float]:
    """Seconds for the layer's forward, input gradient and kernel gradient on its own."""
    dtype = layer.compute_dtype
    in_shape = (batch, *layer.input.shape[1:])
    x = tf.random.normal(in_shape, dtype="float32")
    x = tf.cast(x, dtype)
    w = tf.cast(tf.random.normal(layer.kernel.shape) * 0.02, dtype)
    strides = [1, *layer.strides, 1]
    padding = layer.padding.upper()
    y = tf.nn.conv2d(x, w, strides, padding)
    dy = tf.cast(tf.random.normal(y.shape), dtype)
    fast = isinstance(layer, Conv2D) and layer._fast_kernel_gradient(x)

    def kernel_grad():
        if fast:
            return kernel_gradient(x, dy, layer.kernel_size, tuple(layer.strides), layer.padding)
        return tf.compat.v1.nn.conv2d_backprop_filter(x, w.shape, dy, strides, padding)

    ops = {
        "forward": tf.function(lambda: tf.nn.conv2d(x, w, strides, padding)),
        "input_grad": tf.function(
            lambda: tf.compat.v1.nn.conv2d_backprop_input(x.shape, w, dy, strides, padding)
        ),
        "kernel_grad": tf.function(kernel_grad),
    }
    return {name: _median_seconds(op, repeats) for name, op in ops.items()}


def iteration_ceiling(
    critic: keras.Model, generator: keras.Model, batch: int, n_critic: int
) -> dict[str, float]:
    """Seconds of convolution kernels in one generator iteration, timed alone and summed with
    the pass counts that flops.py counts FLOPs with."""
    total = {}
    for network, model in (("critic", critic), ("generator", generator)):
        total[network] = 0.0
        for i, layer in enumerate(compute_layers(model)):
            if isinstance(layer, keras.layers.Conv2D):
                times = conv_times(layer, batch)
                counts = pass_counts(network, n_critic, i == 0)
                total[network] += sum(counts[name] * times[name] for name in counts)
    total["seconds"] = total["critic"] + total["generator"]
    return total
