"""Hyperparameters of a run, checked in one place and written next to its outputs."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from wgan.errors import ConfigError
from wgan.shapes import CHANNELS, base_size

PRECISIONS = {"float32": None, "bf16": "mixed_bfloat16"}
LATENT_DISTRIBUTIONS = ("uniform", "normal")


@dataclass
class TrainConfig:
    """Defaults are the WGAN paper's (and the original project's README)."""

    n_samples: int = 3000  # real images sampled from the data folder (0 = all)
    epochs: int = 150  # passes of the sampled images through the critic
    batch_size: int = 64
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 100
    latent_distribution: str = "uniform"  # "uniform" in [0, 1] as the original, or "normal"
    lr: float = 5e-5  # RMSprop, both networks
    clip: float = 0.01  # critic weights are clipped to [-clip, clip]
    n_critic: int = 5  # critic updates per generator update
    warmup: bool = False  # official schedule: 100 critic updates for 25 iterations and every 500th
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
    precision: str = "float32"  # or "bf16" (Keras mixed_bfloat16 policy)
    data: str = ""  # the image folder, or "demo" for the built-in faces
    n_images: int = 0  # images actually used (filled in once the data is loaded)
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
        ):
            if value < 0:
                raise ConfigError(f"{flag} must be 0 (off) or a positive number, got {value}")
        if self.flat_patience == 1:
            raise ConfigError("--flat-patience must be 0 (off) or at least 2 epochs, got 1")
        if self.eval_every and self.eval_samples < 2:
            raise ConfigError(
                f"--eval-samples must be at least 2 for the SWD, got {self.eval_samples}"
            )
        if self.n_samples < 0:
            raise ConfigError(f"--n-samples must be 0 (all images) or more, got {self.n_samples}")
        for flag, value in (("--lr", self.lr), ("--clip", self.clip)):
            if not value > 0:
                raise ConfigError(f"{flag} must be a positive number, got {value}")
        try:
            base_size(self.image_size)
        except ConfigError as err:
            raise ConfigError(f"--image-size: {err}") from None
        if self.channels not in CHANNELS:
            raise ConfigError(f"--channels must be 1, 3 or 4, got {self.channels}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ConfigError(
                f"--latent-dist must be one of {', '.join(LATENT_DISTRIBUTIONS)}, "
                f"got {self.latent_distribution!r}"
            )
        return self

    @property
    def dtype_policy(self) -> str | None:
        return PRECISIONS[self.precision]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> TrainConfig:
        path = Path(run_dir) / "config.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path} not found: is {run_dir} a run folder?") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON ({err})") from None
        return cls.from_dict(data)


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
