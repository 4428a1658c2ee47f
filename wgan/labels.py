"""Labels for image files: a class per sub-folder, or CelebA's 40 yes/no face attributes.

Conditional and semi-supervised GANs need a label for each image that `wgan.data.load_images`
decoded; these functions derive them from the same paths, so labels and images stay aligned
row for row. numpy only: labels are small, and parsing them needs no TensorFlow.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wgan.data import CELEBA_FOLDER, is_image_name, iter_image_files
from wgan.errors import ConfigError, DataError

ATTRIBUTE_FILE = "list_attr_celeba.txt"
# The Kaggle copy of CelebA ships the same table as CSV (celeba-dataset/README.md).
ATTRIBUTE_CSV = "list_attr_celeba.csv"
KINDS = ("class", "attributes")
_ON = frozenset({"1", "yes", "on", "true"})
_OFF = frozenset({"0", "-1", "no", "off", "false"})


@dataclass
class LabelSet:
    """One label per image, row-aligned with the images they describe."""

    values: np.ndarray  # int32 (N,) class indices, or float32 (N, A) of 0/1 per attribute
    names: list[str]  # class names in index order, or attribute names in column order
    kind: str  # "class" or "attributes"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"LabelSet kind must be 'class' or 'attributes', got {self.kind!r}")

    def __len__(self) -> int:
        return len(self.values)

    def frequencies(self) -> list[float]:
        """Share of each class, or share of images with each attribute (all 0 when empty)."""
        if len(self.values) == 0:
            return [0.0] * len(self.names)
        if self.kind == "class":
            counts = np.bincount(self.values, minlength=len(self.names))
            return (counts / len(self.values)).tolist()
        return np.asarray(self.values, dtype=np.float64).mean(axis=0).tolist()

    def subset(self, indices: np.ndarray | list[int]) -> LabelSet:
        """The labels of the images at `indices`, same names and kind."""
        return LabelSet(self.values[np.asarray(indices, dtype=np.int64)], self.names, self.kind)


# --- classes: one sub-folder per class ---------------------------------------------------------


def _holds_images(folder: Path) -> bool:
    """Whether any image file lies under folder; stops at the first (class folders can be big)."""
    return next(iter_image_files(folder), None) is not None


def class_folders(root: str | os.PathLike) -> list[str] | None:
    """Sorted class names when root follows Keras' image_dataset_from_directory layout, else None.

    The layout: at least 2 visible sub-folders holding images (searched recursively) and no
    images loose in root. Sub-folders without images (a cache, notes) are not classes.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        return None
    with os.scandir(root) as scan:
        entries = list(scan)
    if any(is_image_name(e.name) and e.is_file() for e in entries):
        return None
    names = sorted(
        e.name
        for e in entries
        if not e.name.startswith(".") and e.is_dir() and _holds_images(root / e.name)
    )
    return names if len(names) >= 2 else None


def class_labels(paths: list[Path], root: str | os.PathLike) -> LabelSet:
    """Class index of each path: the sub-folder of root it lies in (classes in sorted order)."""
    root = Path(root).expanduser()
    names = class_folders(root)
    if names is None:
        raise DataError(
            f"{root} has no class folders: use one sub-folder per class (like data/boots/*.jpg, "
            f"data/sandals/*.jpg), at least two, and no images directly in {root}"
        )
    index = {name: i for i, name in enumerate(names)}
    values = np.empty(len(paths), dtype=np.int32)
    for i, path in enumerate(paths):
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            raise DataError(f"image {path} is not inside the data folder {root}") from None
        if len(parts) < 2 or parts[0] not in index:
            raise DataError(
                f"image {path} is not in one of the class folders of {root} ({', '.join(names)})"
            )
        values[i] = index[parts[0]]
    return LabelSet(values, names, "class")


# --- attributes: CelebA's list_attr_celeba.txt -------------------------------------------------


def find_attribute_file(root: str | os.PathLike) -> Path | None:
    """The CelebA attribute table for a data folder: in root, or beside img_align_celeba/.

    Looks for the official list_attr_celeba.txt, then Kaggle's list_attr_celeba.csv, in root and,
    while the folder is named img_align_celeba (Kaggle nests it twice), in the folders above.
    """
    for folder in _attribute_folders(Path(root).expanduser()):
        for name in (ATTRIBUTE_FILE, ATTRIBUTE_CSV):
            if (folder / name).is_file():
                return folder / name
    return None


