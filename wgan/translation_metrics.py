"""How close translations are to their targets: L1, PSNR and SSIM on held-out pairs.

All three on pixels scaled to [0, 1] (so L1 is a share of the range and PSNR's peak is 1), per
image and then averaged; SSIM is ``tf.image.ssim`` with its defaults (11x11 Gaussian window,
sigma 1.5), on colour images averaged over the channels as TensorFlow does.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from wgan.errors import DataError


def pair_metrics(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """{"l1", "psnr", "ssim"} of uint8 ``outputs`` against their uint8 ``targets``."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if outputs.shape != targets.shape or outputs.ndim != 4 or not len(outputs):
        raise DataError(f"pair metrics need two uint8 batches of one shape, got {outputs.shape} "
                        f"and {targets.shape}")  # fmt: skip
    x = tf.convert_to_tensor(outputs, tf.float32) / 255.0
    y = tf.convert_to_tensor(targets, tf.float32) / 255.0
    l1 = tf.reduce_mean(tf.abs(x - y), axis=(1, 2, 3))
    psnr = tf.image.psnr(x, y, max_val=1.0)
    ssim = tf.image.ssim(x, y, max_val=1.0)
    return {
        "l1": float(tf.reduce_mean(l1)),
        "psnr": float(tf.reduce_mean(tf.minimum(psnr, 100.0))),  # identical images: inf -> 100
        "ssim": float(tf.reduce_mean(ssim)),
    }
