"""What every part of a GAN shares: the interface the core (``wgan.gan.GAN``) relies on.

A part is one choice of a recipe (the adversarial loss, the penalty, the latent prior, the
update schedule, the EMA generator, the augmentation). It has a name on the command line, names
the metrics it reports (with the words the plots and the sonification use for them), creates
what it needs once the GAN holds its networks, lists the variables a checkpoint must keep for an
exact resume, and serialises to a config like any Keras object.
"""

from __future__ import annotations


class Part:
    name = ""
    metrics: tuple[str, ...] = ()
    labels: dict[str, str] = {}

    def build(self, model) -> None:
        """Prepare for training ``model`` (a ``wgan.gan.GAN``): seeds, copies, first clip."""
        return None

    def state(self) -> dict:
        """Variables (by checkpoint name) a checkpoint must hold for an exact resume."""
        return {}

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)
