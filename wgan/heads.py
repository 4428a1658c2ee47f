"""Auxiliary losses on the critic's extra outputs: AC-GAN's class head, InfoGAN's Q head and the
semi-supervised GAN's classifier.

A head adds a term to the critic's objective in every critic update and, where the paper says
so, a term to the generator's. Both are weighted by ``weight`` and reported as metrics of their
own: ``critic_loss`` and ``generator_loss`` stay the adversarial objectives (plus the penalty
for the critic), so the Wasserstein estimate, the balanced schedule and the plots mean what they
mean for the unconditional models.
"""

from __future__ import annotations

import keras
from keras import ops

from wgan.conditioning import CLASSES, CODES
from wgan.errors import ConfigError
from wgan.parts import Part


class Head(Part):
    output = ""  # the critic output this head reads
    critic_metrics: tuple[str, ...] = ()
    generator_metrics: tuple[str, ...] = ()

    def __init__(self, weight: float = 1.0):
        if not weight > 0:
            raise ConfigError(f"--aux-weight must be a positive number, got {weight}")
        self.weight = float(weight)

    @property
    def metrics(self) -> tuple[str, ...]:
        return (*self.critic_metrics, *self.generator_metrics)

    def critic_loss(self, real_out: dict, fake_out: dict, batch: dict, latent, critic):
        """(weighted term for the critic, metric values); ``critic(images)`` scores more
        images in training mode when the head needs them."""
        raise NotImplementedError

    def generator_loss(self, fake_out: dict, batch: dict, latent):
        """(weighted term for the generator or None, metric values)."""
        return None, {}

    def get_config(self) -> dict:
        return {"weight": self.weight}


def _class_loss(logits, labels, multi_label: bool):
    """Softmax cross-entropy for one class per image; mean sigmoid cross-entropy per attribute."""
    logits = ops.cast(logits, "float32")
    if multi_label:
        return ops.mean(ops.binary_crossentropy(ops.cast(labels, "float32"), logits,
                                                from_logits=True))  # fmt: skip
    return ops.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def _accuracy(logits, labels, multi_label: bool):
    if multi_label:
        return ops.mean(ops.cast(ops.equal(ops.cast(logits > 0, "float32"),
                                           ops.cast(labels, "float32")), "float32"))  # fmt: skip
    predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
    return ops.mean(ops.cast(ops.equal(predicted, ops.cast(labels, "int32")), "float32"))


@keras.saving.register_keras_serializable(package="wgan")
class AuxiliaryClassifier(Head):
    """AC-GAN (Odena et al. 2017): the critic also predicts the class of real and fake images.

    As in the paper, the critic minimises the class loss on real *and* generated images
    (L_C = log P(C = c | X_real) + log P(C = c | X_fake)) and the generator the class loss on
    its images. Some implementations drop the fake term for the critic, because a critic
    rewarded for classifying bad fakes can learn features of the fakes rather than of the
    classes; we keep the paper's objective, since early in training that term also teaches
    the generator what separates the classes. Fakes are generated for the labels of the real
    batch. Attributes (multi-label) use a sigmoid per attribute.
    """

    name = "acgan"
    output = CLASSES
    critic_metrics = ("class_loss_real", "class_loss_fake", "class_accuracy_real")
    generator_metrics = ("generator_class_loss",)
    labels = {
        "class_loss_real": "critic's class loss on real images",
        "class_loss_fake": "critic's class loss on generated images",
        "class_accuracy_real": "critic's class accuracy on real images",
        "generator_class_loss": "generator's class loss",
    }

    def __init__(self, weight: float = 1.0, multi_label: bool = False):
        super().__init__(weight)
        self.multi_label = bool(multi_label)

    def critic_loss(self, real_out, fake_out, batch, latent, critic):
        labels = batch["labels"]
        real = _class_loss(real_out[CLASSES], labels, self.multi_label)
        fake = _class_loss(fake_out[CLASSES], labels, self.multi_label)
        values = {
            "class_loss_real": real,
            "class_loss_fake": fake,
            "class_accuracy_real": _accuracy(real_out[CLASSES], labels, self.multi_label),
        }
        return self.weight * (real + fake), values

    def generator_loss(self, fake_out, batch, latent):
        loss = _class_loss(fake_out[CLASSES], batch["labels"], self.multi_label)
        return self.weight * loss, {"generator_class_loss": loss}

    def get_config(self) -> dict:
        return {"weight": self.weight, "multi_label": self.multi_label}


