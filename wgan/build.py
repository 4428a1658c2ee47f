"""From a run's configuration to networks, parts and a compiled GAN: the one place that maps
config fields onto constructor arguments, used by the trainer and by ``generate.py`` alike."""

from __future__ import annotations

import keras

from wgan.augment import DiffAugment, parse_policy
from wgan.conditioning import ATTRIBUTES, CLASSES, CODES, Conditioning
from wgan.config import TrainConfig
from wgan.ema import EMA
from wgan.errors import ConfigError
from wgan.gan import GAN
from wgan.heads import AuxiliaryClassifier, Head, MutualInformation, SemiSupervised
from wgan.losses import make_loss
from wgan.models import build_critic, build_generator
from wgan.penalties import make_penalty
from wgan.priors import Prior, WithCodes, make_prior
from wgan.schedules import make_schedule


def conditioning_for(config: TrainConfig) -> Conditioning:
    """The networks' label inputs and extra outputs for ``config.model``."""
    model, kind, n = config.model, config.label_kind, len(config.classes)
    if config.needs_labels and not (kind and n):
        raise ConfigError(
            f"--model {model} needs labelled images: class sub-folders, --attributes with "
            "CelebA's list_attr_celeba.txt, or --data digits"
        )
    if model == "cgan":
        return Conditioning(kind, n, generator_labels=True, critic_join=config.critic_condition)
    if model == "acgan":
        return Conditioning(kind, n, generator_labels=True, outputs={CLASSES: n})
    if model == "sgan":
        return Conditioning(kind, n, outputs={CLASSES: n}, score_from_classes=True)
    if model == "infogan":
        codes = config.categories + config.continuous_codes
        return Conditioning(outputs={CODES: codes}, code_dim=codes)
    return Conditioning()


def heads_for(config: TrainConfig) -> list[Head]:
    if config.model == "acgan":
        multi = config.label_kind == ATTRIBUTES
        return [AuxiliaryClassifier(config.aux_weight, multi_label=multi)]
    if config.model == "infogan":
        return [MutualInformation(config.aux_weight, config.categories, config.continuous_codes)]
    if config.model == "sgan":
        return [SemiSupervised(config.aux_weight)]
    return []


def prior_for(config: TrainConfig) -> Prior:
    """The latent prior; InfoGAN's joint noise and codes for ``--model infogan``."""
    if config.model == "infogan":
        return WithCodes(config.latent_distribution, config.categories, config.continuous_codes)
    return make_prior(config.latent_distribution)


def _network_args(config: TrainConfig) -> dict:
    return {
        "image_size": config.image_size,
        "channels": config.channels,
        "filters": config.filters,
        "leaky_slope": config.leaky_slope,
        "init_stddev": config.init_stddev,
        "dtype": config.dtype_policy,
        "conditioning": conditioning_for(config),
    }


def generator_for(config: TrainConfig) -> keras.Model:
    """A generator shaped as the run's (weights freshly initialised)."""
    return build_generator(latent_dim=config.latent_dim, **_network_args(config))


def critic_for(config: TrainConfig) -> keras.Model:
    return build_critic(norm=config.norm, spectral_norm=config.spectral_norm,
                        **_network_args(config))  # fmt: skip


def classifier_for(critic: keras.Model) -> keras.Model:
    """The semi-supervised GAN's classifier on its own: the critic's body and class head,
    image -> class logits (the same layers, so it shares the critic's weights)."""
    image = critic.inputs[0]
    return keras.Model(image, critic.get_layer(CLASSES).output, name="classifier")


def optimizer_for(config: TrainConfig, lr: float | None = None) -> keras.optimizers.Optimizer:
    lr = lr or config.lr
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, beta_1=config.beta1, beta_2=config.beta2)
    return keras.optimizers.RMSprop(lr)


def build_gan(config: TrainConfig, steps_per_execution: int = 1) -> GAN:
    """Critic, generator and the parts the config names, compiled with its optimizers.

    Call inside a ``tf.distribute`` strategy's scope to train on several devices.
    ``steps_per_execution`` runs that many generator iterations per compiled call.
    """
    critic = critic_for(config)  # the critic first: seeded runs initialise in this order
    generator = generator_for(config)
    policy = parse_policy(config.augment)
    model = GAN(
        critic,
        generator,
        loss=make_loss(config.loss),
        penalty=make_penalty(config.penalty, clip=config.clip, weight=config.gp_weight),
        prior=prior_for(config),
        schedule=make_schedule(config.schedule, n_critic=config.n_critic, margin=config.margin),
        ema=EMA(config.ema) if config.ema else None,
        augment=DiffAugment(",".join(policy)) if policy else None,
        seed=config.seed,
        heads=heads_for(config),
    )
    model.compile(
        critic_optimizer=optimizer_for(config),
        generator_optimizer=optimizer_for(config, config.generator_lr or config.lr),
        steps_per_execution=steps_per_execution,
    )
    return model
