"""Hyperparameters of a run, checked in one place and written next to its outputs."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from wgan.augment import parse_policy
from wgan.conditioning import (
    ACCEPTED_LOSSES,
    CRITIC_JOINS,
    MODELS,
    NEEDS_LABELS,
    TAKES_ATTRIBUTES,
)
from wgan.errors import ConfigError
from wgan.losses import LOSSES
from wgan.models import NORMS
from wgan.penalties import PENALTIES
from wgan.priors import PRIORS
from wgan.run_folder import RunFolder
from wgan.schedules import SCHEDULES
from wgan.shapes import CHANNELS, base_size
from wgan.translation import DIRECTIONS, PAIRS, TRANSLATION_MODELS
from wgan.translators import TRANSLATION_NORMS

# Keras dtype policies; "fp16" (for GPUs) also wraps both optimizers in loss scaling (build.py).
PRECISIONS = {"float32": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
PRECISION_CHOICES = (*PRECISIONS, "auto")
OPTIMIZERS = ("rmsprop", "adam")
# Bump when a run folder written by an older version cannot be resumed by this one.
# 3: exact resume (data orders by epoch, Dropout seeds and metric trackers checkpointed).
RUN_FORMAT = 3


def length_in_epochs(*layers: Mapping[str, object]) -> bool:
    """Whether a run's length is in epochs: ``epochs`` and ``iterations`` are two ways to say
    how long, and the first layer (highest precedence first) that says either one decides, so
    ``--epochs 5`` beats an ``ITERATIONS`` constant. One layer saying both is refused."""
    for layer in layers:
        if layer.get("iterations") and layer.get("epochs") is not None:
            raise ConfigError("give --epochs or --iterations, not both")
        if "iterations" in layer:
            return False
        if "epochs" in layer:
            return True
    return False


@dataclass
class TrainConfig:
    """Defaults are the WGAN paper's (and the original project's README)."""

    n_samples: int = 3000  # real images sampled from the data folder (0 = all)
    epochs: int = 150  # passes of the sampled images through the critic
    iterations: int = 0  # train for this many generator iterations instead of epochs (0 = off)
    batch_size: int = 64
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 100
    latent_distribution: str = "uniform"  # "uniform" in [0, 1] as the original, or "normal"
    loss: str = "wasserstein"  # adversarial loss: wasserstein, nonsaturating, hinge, least-squares
    penalty: str = "clip"  # clip (weights), gp (gradient penalty), r1, none
    clip: float = 0.01  # with penalty "clip": critic weights are clipped to [-clip, clip]
    gp_weight: float = 10.0  # with penalty "gp" (lambda) or "r1" (gamma)
    schedule: str = "fixed"  # fixed (n_critic), warmup (official 100-update schedule), margin
    n_critic: int = 5  # critic updates per generator update (fixed and warmup)
    margin: float = 1.0  # with schedule "margin": the allowed |generator - critic loss|
    norm: str = "batch"  # critic normalisation: batch, layer, none
    spectral_norm: bool = False  # spectral normalisation of every critic kernel
    ema: float = 0.0  # decay of the generator's moving average (0 = off), e.g. 0.999
    augment: str = ""  # DiffAugment policy, e.g. "color,translation,cutout" ("" = off)
    optimizer: str = "rmsprop"  # rmsprop or adam, for both networks
    lr: float = 5e-5  # learning rate, both networks (the critic's, when generator_lr is set)
    generator_lr: float = 0.0  # the generator's own learning rate (0 = lr), e.g. InfoGAN's 1e-3
    beta1: float = 0.5  # Adam's beta_1
    beta2: float = 0.999  # Adam's beta_2
    leaky_slope: float = 0.2
    init_stddev: float = 0.02
    filters: int = 64  # width of the first critic block; the networks scale with it
    seed: int = 0
    sample_every: int = 1  # epochs between sample grids (the last epoch always gets one)
    grid_samples: int = 64  # images in each grid, from one fixed noise batch
    eval_every: int = 10  # epochs between SWD evaluations (and the last epoch); 0 = off
    eval_samples: int = 256  # generated and real images in each SWD evaluation
    keep_every: int = 10  # keep the generator's weights every this many epochs; 0 = off
    flat_patience: int = 5  # warn when the critic loss is flat for this many epochs; 0 = off
    checkpoint_minutes: float = 10.0  # save the full state this often inside an epoch; 0 = off
    tensorboard: bool = True  # write RUN/tensorboard/ for `tensorboard --logdir runs`
    tensorboard_every: int = 10  # iterations between its per-iteration points; 0 = epochs only
    precision: str = "float32"  # "float32", "bf16" (mixed_bfloat16), "fp16" (GPUs) or "auto"
    model: str = "gan"  # gan, cgan, acgan, infogan or sgan (the presets of the same names)
    critic_condition: str = "projection"  # cgan: how the critic sees the label (or "maps")
    attributes: str = ""  # cgan/acgan on CelebA: attributes to condition on, "Smiling,Male"
    labelled: int = 100  # sgan: labelled images (class-balanced, drawn once with the seed)
    categories: int = 10  # infogan: values of the categorical code
    continuous_codes: int = 2  # infogan: continuous codes, uniform in [-1, 1]
    aux_weight: float = 1.0  # weight of the auxiliary loss (AC class loss, InfoGAN, SGAN)
    # Image-to-image models (the presets pix2pix and cyclegan)
    pairs: str = "auto"  # pix2pix: the folder's pairs (side by side, or A/ B/), or "edges"
    direction: str = "AtoB"  # pix2pix: translate A (the left half) into B, or BtoA
    domain_a: str = ""  # cyclegan: a sub-folder or a CelebA attribute ("" = trainA/ or A/)
    domain_b: str = ""  # cyclegan: the other domain ("" = trainB/ or B/)
    held_out: float = 0.1  # share of the pairs (of each domain) held out for grids and metrics
    l1_weight: float = 100.0  # pix2pix: lambda of the L1 term
    cycle_weight: float = 10.0  # cyclegan: lambda of the cycle loss
    identity: float = 0.5  # cyclegan: identity loss weight, times cycle_weight (0 = off)
    pool_size: int = 50  # cyclegan: earlier translations the discriminators see (0 = off)
    adversarial_weight: float = 1.0  # image-to-image: weight of the GAN term (0 = L1 only)
    decay_after: float = 1.0  # share of the run before the lr decays linearly to 0 (1 = never)
    dropout: float = 0.5  # pix2pix: dropout in the U-Net's decoder
    test_dropout: bool = False  # pix2pix: translate in training mode (dropout, batch stats)
    data: str = ""  # the image folder, "demo" for the built-in faces, "digits" for MNIST
    n_images: int = 0  # images actually used (filled in once the data is loaded)
    label_kind: str = ""  # "class" or "attributes" (filled in once the labels are loaded)
    classes: list = field(default_factory=list)  # class or attribute names (filled in)
    label_frequencies: list = field(default_factory=list)  # share of each (filled in)
    preset: str = ""  # the preset the values started from ("" = none: the constants)
    extra: dict = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the flag and a valid value; return self when all is well."""
        positive = {
            "epochs": ("--epochs", self.epochs),
            "batch_size": ("--batch-size", self.batch_size),
            "latent_dim": ("--latent-dim", self.latent_dim),
            "n_critic": ("--n-critic", self.n_critic),
            "filters": ("--filters", self.filters),
            "sample_every": ("--sample-every", self.sample_every),
            "grid_samples": ("--grid-samples", self.grid_samples),
        }
        for flag, value in positive.values():
            if value < 1:
                raise ConfigError(f"{flag} must be at least 1, got {value}")
        for flag, value in (
            ("--eval-every", self.eval_every),
            ("--keep-every", self.keep_every),
            ("--flat-patience", self.flat_patience),
            ("--iterations", self.iterations),
        ):
            if value < 0:
                raise ConfigError(f"{flag} must be 0 (off) or a positive number, got {value}")
        if not self.checkpoint_minutes >= 0:
            raise ConfigError(
                f"--checkpoint-minutes must be 0 (only at epoch ends) or more, "
                f"got {self.checkpoint_minutes}"
            )
        if self.tensorboard_every < 0:
            raise ConfigError(f"--tensorboard-every must be 0 (epochs only) or a positive number "
                              f"of iterations, got {self.tensorboard_every}")  # fmt: skip
        if self.flat_patience == 1:
            raise ConfigError("--flat-patience must be 0 (off) or at least 2 epochs, got 1")
        if self.eval_every and self.eval_samples < 2:
            raise ConfigError(
                f"--eval-samples must be at least 2 for the SWD, got {self.eval_samples}"
            )
        if self.n_samples < 0:
            raise ConfigError(f"--n-samples must be 0 (all images) or more, got {self.n_samples}")
        for flag, value in (
            ("--lr", self.lr), ("--clip", self.clip), ("--gp-weight", self.gp_weight),
            ("--margin", self.margin),
        ):  # fmt: skip
            if not value > 0:
                raise ConfigError(f"{flag} must be a positive number, got {value}")
        if self.generator_lr < 0:
            raise ConfigError(
                f"--generator-lr must be 0 (same as --lr) or positive, got {self.generator_lr}"
            )
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"--ema must be 0 (off) or a decay in (0, 1), got {self.ema}")
        for flag, value in (("--beta1", self.beta1), ("--beta2", self.beta2)):
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{flag} must be in [0, 1), got {value}")
        try:
            base_size(self.image_size)
        except ConfigError as err:
            raise ConfigError(f"--image-size: {err}") from None
        if self.channels not in CHANNELS:
            raise ConfigError(f"--channels must be 1, 3 or 4, got {self.channels}")
        for flag, value, choices in (
            ("--precision", self.precision, PRECISION_CHOICES),
            ("--latent-dist", self.latent_distribution, tuple(PRIORS)),
            ("--loss", self.loss, tuple(LOSSES)),
            ("--penalty", self.penalty, tuple(PENALTIES)),
            ("--schedule", self.schedule, SCHEDULES),
            ("--norm", self.norm, TRANSLATION_NORMS if self.translates else NORMS),
            ("--optimizer", self.optimizer, OPTIMIZERS),
        ):
            if value not in choices:
                raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        if self.penalty in ("gp", "r1") and self.norm in ("batch", "instance"):
            raise ConfigError(
                f"--penalty {self.penalty} needs each sample's own gradient, which {self.norm} "
                "norm gets wrong (Keras' moments stop the gradient through the mean): add "
                "--norm layer or --norm none"
            )
        parse_policy(self.augment)
        self._validate_model()
        return self

    @property
    def translates(self) -> bool:
        """Whether this is an image-to-image model (Pix2Pix, CycleGAN)."""
        return self.model in TRANSLATION_MODELS

    def _validate_translation(self) -> None:
        for flag, value, choices in (
            ("--pairs", self.pairs, PAIRS), ("--direction", self.direction, DIRECTIONS),
        ):  # fmt: skip
            if value not in choices:
                raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        if not self.translates:
            return
        if self.schedule == "margin":
            raise ConfigError(f"--schedule margin is not available for --model {self.model}: "
                              "use --schedule fixed")  # fmt: skip
        if self.augment:
            raise ConfigError(f"--augment is not available for --model {self.model} (the pair "
                              "would need one transform for both images): drop it")  # fmt: skip
        if not 0.0 < self.held_out < 1.0:
            raise ConfigError(f"--held-out must be a share between 0 and 1, got {self.held_out}")
        for flag, value in (
            ("--l1-weight", self.l1_weight), ("--cycle-weight", self.cycle_weight),
            ("--identity", self.identity), ("--adversarial-weight", self.adversarial_weight),
            ("--pool-size", self.pool_size),
        ):  # fmt: skip
            if value < 0:
                raise ConfigError(f"{flag} must be 0 or more, got {value}")
        if not 0.0 < self.decay_after <= 1.0:
            raise ConfigError(f"--decay-after must be a share in (0, 1] (1 = no decay), got "
                              f"{self.decay_after}")  # fmt: skip
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")

    def _validate_model(self) -> None:
        self._validate_translation()
        for flag, value, choices in (
            ("--model", self.model, (*MODELS, *TRANSLATION_MODELS)),
            ("--critic-condition", self.critic_condition, CRITIC_JOINS),
        ):
            if value not in choices:
                raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        accepted = ACCEPTED_LOSSES.get(self.model)
        if accepted and self.loss not in accepted:
            raise ConfigError(
                f"--model {self.model} is defined with the {' or '.join(accepted)} loss, not "
                f"--loss {self.loss}: use --loss {accepted[0]}"
            )
        if self.attributes and self.model not in TAKES_ATTRIBUTES:
            raise ConfigError(
                f"--attributes conditions a {' or '.join(TAKES_ATTRIBUTES)} model, not --model "
                f"{self.model}: add --preset cgan or --preset acgan"
            )
        for flag, value, least in (
            ("--labelled", self.labelled, 1), ("--categories", self.categories, 2),
            ("--continuous-codes", self.continuous_codes, 0),
        ):  # fmt: skip
            if value < least:
                raise ConfigError(f"{flag} must be at least {least}, got {value}")
        if not self.aux_weight > 0:
            raise ConfigError(f"--aux-weight must be a positive number, got {self.aux_weight}")

    @property
    def needs_labels(self) -> bool:
        return self.model in NEEDS_LABELS

    @property
    def dtype_policy(self) -> str | None:
        return PRECISIONS[resolve_precision(self.precision)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> TrainConfig:
        """The config a run recorded, checked as train.py checks its flags: a damaged or
        hand-edited ``config.json`` is one ConfigError that names the file and the value.
        Keys it lacks take their defaults (older runs recorded fewer)."""
        path = RunFolder(run_dir).config
        fix = "put back the value the run was trained with, or start a new run"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path} not found: is {run_dir} a run folder?") from None
        except OSError as err:
            raise ConfigError(f"cannot read {path} ({err.strerror or err})") from None
        except ValueError as err:  # json.JSONDecodeError, or UnicodeDecodeError for binary junk
            raise ConfigError(f"{path} is not valid JSON ({err}): it is damaged or cut short; "
                              "fix it by hand or start a new run") from None  # fmt: skip
        if not isinstance(data, dict):
            raise ConfigError(f"{path} holds a JSON {type(data).__name__}, not the object of "
                              "settings train.py writes: it is damaged; fix it by hand or start "
                              "a new run")  # fmt: skip
        for name, kind in _FIELD_KINDS.items():
            if name in data and not _is_kind(data[name], kind):
                raise ConfigError(f"{path}: {name} is {json.dumps(data[name])[:60]}, not "
                                  f"{_KIND_WORDS[kind]}; {fix}")  # fmt: skip
        config = cls.from_dict(data)
        try:
            return config.validate()
        except ConfigError as err:
            raise ConfigError(f"{path} holds a value train.py refuses ({err}); {fix}") from None


