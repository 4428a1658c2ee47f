"""From a run's configuration to networks, parts and a compiled GAN: the one place that maps
config fields onto constructor arguments, used by the trainer and by ``generate.py`` alike."""

from __future__ import annotations

import keras

from wgan.augment import DiffAugment, parse_policy
from wgan.config import TrainConfig
from wgan.ema import EMA
from wgan.gan import GAN
from wgan.losses import make_loss
from wgan.models import build_critic, build_generator
from wgan.penalties import make_penalty
from wgan.priors import make_prior
from wgan.schedules import make_schedule


def _network_args(config: TrainConfig) -> dict:
    return {
        "image_size": config.image_size,
        "channels": config.channels,
        "filters": config.filters,
        "leaky_slope": config.leaky_slope,
        "init_stddev": config.init_stddev,
        "dtype": config.dtype_policy,
    }


def generator_for(config: TrainConfig) -> keras.Model:
    """A generator shaped as the run's (weights freshly initialised)."""
    return build_generator(latent_dim=config.latent_dim, **_network_args(config))


def critic_for(config: TrainConfig) -> keras.Model:
    return build_critic(norm=config.norm, spectral_norm=config.spectral_norm,
                        **_network_args(config))  # fmt: skip


def optimizer_for(config: TrainConfig) -> keras.optimizers.Optimizer:
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.lr, beta_1=config.beta1, beta_2=config.beta2)
    return keras.optimizers.RMSprop(config.lr)


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
        prior=make_prior(config.latent_distribution),
        schedule=make_schedule(config.schedule, n_critic=config.n_critic, margin=config.margin),
        ema=EMA(config.ema) if config.ema else None,
        augment=DiffAugment(",".join(policy)) if policy else None,
        seed=config.seed,
    )
    model.compile(
        critic_optimizer=optimizer_for(config),
        generator_optimizer=optimizer_for(config),
        steps_per_execution=steps_per_execution,
    )
    return model
