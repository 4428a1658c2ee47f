"""Where a run's images come from: the folder a user named, CelebA in its default place, or the
built-in demo faces when there is nothing else; decoded once into a memory-mapped cache.

The policy lives here, not in the script, so that every caller (train.py, the benchmarks, a
notebook) gets the same fallback and the same cache file for the same images.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wgan.config import TrainConfig
from wgan.data import find_images, load_images
from wgan.demo_faces import draw_faces
from wgan.errors import WganError
from wgan.io import make_writable_folder

DEMO = "demo"
# Demo faces drawn when a run asks for "all" images (n_samples 0) of a source with no end.
DEMO_DEFAULT_COUNT = 3000


@dataclass
class TrainingData:
    images: np.ndarray  # uint8 (N, H, W, C), a read-only memmap when cached
    source: str  # "demo" or the resolved folder: what config.json records as "data"
    notes: list[str] = field(default_factory=list)  # what the user should be told


def has_images(folder: str | os.PathLike) -> bool:
    try:
        return bool(find_images(folder)[0])
    except WganError:
        return False


def choose_source(
    requested: str | None, default_folder: str | os.PathLike
) -> tuple[str, list[str]]:
    """The folder to train on (or "demo"), and a note when the demo faces stand in for CelebA."""
    if requested:
        return requested, []
    default_folder = Path(default_folder)
    if has_images(default_folder):
        return str(default_folder), []
    return DEMO, [
        f"{default_folder.name}/ holds no images: training on the built-in demo faces "
        f"(see {default_folder.name}/README.md to get CelebA)"
    ]


def cache_file(
    cache_dir: Path, folder: str | os.PathLike, config: TrainConfig, n_found: int
) -> Path:
    """One cache file per folder, size, channels and sample (its sidecar guards the contents).

    The seed is in the name only when it picks a sample: runs that use every file share one
    cache whatever their seed.
    """
    folder = Path(folder).expanduser().resolve()
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    sampled = 0 < config.n_samples < n_found
    sample = f"{config.n_samples}-seed{config.seed}" if sampled else "all"
    return cache_dir / (
        f"{folder.name}-{tag}-{config.image_size}px-{config.channels}ch-{sample}.u8cache"
    )


def load_training_data(
    config: TrainConfig,
    requested: str | None,
    default_folder: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingData:
    """Decode the run's images (``requested`` > ``config.data`` > ``default_folder`` > demo).

    An unwritable ``cache_dir`` is not an error: the images are decoded into RAM, with a note.
    Files that cannot be read are skipped with a ``warnings.warn`` that counts them.
    """
    source, notes = choose_source(requested or config.data or None, default_folder)
    if source == DEMO:
        n = config.n_samples or DEMO_DEFAULT_COUNT
        images = draw_faces(n, config.image_size, config.channels, seed=config.seed)
        return TrainingData(images, DEMO, notes)
    n_found = len(find_images(source)[0])  # a missing folder fails here, before any decoding
    cache = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        try:
            make_writable_folder(cache_dir)
            cache = cache_file(cache_dir, source, config, n_found)
        except OSError as err:
            notes.append(
                f"cannot write the image cache in {cache_dir} ({err.strerror}); decoding into "
                "RAM instead (choose a folder with --cache-dir)"
            )
    image_set = load_images(
        source, config.n_samples, config.image_size, config.channels,
        seed=config.seed, cache_path=cache, progress=progress,
    )  # fmt: skip
    mapped = getattr(image_set.images, "filename", None)
    where = f"; decoded copy memory-mapped from {mapped}" if mapped else ""
    notes.append(
        f"loaded {len(image_set.images)} of {image_set.n_found} images from {source} "
        f"({image_set.layout} layout{where})"
    )
    return TrainingData(image_set.images, str(Path(source).resolve()), notes)