# What each field of a config.json must hold (the annotations are strings: see __future__).
_FIELD_KINDS = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
_KIND_WORDS = {"int": "a whole number", "float": "a number", "str": "a string",
               "bool": "true or false", "list": "a list", "dict": "an object"}  # fmt: skip


def _is_kind(value: object, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {"str": str, "bool": bool, "list": list, "dict": dict}.get(kind)
    return expected is None or isinstance(value, expected)


def cpu_has_bf16() -> bool | None:
    """Whether this Linux CPU has bfloat16 instructions (AVX-512 BF16 or AMX); None off Linux."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(precision: str) -> str:
    """"auto" -> "bf16" on a GPU or a CPU with bfloat16 instructions, else "float32"."""
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU") or cpu_has_bf16():
        return "bf16"
    return "float32"


def package_versions() -> dict[str, str]:
    """Versions that decide what a run does, recorded so a run can be reproduced."""
    versions = {"python": platform.python_version()}
    # TensorFlow ships as several distributions (tensorflow, tensorflow-cpu, ...): one key.
    for key, names in (
        ("tensorflow", ("tensorflow", "tensorflow-cpu", "tf-nightly")),
        ("keras", ("keras",)),
        ("numpy", ("numpy",)),
        ("pillow", ("pillow",)),
    ):
        for name in names:
            try:
                versions[key] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    from wgan import __version__

    versions["wgan"] = __version__
    return versions
