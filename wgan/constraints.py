"""Weight clipping as a Keras constraint, the tutorial way of keeping a critic K-Lipschitz.

The package clips through ``wgan.penalties.WeightClip`` (a part of the GAN, not of its
networks); this constraint stays registered so that critics saved by wgan 0.1, which carried
it on every weight, still load, and the tutorial loop in benchmarks/ uses it.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="wgan")
class ClipConstraint(keras.constraints.Constraint):
    """Clip every weight into ``[-clip_value, clip_value]`` after each optimizer update."""

    def __init__(self, clip_value: float = 0.01):
        if not clip_value > 0:
            raise ValueError(f"clip_value must be positive, got {clip_value}")
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self) -> dict:
        return {"clip_value": self.clip_value}