def _attribute_folders(root: Path) -> list[Path]:
    folders = [root]
    while folders[-1].name == CELEBA_FOLDER and len(folders) < 3:
        folders.append(folders[-1].parent)
    return folders


def read_attributes(path: str | os.PathLike) -> tuple[list[str], dict[str, np.ndarray]]:
    """Parse a CelebA attribute table: (attribute names, {image file name: int8 row of +-1}).

    The official .txt: line 1 the row count, line 2 the names, then `000001.jpg  -1  1 ...`
    (whitespace separated). Kaggle's .csv: a header `image_id,5_o_Clock_Shadow,...`, then rows.
    A truncated or damaged file fails here, naming the line, rather than mislabelling images.
    """
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the attribute file {path}: {error}") from error
    csv = path.suffix.lower() == ".csv"
    sep = "," if csv else None
    first = 1 if csv else 2  # index of the first data line
    if len(lines) < first:
        raise DataError(f"attribute file {path} is empty: download it again")
    expected = None
    if not csv:
        try:
            expected = int(lines[0].strip())
        except ValueError:
            raise DataError(
                f"{path} line 1: expected the number of images, got {lines[0][:40]!r}"
            ) from None
    header = lines[first - 1].split(sep)
    names = [n.strip() for n in (header[1:] if csv else header)]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise DataError(f"{path} line {first}: expected distinct attribute names, got a bad header")

    files: list[str] = []
    tokens: list[str] = []
    line_of: list[int] = []  # 1-based line number of each row, for messages
    for number, line in enumerate(lines[first:], start=first + 1):
        parts = line.split(sep)
        if not parts or (len(parts) == 1 and not parts[0].strip()):
            continue  # blank lines (a trailing newline, Windows editors)
        if len(parts) != len(names) + 1:
            raise DataError(
                f"{path} line {number}: expected a file name and {len(names)} values, "
                f"got {len(parts)} fields"
            )
        files.append(parts[0].strip())
        tokens.extend(parts[1:])
        line_of.append(number)
    if expected is not None and expected != len(files):
        raise DataError(
            f"{path} line 1 announces {expected} images but the file lists {len(files)}: "
            f"it is truncated or damaged, download it again"
        )
    table = _parse_values(path, tokens, len(names), line_of)
    return names, dict(zip(files, table, strict=True))


def _parse_values(path: Path, tokens: list[str], width: int, line_of: list[int]) -> np.ndarray:
    try:
        table = np.array(tokens, dtype=np.int8).reshape(-1, width)
        bad = ~np.isin(table, (-1, 1))
    except (ValueError, OverflowError):
        bad = None
    if bad is None or bad.any():
        row = _first_bad_row(tokens, width)
        raise DataError(f"{path} line {line_of[row]}: attribute values must be -1 or 1")
    return table


def _first_bad_row(tokens: list[str], width: int) -> int:
    for i, token in enumerate(tokens):
        if token.strip() not in ("-1", "1"):
            return i // width
    return 0


def attribute_labels(
    paths: list[Path], root: str | os.PathLike, wanted: list[str], flag: str = "--attributes"
) -> LabelSet:
    """The `wanted` attributes of each image, 1.0 where CelebA says yes (1) and 0.0 for no (-1).
    ``flag`` is the option the errors name (CycleGAN's domains: --domain-a/--domain-b)."""
    root = Path(root).expanduser()
    if not wanted:
        raise ConfigError(f"{flag} needs at least one attribute name, like Smiling,Male")
    path = find_attribute_file(root)
    if path is None:
        where = " and ".join(str(f) for f in _attribute_folders(root))
        raise DataError(
            f"no {ATTRIBUTE_FILE} in {where}: {flag} needs the official "
            f"{ATTRIBUTE_FILE} (or Kaggle's {ATTRIBUTE_CSV}) beside {CELEBA_FOLDER}/"
        )
    names, table = read_attributes(path)
    columns = []
    for name in wanted:
        if name not in names:
            raise DataError(
                f"unknown attribute {name!r} in {flag}{_did_you_mean(name, names)}; "
                f"{path.name} has: {', '.join(names)}"
            )
        columns.append(names.index(name))
    missing = [Path(p).name for p in paths if Path(p).name not in table]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(paths)} images are not in {path} (first: {missing[0]}): "
            f"use the {CELEBA_FOLDER} images that file describes, or drop {flag}"
        )
    rows = np.stack([table[Path(p).name] for p in paths]) if paths else np.empty((0, len(names)))
    values = (rows[:, columns] == 1).astype(np.float32).reshape(len(paths), len(columns))
    return LabelSet(values, list(wanted), "attributes")