@keras.saving.register_keras_serializable(package="wgan")
class MutualInformation(Head):
    """InfoGAN (Chen et al. 2016): Q predicts the codes behind a generated image, and the
    variational bound on their mutual information with the image, L_I, is minimised (as
    ``-L_I`` up to a constant) by the generator and by Q.

    Q shares the critic's body (its last layers are its own), so Q's term joins the critic's
    objective in each critic update, as in the official code. The categorical code's term is
    the cross-entropy of Q's logits; each continuous code is a Gaussian with fixed unit
    variance (the official ``fix_std``), i.e. half the squared error, weighted by
    ``continuous_weight`` (0.1, as common reimplementations do: at the paper's 1 the continuous
    codes took over the digit's identity here, and the categorical code learned style).
    """

    name = "infogan"
    output = CODES
    critic_metrics = ("info_loss", "code_accuracy")
    generator_metrics = ("generator_info_loss",)
    labels = {
        "info_loss": "Q's code loss (minus the mutual information bound)",
        "code_accuracy": "Q's accuracy on the categorical code",
        "generator_info_loss": "generator's code loss",
    }

    def __init__(
        self,
        weight: float = 1.0,
        categories: int = 10,
        continuous: int = 2,
        continuous_weight: float = 0.1,
    ):
        super().__init__(weight)
        self.categories = int(categories)
        self.continuous = int(continuous)
        self.continuous_weight = float(continuous_weight)

    @property
    def code_dim(self) -> int:
        return self.categories + self.continuous

    def _loss(self, codes_out, latent):
        codes = ops.cast(latent[:, -self.code_dim :], "float32")
        predicted = ops.cast(codes_out, "float32")
        category = codes[:, : self.categories]
        logits = predicted[:, : self.categories]
        loss = ops.mean(ops.categorical_crossentropy(category, logits, from_logits=True))
        if self.continuous:
            error = predicted[:, self.categories :] - codes[:, self.categories :]
            squared = ops.mean(ops.sum(ops.square(error), axis=-1))
            loss = loss + self.continuous_weight * 0.5 * squared
        hits = ops.equal(ops.argmax(logits, axis=-1), ops.argmax(category, axis=-1))
        return loss, ops.mean(ops.cast(hits, "float32"))

    def critic_loss(self, real_out, fake_out, batch, latent, critic):
        loss, accuracy = self._loss(fake_out[CODES], latent)
        return self.weight * loss, {"info_loss": loss, "code_accuracy": accuracy}

    def generator_loss(self, fake_out, batch, latent):
        loss, _ = self._loss(fake_out[CODES], latent)
        return self.weight * loss, {"generator_info_loss": loss}

    def get_config(self) -> dict:
        return {
            "weight": self.weight,
            "categories": self.categories,
            "continuous": self.continuous,
            "continuous_weight": self.continuous_weight,
        }


@keras.saving.register_keras_serializable(package="wgan")
class SemiSupervised(Head):
    """The semi-supervised GAN (Salimans et al. 2016; Odena 2016): the critic is a K-class
    classifier whose real/fake logit is log sum exp of its class logits (``LogSumExp``), so
    the unsupervised game trains the same weights as the supervised loss.

    Each critic update adds the cross-entropy on a batch drawn from the small labelled set
    (``batch["labelled_images"]``), as in the paper and the book, where labelled and unlabelled
    batches are separate: with 100 labels among thousands of images, labels inside the
    unlabelled batches would be too rare to train on.
    """

    name = "sgan"
    output = CLASSES
    critic_metrics = ("supervised_loss", "supervised_accuracy")
    labels = {
        "supervised_loss": "classifier loss on the labelled images",
        "supervised_accuracy": "classifier accuracy on the labelled images",
    }

    def critic_loss(self, real_out, fake_out, batch, latent, critic):
        labels = batch["labelled_labels"]
        logits = critic(batch["labelled_images"])[CLASSES]
        loss = _class_loss(logits, labels, multi_label=False)
        values = {"supervised_loss": loss, "supervised_accuracy": _accuracy(logits, labels, False)}
        return self.weight * loss, values

