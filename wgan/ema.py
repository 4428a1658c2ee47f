"""An exponential moving average of the generator, the copy that grids and exports sample from.

Averaging the generator's weights over the last few hundred updates smooths out the
oscillation of adversarial training (Yazici et al. 2019; Karras et al. use it in ProGAN and
StyleGAN). The average covers *all* the generator's weights, BatchNorm moving statistics
included, so the averaged network is consistent in inference mode. It starts from the initial
weights with no bias correction and no warm-up of the decay (StyleGAN's ramp is not used).
"""

from __future__ import annotations

import keras

from wgan.errors import ConfigError
from wgan.parts import Part

# The averaged generator's name in a training checkpoint.
CHECKPOINT_KEY = "ema_generator"


@keras.saving.register_keras_serializable(package="wgan")
class EMA(Part):
    """``average = decay * average + (1 - decay) * weights`` after every generator update."""

    name = "ema"

    def __init__(self, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"--ema must be 0 (off) or a decay in (0, 1), got {decay}")
        self.decay = float(decay)
        self.average: keras.Model | None = None

    def build(self, model) -> None:
        generator = model.generator
        self.average = keras.models.clone_model(generator)
        self.average.set_weights(generator.get_weights())

    def update(self, generator: keras.Model) -> None:
        for average, weight in zip(self.average.weights, generator.weights, strict=True):
            if "float" in str(average.dtype):
                average.assign(self.decay * average + (1.0 - self.decay) * weight)
            else:  # counters and seed states are copied, not averaged
                average.assign(weight)

    def state(self) -> dict:
        return {CHECKPOINT_KEY: self.average}

    def get_config(self) -> dict:
        return {"decay": self.decay}
