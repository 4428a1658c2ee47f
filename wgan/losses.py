"""Adversarial losses: what the critic and the generator minimise, given the critic's scores.

Every loss here splits the critic's objective into a term on the scores of real images and a term
on the scores of fakes; the critic minimises their sum and the generator minimises its own term on
the fakes. The scores are raw (linear) outputs for all four: the non-saturating loss applies its
sigmoid inside the log-loss, from logits, which is exact where a sigmoid layer followed by a
log would round to 0.
"""

from __future__ import annotations

import keras
from keras import ops

from wgan.errors import ConfigError
from wgan.parts import Part

REAL_LABEL = -1.0
FAKE_LABEL = 1.0


@keras.saving.register_keras_serializable(package="wgan")
def wasserstein_loss(y_true, y_pred):
    """``mean(y_true * y_pred)``: with -1 for real and +1 for fake it estimates -W."""
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.mean(y_true * y_pred)


class AdversarialLoss(Part):
    """The critic's two terms and the generator's loss, plus the metrics this loss adds.

    ``metrics`` are computed by :meth:`summarize` from the iteration's averaged core values
    (``critic_loss``, ``critic_real``, ``critic_fake``, ``generator_loss``).
    """

    def critic_terms(self, real_scores, fake_scores):
        """(term on real scores, term on fake scores); the critic minimises their sum."""
        raise NotImplementedError

    def generator(self, fake_scores):
        """The generator's loss on the critic's scores of its images."""
        raise NotImplementedError

    def summarize(self, values: dict) -> dict:
        """Metrics derived from the averaged values of an iteration (none by default)."""
        return {}


@keras.saving.register_keras_serializable(package="wgan")
class Wasserstein(AdversarialLoss):
    """WGAN (Arjovsky et al. 2017): the critic maximises mean(real) - mean(fake).

    Written as ``mean(-1 * real) + mean(+1 * fake)``, the labels of the common Keras recipe, so
    the critic loss is minus the Wasserstein estimate. The loss needs a Lipschitz critic: pair it
    with weight clipping or a gradient penalty.
    """

    name = "wasserstein"
    metrics = ("wasserstein_estimate",)
    labels = {"wasserstein_estimate": "Wasserstein estimate"}

    def critic_terms(self, real_scores, fake_scores):
        return wasserstein_loss(REAL_LABEL, real_scores), wasserstein_loss(FAKE_LABEL, fake_scores)

    def generator(self, fake_scores):
        return wasserstein_loss(REAL_LABEL, fake_scores)

    def summarize(self, values: dict) -> dict:
        # Mean real score minus mean fake score: the critic's estimate of W (up to its
        # Lipschitz constant), which excludes any penalty added to the critic loss.
        return {"wasserstein_estimate": values["critic_real"] - values["critic_fake"]}


@keras.saving.register_keras_serializable(package="wgan")
class NonSaturating(AdversarialLoss):
    """The DCGAN loss (Goodfellow et al. 2014; Radford et al. 2016): binary cross-entropy from
    logits, real labelled 1 and fake 0; the generator maximises log D(G(z)) (the non-saturating
    form the GAN paper recommends) instead of minimising log(1 - D(G(z)))."""

    name = "nonsaturating"

    def critic_terms(self, real_scores, fake_scores):
        return ops.mean(ops.softplus(-real_scores)), ops.mean(ops.softplus(fake_scores))

    def generator(self, fake_scores):
        return ops.mean(ops.softplus(-fake_scores))


@keras.saving.register_keras_serializable(package="wgan")
class Hinge(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018, with spectral normalisation): the critic
    pushes real scores above +1 and fake scores below -1; the generator raises mean(fake)."""

    name = "hinge"

    def critic_terms(self, real_scores, fake_scores):
        return ops.mean(ops.relu(1.0 - real_scores)), ops.mean(ops.relu(1.0 + fake_scores))

    def generator(self, fake_scores):
        return -ops.mean(fake_scores)


@keras.saving.register_keras_serializable(package="wgan")
class LeastSquares(AdversarialLoss):
    """LSGAN (Mao et al. 2017, the a=0, b=c=1 coding of their eq. 2, with its 1/2 factors): the
    critic regresses real scores to 1 and fake scores to 0; the generator pulls fakes to 1."""

    name = "least-squares"

    def critic_terms(self, real_scores, fake_scores):
        real_term = 0.5 * ops.mean(ops.square(real_scores - 1.0))
        return real_term, 0.5 * ops.mean(ops.square(fake_scores))

    def generator(self, fake_scores):
        return 0.5 * ops.mean(ops.square(fake_scores - 1.0))


LOSSES: dict[str, type[AdversarialLoss]] = {
    cls.name: cls for cls in (Wasserstein, NonSaturating, Hinge, LeastSquares)
}


def make_loss(name: str) -> AdversarialLoss:
    """The loss called ``name`` on the command line (``--loss``)."""
    if name not in LOSSES:
        raise ConfigError(f"--loss must be one of {', '.join(LOSSES)}, got {name!r}")
    return LOSSES[name]()
