"""What the networks are told besides the noise and the image: labels in, extra outputs out.

A ``Conditioning`` says, for one model, whether the generator gets a label joined to its latent
vector (conditional GAN, AC-GAN), how the critic sees the label (label maps joined to the image,
or a projection head), which extra outputs the critic has (a class head, InfoGAN's Q head) and
where its score comes from (a linear unit, or the semi-supervised GAN's log-sum-exp of the class
logits). ``wgan.models`` builds the networks from it; the heads of ``wgan.heads`` read the outputs.
Every layer here is a stock Keras layer or registered below, so ``.keras`` files load in safe mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
from keras import layers, ops

from wgan.errors import ConfigError

CLASS, ATTRIBUTES = "class", "attributes"
LABEL_KINDS = (CLASS, ATTRIBUTES)
CRITIC_JOINS = ("projection", "maps")
EMBEDDING_DIM = 50  # width of the generator's label embedding (Mirza & Osindero use 1000 units)
SCORE, CLASSES, CODES = "score", "classes", "codes"
# The models (--model, set by the presets) and what each needs and accepts.
MODELS = ("gan", "cgan", "acgan", "infogan", "sgan")
NEEDS_LABELS = ("cgan", "acgan", "sgan")  # trained on labelled images
TAKES_ATTRIBUTES = ("cgan", "acgan")  # conditioned on several yes/no attributes at once
# SGAN's log-sum-exp logit and InfoGAN's Q term are defined with the non-saturating loss;
# the others take any adversarial loss of wgan.losses.
ACCEPTED_LOSSES = {"infogan": ("nonsaturating",), "sgan": ("nonsaturating",)}


@dataclass(frozen=True)
class Conditioning:
    """The label and output layout of one model's networks; the default is the plain GAN."""

    kind: str = ""  # "", "class" (one of n_labels) or "attributes" (n_labels yes/no values)
    n_labels: int = 0
    generator_labels: bool = False  # the label is joined to the generator's latent vector
    critic_join: str = ""  # "", "projection" or "maps": how the critic is told the label
    outputs: dict = field(default_factory=dict)  # extra critic outputs: name -> units
    score_from_classes: bool = False  # SGAN: the score is log sum exp of the class logits
    code_dim: int = 0  # InfoGAN: codes appended to the noise in the generator's input

    def __post_init__(self):
        if (self.generator_labels or self.critic_join) and self.kind not in LABEL_KINDS:
            raise ConfigError(f"a conditional network needs labels ({', '.join(LABEL_KINDS)})")
        if self.critic_join and self.critic_join not in CRITIC_JOINS:
            raise ConfigError(
                f"--critic-condition must be one of {', '.join(CRITIC_JOINS)}, "
                f"got {self.critic_join!r}"
            )

    @property
    def plain(self) -> bool:
        return self == Conditioning()


def label_input(kind: str, n_labels: int) -> keras.KerasTensor:
    """Class indices (int32, shape ()) or attribute values (0/1 floats, shape (n,))."""
    if kind == CLASS:
        return keras.Input((), dtype="int32", name="label")
    return keras.Input((n_labels,), name="attributes")


def _signed(labels, dtype, name: str):
    """0/1 attribute values as -1/+1, so "off" is a value of its own and not just no signal."""
    return layers.Rescaling(2.0, offset=-1.0, dtype=dtype, name=name)(labels)


def embed_label(labels, kind: str, n_labels: int, units: int, dtype, name: str):
    """A learned vector per class (an embedding) or per attribute pattern (a linear map)."""
    if kind == CLASS:
        return layers.Embedding(n_labels, units, dtype=dtype, name=name)(labels)
    signed = _signed(labels, dtype, f"{name}_signed")
    return layers.Dense(units, use_bias=False, dtype=dtype, name=name)(signed)


def join_latent(latent, labels, kind: str, n_labels: int, dtype):
    """Mirza & Osindero (2014): the label, embedded, joined to the latent vector."""
    embedded = embed_label(labels, kind, n_labels, EMBEDDING_DIM, dtype, "label_embedding")
    return layers.Concatenate(dtype=dtype, name="latent_and_label")([latent, embedded])


def join_label_maps(image, labels, kind: str, n_labels: int, image_size: int, dtype):
    """The label as constant feature maps beside the image's channels (one-hot per class, or
    -1/+1 per attribute), the conditional DCGAN's usual critic input."""
    if kind == CLASS:
        values = layers.CategoryEncoding(n_labels, output_mode="one_hot", dtype=dtype,
                                         name="label_one_hot")(labels)  # fmt: skip
    else:
        values = _signed(labels, dtype, "label_signed")
    maps = layers.Reshape((1, 1, n_labels), dtype=dtype, name="label_pixel")(values)
    maps = layers.UpSampling2D(image_size, dtype=dtype, name="label_maps")(maps)
    return layers.Concatenate(dtype=dtype, name="image_and_label")([image, maps])


def project_label(score, features, labels, kind: str, n_labels: int, init):
    """Miyato & Koyama (2018): score + <embed(y), features>, the projection discriminator."""
    width = int(features.shape[-1])
    embedded = embed_label(labels, kind, n_labels, width, "float32", "label_projection")
    inner = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])
    return layers.Add(dtype="float32", name="projected_score")([score, inner])


@keras.saving.register_keras_serializable(package="wgan")
class LogSumExp(layers.Layer):
    """log sum_k exp(l_k) of K class logits: the semi-supervised GAN's real/fake logit.

    With D(x) = Z / (Z + 1) and Z = sum_k exp(l_k) (Salimans et al. 2016, section 5), log Z is
    the logit of D, so the non-saturating loss applies to it unchanged.
    """

    def call(self, logits):
        return ops.logsumexp(logits, axis=-1, keepdims=True)


def head_output(features, name: str, units: int, init):
    """A linear head on the critic's features; InfoGAN's Q gets a hidden layer of its own, as
    in the paper's MNIST network (the body is shared, the last layers are not)."""
    x = features
    if name == CODES:
        x = layers.Dense(128, kernel_initializer=init, dtype="float32", name="q_hidden")(x)
        x = layers.LeakyReLU(0.2, dtype="float32", name="q_lrelu")(x)
    return layers.Dense(units, kernel_initializer=init, dtype="float32", name=name)(x)
