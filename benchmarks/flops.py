"""FLOPs of one generator iteration, counted from the layers (convolutions and dense layers).

One multiply-add is 2 FLOPs, the convention of the peak figure it is compared with. Batch
normalisation, activations, upsampling and the optimizer updates are elementwise and left out,
so the count is the work any implementation of the algorithm must do, whatever it spends on top.
"""

from __future__ import annotations

import keras


def compute_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The Conv2D and Dense layers, in the order data flows: the ones whose work is counted."""
    return [x for x in model.layers if isinstance(x, (keras.layers.Conv2D, keras.layers.Dense))]


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-adds per image of a Conv2D or Dense layer."""
    if isinstance(layer, keras.layers.Conv2D):
        _, height, width, _ = layer.output.shape
        kh, kw, cin, cout = layer.kernel.shape
        return height * width * kh * kw * cin * cout
    cin, cout = layer.kernel.shape
    return cin * cout


def pass_counts(network: str, n_critic: int, first: bool) -> dict[str, int]:
    """How often one generator iteration runs each pass of one layer, on B images each time.

    Algorithm 1 of the WGAN paper: n critic updates, then one generator update. A critic layer
    runs forward on the real and the fake batch of every critic update and on the fakes of the
    generator update (2n + 1), takes kernel gradients in critic updates only (2n), and input
    gradients wherever something before it is trained (2n + 1; the first layer, whose input is
    an image, only in the generator update). A generator layer runs forward once per update
    (n + 1; no tape while the critic trains) and takes both gradients in the generator update,
    bar the first layer's input gradient (its input is noise).
    """
    if network == "critic":
        return {
            "forward": 2 * n_critic + 1,
            "kernel_grad": 2 * n_critic,
            "input_grad": 1 if first else 2 * n_critic + 1,
        }
    return {"forward": n_critic + 1, "kernel_grad": 1, "input_grad": 0 if first else 1}


def iteration_flops(critic: keras.Model, generator: keras.Model, batch: int, n_critic: int) -> int:
    """FLOPs of n_critic critic updates and one generator update: each pass of a layer (forward,
    kernel gradient, input gradient) costs its multiply-adds once, times the counts above."""
    total = 0
    for network, model in (("critic", critic), ("generator", generator)):
        for i, layer in enumerate(compute_layers(model)):
            total += layer_macs(layer) * sum(pass_counts(network, n_critic, i == 0).values())
    return 2 * batch * total


def conv_flops(shape: tuple[int, int, int, int], filters: int, kernel: int) -> int:
    """FLOPs of a stride-1 'same' Conv2D forward on an (N, H, W, C) input."""
    n, h, w, c = shape
    return 2 * n * h * w * c * filters * kernel * kernel
