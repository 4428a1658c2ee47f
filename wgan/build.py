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
from wgan.image_pool import ImagePool
from wgan.losses import make_loss
from wgan.models import build_critic, build_generator
from wgan.penalties import make_penalty
from wgan.priors import Prior, WithCodes, make_prior
from wgan.schedules import make_schedule
from wgan.translation import (
    A_TO_B,
    B_TO_A,
    JUDGE_A,
    JUDGE_B,
    CycleConsistency,
    Identity,
    LinearDecay,
    PairedL1,
    Translator,
    cycle_pair,
)
from wgan.translators import build_patch_critic, build_resnet_generator, build_unet


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
    """A generator shaped as the run's (weights freshly initialised): for Pix2Pix the U-Net,
    for CycleGAN the pair of ResNet generators as one model."""
    if config.model == "pix2pix":
        return build_unet(norm=config.norm, dropout=config.dropout, **_image_args(config))
    if config.model == "cyclegan":
        args = _image_args(config)
        args.pop("leaky_slope")
        pair = [build_resnet_generator(norm=config.norm, name=name, **args)
                for name in (A_TO_B, B_TO_A)]  # fmt: skip
        return cycle_pair(*pair, name="generator")
    return build_generator(latent_dim=config.latent_dim, **_network_args(config))


def critic_for(config: TrainConfig) -> keras.Model:
    """The critic: for Pix2Pix a PatchGAN that sees (input, output); for CycleGAN one
    PatchGAN per domain as one model (judge_a, judge_b)."""
    if config.translates:
        args = {**_image_args(config), "norm": config.norm, "spectral_norm": config.spectral_norm}
        if config.model == "pix2pix":
            return build_patch_critic(conditional=True, **args)
        return cycle_pair(*[build_patch_critic(name=name, **args)
                            for name in (JUDGE_A, JUDGE_B)], name="critic")  # fmt: skip
    return build_critic(norm=config.norm, spectral_norm=config.spectral_norm,
                        **_network_args(config))  # fmt: skip


def _image_args(config: TrainConfig) -> dict:
    args = _network_args(config)
    args.pop("conditioning")
    return args


def classifier_for(critic: keras.Model) -> keras.Model:
    """The semi-supervised GAN's classifier on its own: the critic's body and class head,
    image -> class logits (the same layers, so it shares the critic's weights)."""
    image = critic.inputs[0]
    return keras.Model(image, critic.get_layer(CLASSES).output, name="classifier")


def optimizer_for(
    config: TrainConfig, lr: float | None = None, total_updates: int | None = None
) -> keras.optimizers.Optimizer:
    """The optimizer of one network; with ``config.decay_after`` < 1 and ``total_updates``, its
    learning rate is constant for that share of the updates, then falls linearly to 0.

    Under ``--precision fp16`` it is wrapped in a ``LossScaleOptimizer``: float16 gradients
    underflow without loss scaling, and Keras' ``compile`` would wrap only ``model.optimizer``,
    which a GAN does not use. ``GAN`` scales each objective with ``optimizer.scale_loss``.
    """
    lr = lr or config.lr
    if config.decay_after < 1.0 and total_updates:
        lr = LinearDecay(lr, total_updates, int(config.decay_after * total_updates))
    if config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(lr, beta_1=config.beta1, beta_2=config.beta2)
    else:
        optimizer = keras.optimizers.RMSprop(lr)
    if config.dtype_policy == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def terms_for(config: TrainConfig) -> list:
    """The translation terms of an image-to-image model's generator objective."""
    if config.model == "pix2pix":
        return [PairedL1(config.l1_weight)]
    if config.model == "cyclegan":
        terms = [CycleConsistency(config.cycle_weight)]
        if config.identity:
            terms.append(Identity(config.identity * config.cycle_weight))
        return terms
    return []


def build_gan(
    config: TrainConfig, steps_per_execution: int = 1, total_iterations: int | None = None
) -> GAN:
    """Critic, generator and the parts the config names, compiled with its optimizers (a
    ``wgan.translation.Translator`` for Pix2Pix and CycleGAN).

    Call inside a ``tf.distribute`` strategy's scope to train on several devices.
    ``steps_per_execution`` runs that many generator iterations per compiled call;
    ``total_iterations`` (the run's length) places a learning-rate decay (``decay_after``).
    """
    critic = critic_for(config)  # the critic first: seeded runs initialise in this order
    generator = generator_for(config)
    schedule = make_schedule(config.schedule, n_critic=config.n_critic, margin=config.margin)
    total = total_iterations or None
    optimizers = {
        "critic_optimizer": optimizer_for(
            config, total_updates=total and total * schedule.real_batches),
        "generator_optimizer": optimizer_for(
            config, config.generator_lr or config.lr, total_updates=total),
    }  # fmt: skip
    if config.translates:
        model = Translator(
            critic, generator, loss=make_loss(config.loss), schedule=schedule,
            penalty=make_penalty(config.penalty, clip=config.clip, weight=config.gp_weight),
            ema=EMA(config.ema) if config.ema else None, seed=config.seed,
            terms=terms_for(config), pool=ImagePool(config.pool_size),
            adversarial_weight=config.adversarial_weight,
        )  # fmt: skip
        model.compile(**optimizers, steps_per_execution=steps_per_execution)
        return model
    policy = parse_policy(config.augment)
    model = GAN(
        critic,
        generator,
        loss=make_loss(config.loss),
        penalty=make_penalty(config.penalty, clip=config.clip, weight=config.gp_weight),
        prior=prior_for(config),
        schedule=schedule,
        ema=EMA(config.ema) if config.ema else None,
        augment=DiffAugment(",".join(policy)) if policy else None,
        seed=config.seed,
        heads=heads_for(config),
    )
    model.compile(**optimizers, steps_per_execution=steps_per_execution)
    return model
