"""Presets: one word picks a whole recipe (loss, penalty, schedule, networks, optimizer).

Precedence when a run's values are resolved: a command-line flag beats the preset, and the
preset beats the constants at the top of ``scripts/train.py`` (which are the WGAN paper's). So
``wgan`` spells out those same paper values: without ``--preset`` the constants apply, and a
user who edits one sees it wherever neither a preset nor a flag sets that value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wgan.config import TrainConfig, length_in_epochs
from wgan.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    summary: str  # one line for --help
    values: Mapping[str, object]


_PAPER_WGAN = {
    "loss": "wasserstein", "penalty": "clip", "clip": 0.01, "schedule": "fixed", "n_critic": 5,
    "norm": "batch", "spectral_norm": False, "latent_distribution": "uniform",
    "optimizer": "rmsprop", "lr": 5e-5, "ema": 0.0, "augment": "",
}  # fmt: skip
_DCGAN = {
    "loss": "nonsaturating", "penalty": "none", "schedule": "fixed", "n_critic": 1,
    "norm": "batch", "spectral_norm": False, "latent_distribution": "normal",
    "optimizer": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.0, "augment": "",
}  # fmt: skip

# The label models train on the built-in MNIST digits unless --data says otherwise. The critic
# uses layer norm (exact second derivatives), so a conditional WGAN-GP is --loss wasserstein
# --penalty gp away; the targets in benchmarks/README.md were measured with these values.
_DIGITS = {
    **_DCGAN, "norm": "layer", "data": "digits", "image_size": 28, "channels": 1,
    "n_samples": 0, "epochs": 30, "precision": "auto", "eval_every": 5, "keep_every": 10,
}  # fmt: skip

# Image-to-image: Adam 2e-4 (0.5, 0.999), one discriminator update per generator update, the
# learning rate constant for half the run and then linear to 0 (the reference code's policy
# for both models), 64x64 on the built-in demo task unless --data says otherwise. Two choices
# for a CPU, both measured in benchmarks/README.md: batches of 16 (Pix2Pix) and 8 (CycleGAN)
# instead of the papers' 1 (Pix2Pix: 4.4x the images per second of batch 1), and width 32
# instead of 64 (Pix2Pix: 5x faster); --batch-size 1 --filters 64 gives the papers' setting.
_TRANSLATION = {
    "penalty": "none", "schedule": "fixed", "n_critic": 1, "spectral_norm": False,
    "optimizer": "adam", "lr": 2e-4, "generator_lr": 0.0, "beta1": 0.5, "beta2": 0.999,
    "ema": 0.0, "augment": "", "image_size": 64, "channels": 3, "n_samples": 0,
    "decay_after": 0.5, "filters": 32, "held_out": 0.1, "precision": "float32",
    "eval_every": 5, "keep_every": 10, "eval_samples": 256,
}  # fmt: skip

PRESETS: dict[str, Preset] = {
    "wgan": Preset(
        "the WGAN paper (the defaults): weight clipping 0.01, RMSprop 5e-5, 5 critic updates, "
        "uniform noise",
        _PAPER_WGAN,
    ),
    "wgan-gp": Preset(
        "WGAN-GP (Gulrajani et al.): gradient penalty 10, layer-norm critic, Adam 1e-4 "
        "(0, 0.9), 5 critic updates",
        {
            **_PAPER_WGAN, "penalty": "gp", "gp_weight": 10.0, "norm": "layer",
            "latent_distribution": "normal", "optimizer": "adam", "lr": 1e-4, "beta1": 0.0,
            "beta2": 0.9,
        },  # fmt: skip
    ),
    "dcgan": Preset(
        "DCGAN (Radford et al.): non-saturating loss, batch norm, Adam 2e-4 (0.5), "
        "1 critic update",
        _DCGAN,
    ),
    "hinge": Preset(
        "hinge loss with a spectrally normalised critic (Miyato et al.), Adam 2e-4 (0.5), "
        "1 critic update",
        {**_DCGAN, "loss": "hinge", "norm": "none", "spectral_norm": True},
    ),
    "balanced": Preset(
        "DCGAN with balanced training: only the side whose loss is behind by more than "
        "--margin is updated",
        {**_DCGAN, "schedule": "margin", "margin": 1.0},
    ),
    "demo": Preset(
        "the best recipe found for the built-in demo faces: DCGAN with an EMA generator, 32x32,"
        " about 5 minutes on 2 cores",
        {
            **_DCGAN, "ema": 0.99, "data": "demo", "image_size": 32, "filters": 32,
            "n_samples": 3000, "epochs": 120, "precision": "auto", "sample_every": 10,
            "eval_every": 10,
        },  # fmt: skip
    ),
    "cgan": Preset(
        "conditional GAN (Mirza & Osindero): the label joins the noise and a projection critic"
        " (Miyato & Koyama); on the built-in digits",
        {**_DIGITS, "model": "cgan", "critic_condition": "projection"},
    ),
    "acgan": Preset(
        "AC-GAN (Odena et al.): a conditional generator and a critic with a class head; on the"
        " built-in digits",
        {**_DIGITS, "model": "acgan"},
    ),
    "infogan": Preset(
        "InfoGAN (Chen et al.): 10 categories and 2 continuous codes learned without labels;"
        " on the built-in digits",
        # As the official code: a batch-norm critic, the generator at 1e-3 (the critic at
        # 2e-4), 62 noise entries. Five times longer than the others: the categorical code
        # settles on the digits slowly (code/digit agreement 44 %, 53 %, 63 %, 70 %, 80 % after
        # 30, 60, 90, 120, 150 epochs for seed 0; benchmarks/README.md).
        {**_DIGITS, "model": "infogan", "latent_dim": 62, "categories": 10,
         "continuous_codes": 2, "norm": "batch", "generator_lr": 1e-3, "epochs": 150,
         "eval_every": 10},  # fmt: skip
    ),
    "sgan": Preset(
        "semi-supervised GAN (Salimans et al.): a 10-class critic trained from 100 labels and"
        " the unlabelled rest; on the built-in digits",
        {**_DIGITS, "model": "sgan", "labelled": 100},
    ),
}


PRESETS["pix2pix"] = Preset(
    "Pix2Pix (Isola et al.): U-Net and PatchGAN, L1 x 100; paired images, by default edges ->"
    " demo faces",
    {**_TRANSLATION, "model": "pix2pix", "loss": "nonsaturating", "norm": "batch",
     "l1_weight": 100.0, "dropout": 0.5, "batch_size": 16, "epochs": 40},  # fmt: skip
)
PRESETS["cyclegan"] = Preset(
    "CycleGAN (Zhu et al.): ResNet generators, PatchGANs, least squares, cycle x 10, identity,"
    " image pool 50; by default blond <-> black-haired demo faces",
    {**_TRANSLATION, "model": "cyclegan", "loss": "least-squares", "norm": "instance",
     "cycle_weight": 10.0, "identity": 0.5, "pool_size": 50, "batch_size": 8, "epochs": 20,
     "n_samples": 1000},  # fmt: skip
)


def preset_values(name: str) -> dict:
    """The values a preset sets; a ConfigError naming the valid presets for an unknown one."""
    if name not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return dict(PRESETS[name].values)


def resolve(
    constants: Mapping[str, object], preset: str | None, flags: Mapping[str, object]
) -> TrainConfig:
    """The run's values: ``flags`` over ``preset`` over ``constants``, checked (the length in
    epochs or iterations as ``length_in_epochs`` says)."""
    chosen = preset_values(preset) if preset else {}
    values = {**constants, **chosen, **flags, "preset": preset or ""}
    if length_in_epochs(flags, chosen):
        values["iterations"] = 0
    return TrainConfig(**values).validate()