def _did_you_mean(name: str, names: list[str]) -> str:
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    return f" (did you mean {lower[close[0]]}?)" if close else ""


def parse_attribute_list(text: str) -> list[str]:
    """--attributes "Smiling, Male" -> ["Smiling", "Male"]: names in the user's order."""
    names = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ConfigError(
            f"--attributes needs comma-separated attribute names like Smiling,Male, got {text!r}"
        )
    for name in names:
        if any(c.isspace() for c in name):
            raise ConfigError(f"--attributes: {name!r} is not one name; separate names by commas")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"--attributes names {', '.join(duplicates)} more than once")
    return names


def parse_attribute_values(text: str, names: list[str]) -> dict[str, float]:
    """generate.py's --attributes "Smiling=1,Eyeglasses=0" -> {"Smiling": 1.0, "Eyeglasses": 0.0}.

    Values: 1/yes/on/true turn an attribute on; 0/-1/no/off/false off (-1 is CelebA's "no").
    """
    values: dict[str, float] = {}
    form = "NAME=1|0 items separated by commas, like Smiling=1,Eyeglasses=0"
    if not text.strip():
        raise ConfigError(f"--attributes needs {form}")
    for item in text.split(","):
        name, sep, value = (s.strip() for s in item.partition("="))
        value = value.lower()
        if not sep or not name or value not in _ON | _OFF:
            raise ConfigError(f"--attributes: {item.strip()!r} is not NAME=1|0; expected {form}")
        if name not in names:
            raise ConfigError(
                f"--attributes: unknown attribute {name!r}{_did_you_mean(name, names)}; "
                f"this model knows: {', '.join(names)}"
            )
        if name in values:
            raise ConfigError(f"--attributes sets {name} more than once")
        values[name] = 1.0 if value in _ON else 0.0
    return values


# --- semi-supervised: which examples keep their labels ----------------------------------------


def balanced_subset(values: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of n labelled examples, as class-balanced as n allows.

    Each class present gets n // K; the n % K left over go to distinct classes picked with the
    seed, so the same seed always labels the same examples. Balance matters: a semi-supervised
    critic learns the classes from these few, and a missing class is never learnt.
    """
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ConfigError(
            f"balanced_subset needs (N,) integer class indices, got {values.dtype} {values.shape}"
        )
    classes, counts = np.unique(values, return_counts=True)
    k = len(classes)
    if int(n) != n or n < max(k, 1):
        raise ConfigError(
            f"--labelled {n} is fewer than the {k} classes: label at least one image per class"
        )
    if n > len(values):
        raise ConfigError(
            f"--labelled {n} is more than the {len(values)} images loaded: lower it, or load "
            f"more with --n-samples"
        )
    share, extra = divmod(int(n), k)
    short = counts < share
    if short.any():
        i = int(np.argmax(short))
        raise ConfigError(
            f"--labelled {n} needs {share} images of each of the {k} classes but class "
            f"{classes[i]} has only {counts[i]}: lower --labelled to at most {k * counts.min()}"
        )
    rng = np.random.default_rng(seed)
    spare = np.flatnonzero(counts > share)  # classes that can give one more
    if extra > len(spare):
        raise ConfigError(
            f"--labelled {n}: only {len(spare)} classes have more than {share} images, too few to "
            f"place the {extra} left over; use a multiple of {k}, like {k * share}"
        )
    takes = np.full(k, share)
    takes[rng.choice(spare, size=extra, replace=False)] += 1
    picked = [
        rng.choice(np.flatnonzero(values == c), size=take, replace=False)
        for c, take in zip(classes, takes, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)
