"""FLOPs of one generator iteration, counted from the layers (convolutions and dense layers).

One multiply-add is 2 FLOPs, the convention of the peak figure it is compared with. Batch
normalisation, activations, upsampling and the optimizer updates are elementwise and left out,
so the count is the work any implementation of the algorithm must do, whatever it spends on top.
"""

from __future__ import annotations

import keras


def layer_macs(model: keras.Model) -> list[int]:
    """Multiply-adds per image of each Conv2D and Dense layer, in the order data flows."""
    macs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            kh, kw, cin, cout = layer.kernel.shape
            macs.append(height * width * kh * kw * cin * cout)
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            macs.append(cin * cout)
    return macs


def iteration_flops(critic: keras.Model, generator: keras.Model, batch: int, n_critic: int) -> int:
    """FLOPs of n_critic critic updates and one generator update (Algorithm 1 of the WGAN paper).

    Forward is 1 unit of a layer's multiply-adds, the gradient for its weights 1 and the
    gradient for its input 1 (none for the first layer of the network being trained: its input
    is data). A critic update: generator forward on B, critic forward, weight and input
    gradients on B real and B fake. A generator update: generator forward on B, critic forward
    and input gradients (down to the image), generator weight and input gradients.
    """
    c, g = layer_macs(critic), layer_macs(generator)
    critic_fwd, gen_fwd = sum(c), sum(g)
    critic_update = gen_fwd + 2 * (critic_fwd + critic_fwd + critic_fwd - c[0])
    generator_update = gen_fwd + critic_fwd + critic_fwd + gen_fwd + (gen_fwd - g[0])
    return 2 * batch * (n_critic * critic_update + generator_update)


def conv_flops(shape: tuple[int, int, int, int], filters: int, kernel: int) -> int:
    """FLOPs of a stride-1 'same' Conv2D forward on an (N, H, W, C) input."""
    n, h, w, c = shape
    return 2 * n * h * w * c * filters * kernel * kernel
