"""Where an image-to-image run's images come from: pairs for Pix2Pix, two domains for CycleGAN.

Paired data: one file per pair with input and target side by side (the public pix2pix data
sets), two folders ``A/`` and ``B/`` whose files match by name, or edge maps made from any
image folder (OpenCV's Canny: ``--pairs edges``). Unpaired data: two folders (``trainA/`` and
``trainB/``, ``A/`` and ``B/``, or the two named by ``--domain-a``/``--domain-b``), or a CelebA
attribute split of one folder (``--domain-a Blond_Hair --domain-b Black_Hair``; a face with
both attributes belongs to neither). With no data, the built-in demo faces make both tasks:
edges -> face, and blond -> black hair. A seeded share of each is held out for the grids and
the metrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wgan.classifier import split_held_out
from wgan.config import TrainConfig
from wgan.data import decode_files, find_images, image_header, load_images, select_files
from wgan.demo_faces import draw_faces
from wgan.errors import ConfigError, DataError
from wgan.labels import find_attribute_file
from wgan.translation import EDGES

DEMO_DOMAINS = ("blond", "black")  # hair palettes of the demo faces (wgan.demo_faces)
UNPAIRED_FOLDERS = (("trainA", "trainB"), ("A", "B"))
PAIRED_FOLDERS = ("A", "B")
_NAMED = 3  # examples a warning names


@dataclass
class Domains:
    """The images of both sides, split into training and held-out sets (uint8, N x H x W x C).

    Paired: ``train_a[i]`` and ``train_b[i]`` are one pair (and so are the held-out ones).
    """

    train_a: np.ndarray
    train_b: np.ndarray
    test_a: np.ndarray
    test_b: np.ndarray
    paired: bool
    names: tuple[str, str]  # what A and B are, for people: ("edges", "photo"), ("Blond_Hair", ...)

    @property
    def epoch_length(self) -> int:
        """Training examples in one epoch: the pairs, or a pass over the larger domain (see
        ``wgan.data.make_pair_dataset``)."""
        return len(self.train_a) if self.paired else max(len(self.train_a), len(self.train_b))

    def describe(self) -> str:
        kind = "pairs" if self.paired else "images"
        a, b = self.names
        if self.paired:
            return (f"{len(self.train_a)} {a} -> {b} pairs for training, {len(self.test_a)} held "
                    "out")  # fmt: skip
        return (f"{a}: {len(self.train_a)} {kind}, {b}: {len(self.train_b)} for training; "
                f"{len(self.test_a)} and {len(self.test_b)} held out")  # fmt: skip

    def swapped(self) -> Domains:
        """B -> A (``--direction BtoA``)."""
        return Domains(self.train_b, self.train_a, self.test_b, self.test_a, self.paired,
                       self.names[::-1])  # fmt: skip


def edge_maps(images: np.ndarray) -> np.ndarray:
    """Canny edges of each image as dark lines on white (the edges2* data sets' look), with the
    images' channels. Thresholds follow each image's median grey (0.67x and 1.33x it), so
    light and dark faces both give lines; uint8 in, uint8 out."""
    import cv2

    images = np.asarray(images)
    out = np.empty(images.shape, np.uint8)
    for i, image in enumerate(images):
        grey = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(
            np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)  # fmt: skip
        median = float(np.median(grey))
        edges = cv2.Canny(grey, int(max(0, 0.67 * median)), int(min(255, 1.33 * median)))
        out[i] = (255 - edges)[..., None]
        if image.shape[-1] == 4:
            out[i, ..., 3] = 255
    return out


def _split(n: int, config: TrainConfig, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return split_held_out(n, config.held_out, config.seed + salt)


def _paired(a: np.ndarray, b: np.ndarray, config: TrainConfig, names) -> Domains:
    train, test = _split(len(a), config)
    return Domains(a[train], b[train], a[test], b[test], True, names)


def _unpaired(a: np.ndarray, b: np.ndarray, config: TrainConfig, names) -> Domains:
    for side, images in zip(names, (a, b), strict=True):
        if len(images) < 2:
            raise DataError(f"domain {side} has {len(images)} images: each domain needs at "
                            "least 2 (one to train on, one held out)")  # fmt: skip
    train_a, test_a = _split(len(a), config)
    train_b, test_b = _split(len(b), config, salt=1)
    return Domains(a[train_a], b[train_b], a[test_a], b[test_b], False, names)


def demo_domains(config: TrainConfig) -> Domains:
    """The built-in tasks: edges -> face (Pix2Pix), blond -> black hair (CycleGAN)."""
    n = config.n_samples or 3000
    size, channels, seed = config.image_size, config.channels, config.seed
    if config.model == "pix2pix":
        faces = draw_faces(n, size, channels, seed=seed)
        return _paired(edge_maps(faces), faces, config, (EDGES, "face"))
    a = draw_faces(n, size, channels, seed=seed, hair=DEMO_DOMAINS[0])
    b = draw_faces(n, size, channels, seed=seed + 1, hair=DEMO_DOMAINS[1])
    return _unpaired(a, b, config, tuple(f"{hair} hair" for hair in DEMO_DOMAINS))


Loader = Callable[..., np.ndarray]


def folder_domains(config: TrainConfig, folder: Path, load: Loader, notes: list[str]) -> Domains:
    """The pairs or domains in ``folder``. ``load(path, n_samples=..., **kw)`` decodes an image
    folder (through the cache); ``notes`` collects what the user should be told."""
    if config.model == "pix2pix":
        if config.pairs == EDGES:
            photos = load(folder, n_samples=config.n_samples)
            notes.append(f"edge maps (OpenCV Canny) made from {len(photos)} images of {folder}")
            return _paired(edge_maps(photos), photos, config, (EDGES, folder.name))
        if all((folder / name).is_dir() for name in PAIRED_FOLDERS):
            a, b = matched_pairs(config, folder, load)
            return _paired(a, b, config, PAIRED_FOLDERS)
        pairs = load(folder, n_samples=config.n_samples, side_by_side=True)
        half = config.channels
        a, b = pairs[..., :half], pairs[..., half:]
        return _paired(np.ascontiguousarray(a), np.ascontiguousarray(b), config, ("A", "B"))
    if config.domain_a or config.domain_b:
        if not (config.domain_a and config.domain_b):
            raise ConfigError("give both --domain-a and --domain-b (two attributes or two "
                              "sub-folders)")  # fmt: skip
        if find_attribute_file(folder) is not None and not (folder / config.domain_a).is_dir():
            return attribute_domains(config, folder, load, notes)
        pair = (config.domain_a, config.domain_b)
    else:
        pair = next((p for p in UNPAIRED_FOLDERS if all((folder / n).is_dir() for n in p)), None)
        if pair is None:
            raise DataError(
                f"{folder} has no trainA/ and trainB/ (or A/ and B/) folders: put each domain's "
                "images in one, or name them with --domain-a and --domain-b (sub-folders, or "
                "CelebA attributes with list_attr_celeba.txt)"
            )
    sides = []
    for name in pair:
        if not (folder / name).is_dir():
            raise DataError(f"no folder {folder / name}: --domain-a and --domain-b name "
                            f"sub-folders of {folder} or CelebA attributes")  # fmt: skip
        sides.append(load(folder / name, n_samples=config.n_samples))
    return _unpaired(*sides, config, pair)


def attribute_domains(config: TrainConfig, folder: Path, load: Loader, notes: list[str]) -> Domains:
    """Faces with attribute A and without B, and with B and without A (CelebA's table)."""
    from wgan.labels import attribute_labels

    wanted = [config.domain_a, config.domain_b]
    paths = find_images(folder)[0]
    values = attribute_labels(paths, folder, wanted, "--domain-a/--domain-b").values
    only_a = np.flatnonzero((values[:, 0] == 1) & (values[:, 1] == 0))
    only_b = np.flatnonzero((values[:, 1] == 1) & (values[:, 0] == 0))
    both = int(np.sum((values[:, 0] == 1) & (values[:, 1] == 1)))
    for name, rows in zip(wanted, (only_a, only_b), strict=True):
        if len(rows) < 2:
            raise DataError(f"only {len(rows)} images of {folder} have {name} alone: choose "
                            "attributes that split the faces")  # fmt: skip
    images, kept = load(folder, n_samples=0, paths=True)
    position = {path: i for i, path in enumerate(kept)}
    sides = []
    for rows in (only_a, only_b):
        rows = [position[paths[r]] for r in rows if paths[r] in position]
        if 0 < config.n_samples < len(rows):
            rows = np.sort(np.random.default_rng(config.seed).choice(
                rows, config.n_samples, replace=False))  # fmt: skip
        sides.append(np.asarray(images[np.asarray(rows, dtype=np.intp)]))
    notes.append(f"{config.domain_a} and not {config.domain_b}: {len(sides[0])} faces; "
                 f"{config.domain_b} and not {config.domain_a}: {len(sides[1])}; "
                 f"{both} with both belong to neither")  # fmt: skip
    return _unpaired(*sides, config, tuple(wanted))


def matched_pairs(config: TrainConfig, folder: Path, load: Loader) -> tuple[np.ndarray, np.ndarray]:
    """A/ and B/ files that match by name (without the suffix); a name without a partner, or
    a pair whose images differ in size, is skipped and counted in one warning."""
    roots = [folder / name for name in PAIRED_FOLDERS]
    listed = [{_key(p, root): p for p in find_images(root)[0]} for root in roots]
    lonely = sorted(set(listed[0]) ^ set(listed[1]))
    keys = sorted(set(listed[0]) & set(listed[1]))
    if not keys:
        raise DataError(
            f"no pairs in {folder}: none of the {len(listed[0])} names in A/ has a partner in "
            "B/ (pairs match by file name). For unpaired domains use --preset cyclegan; to "
            "make edge maps from one folder of images use --pairs edges"
        )
    mismatched = [k for k in keys if image_size(listed[0][k]) != image_size(listed[1][k])]
    keys = [k for k in keys if k not in set(mismatched)]
    if not keys:
        raise DataError(f"no readable pairs in {folder}: the images of all {len(mismatched)} "
                        f"pairs differ in size (e.g. {mismatched[0]}); give each pair's two "
                        "images one size")  # fmt: skip
    if 0 < config.n_samples < len(keys):
        picked = np.random.default_rng(config.seed).choice(len(keys), config.n_samples,
                                                           replace=False)  # fmt: skip
        keys = [keys[i] for i in np.sort(picked)]
    sides = []
    for root, files in zip(roots, listed, strict=True):
        images, kept = load(root, files=[files[k] for k in keys], paths=True)
        sides.append(({_key(p, root) for p in kept}, images, kept))
    both = sides[0][0] & sides[1][0]
    unreadable = len(keys) - len(both)
    chosen = []
    for root, (_, images, kept) in zip(roots, sides, strict=True):
        rows = [i for i, p in enumerate(kept) if _key(p, root) in both]
        chosen.append(np.asarray(images[np.asarray(rows, dtype=np.intp)]))
    if lonely or mismatched:
        named = ", ".join([*lonely, *mismatched][:_NAMED])
        warnings.warn(
            f"skipped {len(lonely) + len(mismatched) + unreadable} pairs in {folder}: "
            f"{len(lonely)} names without a partner, {len(mismatched)} pairs whose images "
            f"differ in size, {unreadable} unreadable (e.g. {named})",
            stacklevel=2,
        )
    if not len(chosen[0]):
        raise DataError(f"no readable pairs in {folder}")
    return chosen[0], chosen[1]


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None when it cannot be read."""
    header = image_header(path)
    return None if header is None else header[0]


def image_loader(
    config: TrainConfig, cache_dir: Path | None, progress=None
) -> Loader:
    """``load(folder, n_samples=0, files=None, side_by_side=False, paths=False)``: decoded
    images of a folder (or of the given ``files`` in it) through the run's image cache."""
    from wgan.sources import cache_file

    def load(folder, n_samples=0, files=None, side_by_side=False, paths=False):
        folder = Path(folder)
        if files is None and not side_by_side:
            cache = None
            if cache_dir is not None:
                found_n = len(find_images(folder)[0])
                cache = cache_file(cache_dir, folder, _sampled(config, n_samples), found_n)
            found = load_images(folder, n_samples, config.image_size, config.channels,
                                seed=config.seed, cache_path=cache, progress=progress)  # fmt: skip
        else:
            listed, layout = find_images(folder)
            selected = files if files is not None else select_files(listed, n_samples,
                                                                   config.seed)  # fmt: skip
            if side_by_side:
                _check_side_by_side(folder, selected)
            cache = None
            if cache_dir is not None:
                base = cache_file(cache_dir, folder, _sampled(config, n_samples), len(listed))
                tag = "pairs" if side_by_side else f"{len(selected)}-matched"
                cache = base.with_name(f"{base.stem}-{tag}{base.suffix}")
            found = decode_files(folder, selected, layout, config.image_size, config.channels,
                                 cache, progress, n_found=len(listed),
                                 side_by_side=side_by_side)  # fmt: skip
        return (found.images, found.paths) if paths else found.images

    return load


def _sampled(config: TrainConfig, n_samples: int) -> TrainConfig:
    from dataclasses import replace

    return replace(config, n_samples=n_samples)


def _check_side_by_side(folder: Path, files: list[Path]) -> None:
    """One line for a folder that does not hold side-by-side pairs (judged on a few files)."""
    if not files:
        raise DataError(f"no images in {folder}")
    sizes = [s for s in (image_size(p) for p in files[:8]) if s is not None]
    if sizes and not any(w == 2 * h for w, h in sizes):
        w, h = sizes[0]
        raise DataError(
            f"{folder} does not hold side-by-side pairs ({files[0].name} is {w}x{h}, not twice "
            "as wide as tall): give pairs as one image per pair, or A/ and B/ folders whose "
            "files match by name; --pairs edges makes edge maps from plain images, and "
            "--preset cyclegan trains on unpaired folders"
        )
