"""Real images: find them, decode them once into uint8, and feed them to training with tf.data.

Pixels stay uint8 in [0, 255] everywhere in this module, so a whole data set costs one byte per
value (and can live in a memory-mapped file). The models see floats in [-1, 1]: the train step
applies `to_float(x) = x / 127.5 - 1`, and `to_uint8` undoes it for grids and metrics.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import mmap
import os
import re
import stat
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from wgan.errors import ConfigError, DataError

# An animated GIF or WebP gives its first frame, a multi-page TIFF its first page.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
CELEBA_FOLDER = "img_align_celeba"
CELEBA_LAYOUTS = frozenset({"celeba", "celeba-nested"})
# The aligned CelebA images are 178x218; the customary face crop is their central 108x108.
CELEBA_SIZE = (178, 218)
CELEBA_CROP = 108
# Transparent pixels are shown over white when alpha has to go (3 or 1 output channels).
ALPHA_BACKGROUND = (255, 255, 255)
# Bump when the decoded pixels for the same files would change, so old caches are rebuilt.
CACHE_FORMAT = 2
# EXIF orientation tag values -> the transpose that shows the picture upright.
_EXIF_ORIENTATION = 0x0112
_EXIF_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_CHUNK = 32  # images per decoding task: small enough for smooth progress, large enough to be cheap
# Bytes of a memmap read between two releases of its pages from this process (see _PageRelease).
_RELEASE_EVERY = 64 * 2**20
_NAMED_FAILURES = 3  # how many skipped files a warning names
# Why a file is skipped, in the order the one summary warning counts them.
SKIP_REASONS = (
    "empty", "truncated", "corrupt", "not an image", "too large", "vanished", "broken link",
    "not a file", "no permission", "not a pair", "unreadable",
)  # fmt: skip
# Opening a named pipe for reading waits for a writer; opened non-blocking it returns at once
# (and is then refused as not a file). Reads of a regular file are not affected.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
# Batches gathered at once and kept ready. Gathering rows is a memory copy far faster than a
# training step, so two are plenty; fixed, because tf.data's autotuning stalls here: deleting
# an epoch's iterator waits for the autotuner's thread to end its sleep, up to seconds
# (measured: 8-57 s before the first step of many epochs at 64x64; none with it off).
PIPELINE_PARALLELISM = 2
_PIPELINE_OPTIONS = tf.data.Options()
_PIPELINE_OPTIONS.autotune.enabled = False


@dataclass
class ImageSet:
    """Decoded images and where they came from (enough to explain a run and to rebuild it)."""

    images: np.ndarray  # uint8 (N, H, W, C); a read-only np.memmap when loaded with a cache
    paths: list[Path]  # the files behind images[i], in the same order
    n_found: int  # image files found under root
    n_skipped: int  # files tried that could not be decoded (replacements included)
    layout: str  # "celeba", "celeba-nested" or "folder"
    root: Path


def find_images(root: str | os.PathLike) -> tuple[list[Path], str]:
    """List the image files of a data set folder, recognising the CelebA layouts users download.

    CelebA images get the CelebA face crop later, so the layout matters; anything else is a plain
    folder searched recursively (hidden files and folders skipped). The list is sorted. Every
    entry with an image name that is not a folder is listed, broken links and named pipes
    included, so that decoding skips it with its reason in the one warning; a folder named like
    an image (``x.jpg/``) is searched like any other folder.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(
            f"data folder {root} does not exist: put images there (for CelebA, unzip "
            f"img_align_celeba.zip into it; see celeba-dataset/README.md) or pass another --data"
        )
    if not root.is_dir():
        raise DataError(f"data path {root} is not a folder: pass the folder that holds the images")

    for folder, layout in (
        (root / CELEBA_FOLDER / CELEBA_FOLDER, "celeba-nested"),
        (root / CELEBA_FOLDER, "celeba"),
    ):
        if folder.is_dir():
            files = _list_folder(folder)
            if files:
                return files, layout
    if root.name == CELEBA_FOLDER:
        files = _list_folder(root)
        if files:
            return files, "celeba"
    return _walk(root), "folder"


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _list_folder(folder: Path) -> list[Path]:
    """The image-named entries of one folder that are not folders (as os.walk lists them)."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if is_image_name(e.name) and not e.is_dir())
    except OSError as error:
        raise DataError(f"cannot list the images in {folder}: {error.strerror or error}") from None
    return [folder / name for name in names]


def iter_image_files(root: str | os.PathLike) -> Iterator[Path]:
    """Image files under root, folder by folder (hidden ones skipped, symlink loops cut): lazy,
    so a caller that needs only the first stops there. Broken links are listed (decoding skips
    them with their reason); folders named like images are searched."""
    seen: set[str] = set()  # real paths of visited folders, so symlink loops end
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames.clear()
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        yield from (Path(dirpath) / f for f in filenames if is_image_name(f))


def _walk(root: Path) -> list[Path]:
    return sorted(iter_image_files(root), key=lambda p: p.relative_to(root).as_posix())


def load_images(
    root: str | os.PathLike,
    n_samples: int = 3000,
    image_size: int = 64,
    channels: int = 3,
    seed: int | None = None,
    cache_path: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """Decode a (seeded, random) sample of the images under root into one uint8 array.

    n_samples=0 loads every image; otherwise n_samples *usable* images: a sampled file that
    cannot be read is replaced by one drawn (seeded) from the files not sampled, until there
    are n_samples or no files are left. Each image is cropped (CelebA: the central face
    square; otherwise the centre square), resized to image_size and converted to `channels`
    (1, 3 or 4). Decoding runs once, in threads. With cache_path the array is a memory-mapped
    file there, reused by later calls for the same files, size and channels, so full CelebA
    need not fit in RAM and is decoded only once (the cache is keyed by the sampled files, so
    give a seed, or n_samples=0, to reuse it). `progress(done, total)` is called as files are
    decoded. Files that cannot be used are skipped, counted by reason in one warning.
    """
    _check_load_args(n_samples, image_size, channels)
    root = Path(root).expanduser()
    found, layout = find_images(root)
    if not found:
        raise DataError(f"no images ({_extensions()}) found in {root}{_zip_hint(root)}")

    selected, spares = _draw(found, n_samples, seed)
    if 0 < len(found) < n_samples:
        warnings.warn(
            f"asked for {n_samples} images but {root} has only {len(found)}: using all of them",
            stacklevel=2,
        )
    return decode_files(root, selected, layout, image_size, channels, cache_path, progress,
                        n_found=len(found), spares=spares)  # fmt: skip


def decode_files(
    root: Path,
    selected: list[Path],
    layout: str,
    image_size: int,
    channels: int,
    cache_path: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    n_found: int | None = None,
    side_by_side: bool = False,
    spares: Sequence[Path] = (),
) -> ImageSet:
    """Decode ``selected`` files (under ``root``) as ``load_images`` does, skipping the ones
    that cannot be used and counting them by reason in one warning.

    Each skipped file is replaced by the next of ``spares`` (in their order) that can be
    read, until there are len(selected) images or no spares are left; without spares a
    skipped file is simply missing (matched pairs must stay matched). ``paths`` then lists
    the file behind each row: the readable selected files in their order, then the
    replacements in theirs. ``side_by_side``: each file holds a pair, its left and right
    halves (the pix2pix data sets' format); each comes out as (H, W, 2C), left half first,
    and a file whose halves differ in size is skipped like an unreadable one."""
    root = Path(root)
    candidates = [*selected, *spares]
    crop_celeba = layout in CELEBA_LAYOUTS
    depth = 2 * channels if side_by_side else channels
    shape = (len(selected), image_size, image_size, depth)
    decode = (_PairDecoder if side_by_side else _Decoder)(image_size, channels, crop_celeba)
    crop = "side-by-side" if side_by_side else ("celeba" if crop_celeba else "centre-square")

    if cache_path is None:
        images = np.empty(shape, dtype=np.uint8)
        kept, skipped = _decode_filling(candidates, images, decode, progress)
        if not kept:
            raise _nothing_readable(root, candidates, skipped)
        if len(kept) < len(images):
            images = images[: len(kept)]
    else:
        cache = _Cache(Path(cache_path).expanduser(), root, layout, candidates, shape, crop)
        images, kept, skipped = cache.load(decode, progress)

    if skipped:
        _warn_skipped(root, candidates, len(selected), kept, skipped)
    paths = [candidates[i] for i in kept]
    n_found = len(candidates) if n_found is None else n_found
    return ImageSet(images, paths, n_found, len(skipped), layout, root)


def _check_load_args(n_samples: int, image_size: int, channels: int) -> None:
    if int(n_samples) != n_samples or n_samples < 0:
        raise ConfigError(f"n_samples must be 0 (all images) or a positive count, got {n_samples}")
    if int(image_size) != image_size or image_size < 1:
        raise ConfigError(f"image_size must be a positive number of pixels, got {image_size}")
    if channels not in (1, 3, 4):
        raise ConfigError(f"channels must be 1 (grey), 3 (RGB) or 4 (RGBA), got {channels}")


def _extensions() -> str:
    return ", ".join(sorted(e[1:] for e in IMAGE_EXTENSIONS))


def _zip_hint(root: Path) -> str:
    zips = sorted(p.name for p in root.glob("*.zip"))
    return f" (found {zips[0]}: unzip it here first)" if zips else ""


def select_files(found: list[Path], n_samples: int, seed: int | None) -> list[Path]:
    """A seeded sample of ``n_samples`` of ``found`` (all for 0), in file order."""
    return _draw(found, n_samples, seed)[0]


def _draw(found: list[Path], n_samples: int, seed: int | None) -> tuple[list[Path], list[Path]]:
    """(``select_files``' sample, the other files in the seeded order replacements come in).

    The sample is drawn first, from the same generator, so it is the one ``select_files``
    gives: spares change nothing for a folder whose sampled files all decode.
    """
    if n_samples == 0 or n_samples >= len(found):
        return list(found), []
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(found), size=n_samples, replace=False))
    rest = np.setdiff1d(np.arange(len(found)), picked, assume_unique=True)
    # file order for the sample: reproducible and disk-friendly
    return [found[i] for i in picked], [found[i] for i in rng.permutation(rest)]


class _Skip(Exception):
    """A file that cannot be used, with the short reason the summary warning counts it under."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@contextlib.contextmanager
def _open_image(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` for Pillow, refusing before any pixel is decoded what is not worth it: a
    folder, pipe or device, an empty file, and an image above Pillow's pixel limit (a
    decompression bomb: its header is read, its pixels never are, so memory stays bounded)."""
    fd = os.open(path, _OPEN_FLAGS)
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Skip("not a file", _file_kind(info.st_mode))
        if info.st_size == 0:
            raise _Skip("empty", "0 bytes")
        with Image.open(file) as im:
            width, height = im.size
            limit = Image.MAX_IMAGE_PIXELS
            if limit and width * height > limit:
                raise _Skip("too large", f"{width}x{height} pixels, {_above_limit()}")
            if width < 1 or height < 1:
                raise _Skip("corrupt", f"its header says {width}x{height} pixels")
            yield im


def image_header(path: str | os.PathLike) -> tuple[tuple[int, int], str] | None:
    """((width, height), mode) from an image file's header, refusing what decoding refuses
    (a pipe, an empty file, a decompression bomb) without reading pixels; None when the file
    cannot be used."""
    try:
        with _open_image(Path(path)) as im:
            return im.size, im.mode
    except (_Skip, OSError, ValueError, Image.DecompressionBombError):
        return None


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _above_limit() -> str:
    return f"above PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}"


def _exif_turn(im: Image.Image) -> Image.Transpose | None:
    """The transpose that shows a picture upright, from its EXIF orientation; None when it has
    none, or when the EXIF cannot be read (a picture is worth more than its metadata). Call
    it on a loaded image (or a JPEG, whose EXIF is read without loading): some formats load
    the pixels to find the EXIF, and their errors must not pass for EXIF errors."""
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF in an otherwise good picture
        return None
    return _EXIF_TURNS.get(orientation) if isinstance(orientation, int) else None


class _Decoder:
    """Turns one file into an (H, W, C) uint8 array; holds only settings, so threads share it."""

    def __init__(self, image_size: int, channels: int, crop_celeba: bool):
        self.size = image_size
        self.channels = channels
        self.crop_celeba = crop_celeba

    def __call__(self, path: Path) -> np.ndarray:
        with _open_image(path) as im:
            if im.format not in ("JPEG", "MPO"):  # a JPEG waits: draft() must come first
                im.load()  # so that load errors surface here, not in getexif (PNG's loads)
            turn = _exif_turn(im)
            box = self._draft(im, self._crop_box(im.size))
            im = _normalise_mode(im, self.channels)
            im = im.resize(
                (self.size, self.size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0
            )
            if turn is not None:  # phone photos: stored sideways, shown upright
                im = im.transpose(turn)
            if self.channels == 4 and im.mode != "RGBA":
                im = im.convert("RGBA")
            pixels = np.asarray(im, dtype=np.uint8)
        return pixels.reshape(self.size, self.size, self.channels)

    def _crop_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        w, h = size
        if self.crop_celeba:  # the 108x108 face square, scaled for other resolutions
            side = CELEBA_CROP * min(w / CELEBA_SIZE[0], h / CELEBA_SIZE[1])
        else:
            side = min(w, h)
        return ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)

    def _draft(self, im: Image.Image, box: tuple[float, ...]) -> tuple[float, ...]:
        """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the crop stays >= the target size."""
        w, h = im.size
        side = box[2] - box[0]
        want = (math.ceil(w * self.size / side), math.ceil(h * self.size / side))
        mode = "L" if self.channels == 1 else im.mode
        drafted = im.draft(mode, want)  # None for formats other than JPEG
        if drafted is None:
            return box
        scale = drafted[1][2] / w
        return tuple(v * scale for v in box)


class _PairDecoder(_Decoder):
    """One side-by-side pair file -> (H, W, 2C): the left half's channels, then the right's."""

    def __call__(self, path: Path) -> np.ndarray:
        with _open_image(path) as im:
            im.load()
            w, h = im.size
            if w % 2:
                raise _Skip("not a pair", f"{w}x{h} is not two equal halves")
            halves = [im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))]
        return np.concatenate([self._square(half) for half in halves], axis=-1)

    def _square(self, im: Image.Image) -> np.ndarray:
        im = _normalise_mode(im, self.channels)
        im = im.resize((self.size, self.size), Image.Resampling.LANCZOS,
                       box=self._crop_box(im.size), reducing_gap=3.0)  # fmt: skip
        if self.channels == 4 and im.mode != "RGBA":
            im = im.convert("RGBA")
        return np.asarray(im, dtype=np.uint8).reshape(self.size, self.size, self.channels)


def _normalise_mode(im: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL mode to L, RGB or RGBA before resizing (P and 1 can only resize nearest).

    Deep grey (16-bit, 32-bit integer, float) is scaled into 0..255 by what its mode can hold,
    not clipped: a 16-bit PNG would otherwise come out nearly all white.
    """
    if im.mode in ("I", "F") or im.mode.startswith("I;"):
        im = Image.fromarray(_deep_to_uint8(im), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("PA", "LA", "La", "RGBa"):  # alpha in another shape: one path for all
        im = im.convert("RGBA")
    if im.mode == "RGBA" and channels == 4:
        return im
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, ALPHA_BACKGROUND)
        background.paste(im.convert("RGB"), mask=im.getchannel("A"))
        im = background
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def _deep_to_uint8(im: Image.Image) -> np.ndarray:
    """Grey deeper than 8 bits -> uint8: 16-bit modes by 65535, floats in [0, 1] by 1, other
    values by the largest that fits them (255, 65535, or their own maximum)."""
    values = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(values.max(initial=0))
    if im.mode.startswith("I;16"):
        full = 65535.0
    elif im.mode == "F" and top <= 1.0:
        full = 1.0
    else:
        full = 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
    return np.clip(values * (255.0 / full) + 0.5, 0, 255).astype(np.uint8)


def _decode_filling(
    candidates: Sequence[Path],
    out: np.ndarray,
    decode: Callable[[Path], np.ndarray],
    progress: Callable[[int, int], None] | None,
) -> tuple[list[int], list[tuple[int, tuple[str, str]]]]:
    """Fill ``out``'s rows from ``candidates``: the first len(out) of them, then, for each one
    that fails, the next, until ``out`` is full or the candidates run out. Good rows are moved
    to the front. Returns (the candidate behind each filled row; the skipped candidates with
    their (reason, detail), in the order they were tried)."""
    kept: list[int] = []
    skipped: list[tuple[int, tuple[str, str]]] = []
    start, end = 0, min(len(out), len(candidates))
    while start < end:
        rows = out[len(kept) : len(kept) + end - start]
        done_before, total = len(kept) + len(skipped), len(out) + len(skipped)
        report = None if progress is None else _offset(progress, done_before, total)
        failed = _decode_all(candidates[start:end], rows, decode, report)
        if failed:
            _compact(rows, failed)
        kept += [start + i for i in range(end - start) if i not in failed]
        skipped += [(start + i, reason) for i, reason in failed.items()]
        start, end = end, min(end + len(failed), len(candidates))
    return kept, skipped


def _offset(progress: Callable[[int, int], None], before: int, total: int) -> Callable:
    """``progress`` for one round of decoding: its counts follow the rounds before it."""
    return lambda done, _: progress(before + done, total)


def _decode_all(
    paths: Sequence[Path],
    out: np.ndarray,
    decode: Callable[[Path], np.ndarray],
    progress: Callable[[int, int], None] | None,
) -> dict[int, tuple[str, str]]:
    """Decode paths[i] into out[i] in threads (PIL releases the GIL); return {i: reason}."""

    def work(start: int) -> dict[int, tuple[str, str]]:
        failed = {}
        for i in range(start, min(start + _CHUNK, len(paths))):
            try:
                out[i] = decode(paths[i])
            except Exception as error:  # any file can be garbage; the caller reports them all
                failed[i] = _reason(paths[i], error)
        return failed

    failed: dict[int, tuple[str, str]] = {}
    total = len(paths)
    workers = max(2, min(4, os.cpu_count() or 2))
    with warnings.catch_warnings():
        # Pillow's notes on the metadata of files it decodes anyway (corrupt EXIF, odd TIFF
        # tags) would be warnings beside the one summary: the pictures are fine, so drop them.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        # Pillow only warns about an image between its pixel limit and twice it, and then
        # decodes it: an error instead, so it is skipped like the larger ones, in the summary.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with ThreadPoolExecutor(workers, thread_name_prefix="wgan-decode") as pool:
            for start, chunk_failed in zip(
                range(0, total, _CHUNK), pool.map(work, range(0, total, _CHUNK)), strict=True
            ):
                failed.update(chunk_failed)
                if progress is not None:
                    progress(min(start + _CHUNK, total), total)
    return dict(sorted(failed.items()))


def _reason(path: Path, error: Exception) -> tuple[str, str]:
    """(one of SKIP_REASONS, a short detail) for a file that failed with ``error``."""
    if isinstance(error, _Skip):
        return error.reason, error.detail
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(claimed[1]):,} pixels" if claimed else "its size"
        return "too large", f"{size}, {_above_limit()}"
    if isinstance(error, FileNotFoundError) or getattr(error, "errno", None) == errno.ELOOP:
        if os.path.islink(path):
            loop = getattr(error, "errno", None) == errno.ELOOP
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            why = "a loop of links" if loop else "which does not exist"
            return "broken link", f"it points to {target}, {why}"
        return "vanished", "it was deleted after the folder was listed"
    if isinstance(error, IsADirectoryError):
        return "not a file", "a folder"
    if isinstance(error, PermissionError):
        return "no permission", "this user may not read it"
    if isinstance(error, UnidentifiedImageError):
        return "not an image", _sniff(path)
    message = str(error)
    if isinstance(error, EOFError) or "truncated" in message.lower():
        return "truncated", "the file ends before its picture does"
    if isinstance(error, (SyntaxError, ValueError)) and "broken" in message.lower():
        return "corrupt", message
    if isinstance(error, OSError) and error.errno is None:  # Pillow's decoders: bad data
        return "corrupt", message
    return "unreadable", f"{type(error).__name__}: {message}"


def _sniff(path: Path) -> str:
    """What a file Pillow cannot identify seems to hold, for the warning."""
    try:
        with open(os.open(path, _OPEN_FLAGS), "rb") as file:  # never waits, as _open_image
            head = file.read(512)
    except OSError:
        head = b""
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<html" in low:
        return "an HTML page (a failed download?)"
    text = head.decode("utf-8", "replace").rstrip("\ufffd")
    if head and "\ufffd" not in text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "text"
    return "no image format Pillow reads"


def _compact(images: np.ndarray, failed: dict[int, object]) -> np.ndarray:
    """Move the good rows to the front, in place and in blocks (a memmap never enters RAM)."""
    dst = 0
    bounds = [*failed, len(images)]
    src = 0
    for bad in bounds:
        for lo in range(src, bad, 4096):  # rows move forward, block by block: no overlap issues
            hi = min(lo + 4096, bad)
            images[dst : dst + hi - lo] = images[lo:hi]
            dst += hi - lo
        src = bad + 1
    return images


def _shown(text: str) -> str:
    """``text`` on one line: newlines and other unprintable characters (and the bytes of a
    name that is not UTF-8) escaped, so a warning stays one line and can always be printed."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _nothing_readable(
    root: Path, candidates: list[Path], skipped: list[tuple[int, tuple[str, str]]]
) -> DataError:
    if not skipped:
        return DataError(f"no image files to read in {root}")
    i, (reason, detail) = skipped[0]
    return DataError(_shown(
        f"none of the {len(skipped)} image files in {root} could be read (first: "
        f"{_name(candidates[i], root)}: {reason}, {detail})"
    ))  # fmt: skip


def _warn_skipped(
    root: Path,
    candidates: list[Path],
    wanted: int,
    kept: list[int],
    skipped: list[tuple[int, tuple[str, str]]],
) -> None:
    """One warning for every skipped file: how many of each reason, the first file of each
    (up to _NAMED_FAILURES), and what replaced them."""
    counts = Counter(reason for _, (reason, _) in skipped)
    order = [*SKIP_REASONS, *sorted(set(counts) - set(SKIP_REASONS))]
    summary = ", ".join(f"{counts[r]} {r}" for r in order if counts[r])
    named: dict[str, str] = {}
    for i, (reason, detail) in skipped:
        if reason not in named and len(named) < _NAMED_FAILURES:
            named[reason] = f"{_name(candidates[i], root)} ({reason}: {detail})"
    more = "; ..." if len(skipped) > len(named) else ""
    replaced = sum(i >= wanted for i in kept)
    drawn = f"; {replaced} others drawn in their place" if replaced else ""
    short = ""
    if len(candidates) > wanted and len(kept) < wanted:
        short = f"; only {len(kept)} of the {wanted} asked for could be read"
    warnings.warn(
        _shown(f"skipped {len(skipped)} of {len(kept) + len(skipped)} image files in {root}: "
               f"{summary}{drawn}{short}; first: {'; '.join(named.values())}{more}"),
        stacklevel=3,
    )  # fmt: skip


class _Cache:
    """A uint8 memmap file plus a JSON sidecar that says which files, size and channels it
    holds, which candidate is behind each row, and which were skipped and why."""

    def __init__(
        self,
        path: Path,
        root: Path,
        layout: str,
        candidates: list[Path],
        shape: tuple[int, int, int, int],
        crop: str,
    ):
        self.path = path
        self.sidecar = path.with_name(path.name + ".json")
        self.root = root
        self.candidates = candidates
        self.shape = shape
        names = "\n".join(p.relative_to(root).as_posix() for p in candidates)
        self.key = {
            "format": CACHE_FORMAT,
            "root": str(root.resolve()),
            "layout": layout,
            "crop": crop,
            # surrogateescape: a file name that is not UTF-8 hashes by its bytes
            "files_sha256": hashlib.sha256(names.encode("utf-8", "surrogateescape")).hexdigest(),
            "n_files": shape[0],
            "n_candidates": len(candidates),
            "image_size": shape[1],
            "channels": shape[3],
        }

    def load(
        self, decode: Callable[[Path], np.ndarray], progress: Callable[[int, int], None] | None
    ) -> tuple[np.ndarray, list[int], list[tuple[int, tuple[str, str]]]]:
        cached = self._read_valid()
        if cached is not None:
            return cached
        try:
            return self._build(decode, progress)
        except OSError as error:
            raise DataError(
                f"cannot write the image cache {self.path}: {error}; "
                f"choose another cache path or free some disk space"
            ) from error

    def _read_valid(
        self,
    ) -> tuple[np.ndarray, list[int], list[tuple[int, tuple[str, str]]]] | None:
        try:
            meta = json.loads(self.sidecar.read_text())
            if meta.get("key") != self.key:
                return None
            kept = [int(i) for i in meta["rows"]]
            skipped = [(int(i), (str(r), str(d))) for i, r, d in meta["skipped"]]
            shape = (len(kept), *self.shape[1:])
            every = range(len(self.candidates))
            if self.path.stat().st_size != math.prod(shape) or shape[0] < 1:
                return None
            if not all(i in every for i in kept) or not all(i in every for i, _ in skipped):
                return None
            array = np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape)
            return array, kept, skipped
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or stale: rebuild

    def _build(
        self, decode: Callable[[Path], np.ndarray], progress: Callable[[int, int], None] | None
    ) -> tuple[np.ndarray, list[int], list[tuple[int, tuple[str, str]]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            array = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=self.shape)
            kept, skipped = _decode_filling(self.candidates, array, decode, progress)
            if not kept:
                raise _nothing_readable(self.root, self.candidates, skipped)
            array.flush()
            del array
            os.truncate(tmp, len(kept) * math.prod(self.shape[1:]))
            self.sidecar.unlink(missing_ok=True)  # never leave a sidecar describing other data
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        shape = (len(kept), *self.shape[1:])
        meta = {"key": self.key, "shape": list(shape), "rows": kept,
                "skipped": [[i, reason, detail] for i, (reason, detail) in skipped]}  # fmt: skip
        sidecar_tmp = self.sidecar.with_name(f"{self.sidecar.name}.tmp-{os.getpid()}")
        sidecar_tmp.write_text(json.dumps(meta))  # one line: rows can number 200,000
        os.replace(sidecar_tmp, self.sidecar)
        return np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape), kept, skipped


class _PageRelease:
    """Keep a memmap's pages out of this process's resident memory as an epoch reads them.

    Every page of a memory-mapped file that is read stays mapped, and counted in the process's
    RSS, until unmapped: one epoch over full CelebA would hold its whole 2.3 GB cache. After
    every _RELEASE_EVERY bytes read, MADV_DONTNEED unmaps them again; they stay in the page
    cache, so the next read of the same image is a cheap minor fault, not a disk read.
    """

    def __init__(self, images: np.ndarray):
        shared = isinstance(images, np.memmap) and images.mode != "c"  # "c": private pages
        self.map = getattr(images, "_mmap", None) if shared else None
        if not hasattr(mmap, "MADV_DONTNEED"):  # not Linux / macOS: nothing to do
            self.map = None
        self.unreleased = 0

    def read(self, nbytes: int) -> None:
        """Count bytes read; called from tf.data's parallel map threads (races only delay)."""
        mapping = self.map
        if mapping is None:
            return
        self.unreleased += nbytes
        if self.unreleased >= _RELEASE_EVERY:
            self.unreleased = 0
            try:
                mapping.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):  # a closed map or a kernel that refuses: keep going
                self.map = None


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], the range the models work in."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], rounding and clipping what the generator overshoots."""
    scaled = (np.asarray(images, dtype=np.float32) + 1.0) * 127.5
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class ReusedImagesWarning(UserWarning):
    """Fewer images than one iteration takes: each iteration reuses some of them."""


def steps_per_epoch(n_images: int, batch_size: int, n_critic: int = 1) -> int:
    """Generator iterations in one pass: each takes n_critic fresh batches of real images. A
    set smaller than one iteration still makes one, reusing its images (``make_dataset``);
    an empty set makes none."""
    if batch_size < 1 or n_critic < 1:
        raise ConfigError(
            f"batch_size and n_critic must be at least 1, got {batch_size} and {n_critic}"
        )
    return max(1, n_images // (batch_size * n_critic)) if n_images > 0 else 0


def reuse_message(n: int, batch_size: int, n_critic: int) -> str | None:
    """The one warning for a set smaller than one iteration, or None when it is not."""
    per_step = batch_size * n_critic
    if not 0 < n < per_step:
        return None
    return (f"only {n} images for the {per_step} one iteration takes (--batch-size "
            f"{batch_size} x {n_critic} critic batches): each iteration reuses images, and an "
            "epoch is one iteration")  # fmt: skip


def epoch_order(
    n: int, count: int, seed: int, epoch: int, salt: int = 0, shuffle: bool = True
) -> np.ndarray:
    """The ``count`` indices into ``range(n)`` that pass ``epoch`` reads: a permutation of the
    rows, followed by more permutations when ``count`` > ``n`` (a set smaller than one
    iteration is reused within it, as the common GAN tools do).

    A pure function of (seed, salt, epoch): a resumed run reads exactly the order the
    uninterrupted run would have read, from any epoch and position, with no shuffle state to
    save (tf.data's ``reshuffle_each_iteration`` keeps it in the iterator).
    """
    passes = math.ceil(count / n)
    if not shuffle:
        return np.tile(np.arange(n, dtype=np.int64), passes)[:count]
    rng = np.random.default_rng([seed, salt, epoch])
    return np.concatenate([rng.permutation(n) for _ in range(passes)])[:count].astype(np.int64)


def _epoch_batches(
    orders: Callable[[int], tuple[np.ndarray, ...]],
    shapes: int,
    steps: int,
    first_epoch: int,
    epochs: int | None,
    skip: int,
) -> tf.data.Dataset:
    """Elements of index batches, epoch after epoch from ``first_epoch`` (``epochs`` of them,
    or endless for None), the first ``skip`` left out: ``orders(epoch)`` gives each epoch's
    (steps, per_step) arrays. Indices only: skipping costs no image reads."""
    epochs_ds = (tf.data.Dataset.counter(first_epoch) if epochs is None
                 else tf.data.Dataset.range(first_epoch, first_epoch + epochs))  # fmt: skip

    def one_epoch(epoch):
        found = tf.numpy_function(lambda e: orders(int(e)), [epoch], [tf.int64] * shapes,
                                  stateful=False)  # fmt: skip
        for array in found:
            array.set_shape((None, None))  # (steps, per_step)
        return tf.data.Dataset.from_tensor_slices(tuple(found))

    dataset = epochs_ds.flat_map(one_epoch)
    if epochs is not None:  # flat_map hides the length that Keras and users may ask for
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(epochs * steps))
    return dataset.skip(skip) if skip else dataset


def _fresh_seed(seed: int | None) -> int:
    """A seed for the pass orders: the given one, or one drawn now (unseeded data sets)."""
    return int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)


def make_dataset(
    images: np.ndarray,
    batch_size: int,
    n_critic: int = 1,
    seed: int | None = None,
    shuffle: bool = True,
    repeat: bool = False,
    labels: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    labelled: tuple[np.ndarray, np.ndarray] | None = None,
    first_epoch: int = 0,
    epochs: int | None = 1,
    skip: int = 0,
) -> tf.data.Dataset:
    """Real batches for training: elements are uint8 (batch_size, n_critic, H, W, C).

    Element [:, k] is the k-th critic batch of one generator iteration, so every critic update
    sees fresh images; the batch axis comes first so tf.distribute can split it. One pass (an
    epoch) is steps_per_epoch() elements, every image at most once, in an order that depends
    on (seed, epoch) alone (``epoch_order``). The data set holds ``epochs`` passes from
    ``first_epoch`` (endless with ``repeat`` or ``epochs=None``) without their first ``skip``
    elements: a run resumed in the middle of an epoch reads on where it stopped. Only indices
    flow through the graph: rows are gathered from the array (or memmap) in numpy, so the
    images are never copied into the graph and a memmap is read a batch at a time.

    With ``labels`` (N,) or (N, A), elements are dicts of ``images`` and ``labels`` gathered
    with the same indices, so each label stays with its image. ``indices`` restricts a pass to
    those rows. ``labelled`` = (images, labels), the semi-supervised GAN's small labelled set,
    adds ``labelled_images`` (batch_size, H, W, C) and ``labelled_labels`` to every element,
    from passes over that set in their own seeded orders.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype != np.uint8:
        raise ConfigError(
            "make_dataset needs a uint8 array of shape (N, H, W, C), got "
            f"{type(images).__name__} {getattr(images, 'dtype', '')} "
            f"{getattr(images, 'shape', '')}"
        )
    rows = np.arange(len(images)) if indices is None else np.asarray(indices, np.int64)
    n = len(rows)
    steps = steps_per_epoch(n, batch_size, n_critic)  # checks the sizes
    per_step = batch_size * n_critic
    if n == 0:
        raise ConfigError("no images to train on: load some (--data, --n-samples)")
    reuse = reuse_message(n, batch_size, n_critic)
    if reuse:
        warnings.warn(reuse, ReusedImagesWarning, stacklevel=2)
    if labels is not None and len(labels) != len(images):
        raise ConfigError(f"{len(labels)} labels for {len(images)} images: give one per image")
    element_shape = (batch_size, n_critic, *images.shape[1:])
    release = _PageRelease(images)
    seed = _fresh_seed(seed)

    def orders(epoch: int) -> tuple[np.ndarray, ...]:
        found = [epoch_order(n, steps * per_step, seed, epoch, 0, shuffle).reshape(steps, -1)]
        if labelled is not None:
            size = len(labelled[0])
            found.append(epoch_order(size, steps * batch_size, seed, epoch, 2).reshape(steps, -1))
        return tuple(found)

    def gather(positions: np.ndarray) -> np.ndarray:
        return _gather_rows(images, rows[positions], release).reshape(element_shape)

    def gather_tf(positions: tf.Tensor, labelled_positions: tf.Tensor | None = None):
        batch = tf.numpy_function(gather, [positions], tf.uint8, stateful=False)
        batch.set_shape(element_shape)
        element = {"images": batch}
        if labels is not None:
            found = tf.gather(tf.constant(labels), tf.gather(tf.constant(rows), positions))
            element["labels"] = tf.reshape(found, (batch_size, n_critic, *labels.shape[1:]))
        if labelled is not None:
            element["labelled_images"] = tf.gather(tf.constant(labelled[0]), labelled_positions)
            element["labelled_labels"] = tf.gather(tf.constant(labelled[1]), labelled_positions)
        return element if len(element) > 1 else batch

    dataset = _epoch_batches(orders, 1 + (labelled is not None), steps, first_epoch,
                             None if repeat else epochs, skip)  # fmt: skip
    dataset = dataset.map(gather_tf, num_parallel_calls=PIPELINE_PARALLELISM)
    return dataset.prefetch(PIPELINE_PARALLELISM).with_options(_PIPELINE_OPTIONS)


def make_pair_dataset(
    a: np.ndarray,
    b: np.ndarray,
    batch_size: int,
    n_critic: int = 1,
    seed: int | None = None,
    paired: bool = True,
    first_epoch: int = 0,
    epochs: int | None = 1,
    skip: int = 0,
) -> tf.data.Dataset:
    """Batches of an image-to-image model: dicts of ``inputs`` (from ``a``) and ``images``
    (from ``b``), uint8 (batch_size, n_critic, H, W, C) each, as ``make_dataset``'s (epochs,
    their orders and ``skip`` included).

    Paired: row i of ``a`` goes with row i of ``b``, one pass over the pairs per epoch.
    Unpaired: an epoch is a pass over the larger domain, with the other drawn from its own
    seeded orders (repeated as needed), as CycleGAN's reference loader.
    """
    for name, images in (("a", a), ("b", b)):
        if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype != np.uint8:
            raise ConfigError(f"make_pair_dataset needs uint8 arrays (N, H, W, C) for {name}")
    if paired and len(a) != len(b):
        raise ConfigError(f"{len(a)} inputs for {len(b)} targets: pairs need one each")
    n = len(a) if paired else max(len(a), len(b))
    per_step = batch_size * n_critic
    if min(len(a), len(b)) == 0:
        raise ConfigError("no images to train on in one of the domains")
    reuse = reuse_message(n, batch_size, n_critic)
    if reuse:
        warnings.warn(reuse, ReusedImagesWarning, stacklevel=2)
    steps = steps_per_epoch(n, batch_size, n_critic)
    shapes = [(batch_size, n_critic, *x.shape[1:]) for x in (a, b)]
    releases = [_PageRelease(a), _PageRelease(b)]
    seed = _fresh_seed(seed)

    def orders(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        count = steps * per_step
        index_a = epoch_order(len(a), count, seed, epoch, 0).reshape(steps, -1)
        if paired:
            return index_a, index_a
        return index_a, epoch_order(len(b), count, seed, epoch, 1).reshape(steps, -1)

    def gather(index_a: np.ndarray, index_b: np.ndarray):
        return tuple(
            _gather_rows(x, index, release).reshape(shape)
            for x, index, release, shape in zip((a, b), (index_a, index_b), releases, shapes,
                                                strict=True)  # fmt: skip
        )

    def gather_tf(index_a, index_b):
        inputs, images = tf.numpy_function(gather, [index_a, index_b], [tf.uint8, tf.uint8],
                                           stateful=False)  # fmt: skip
        inputs.set_shape(shapes[0])
        images.set_shape(shapes[1])
        return {"inputs": inputs, "images": images}

    dataset = _epoch_batches(orders, 2, steps, first_epoch, epochs, skip)
    dataset = dataset.map(gather_tf, num_parallel_calls=PIPELINE_PARALLELISM)
    return dataset.prefetch(PIPELINE_PARALLELISM).with_options(_PIPELINE_OPTIONS)


def _gather_rows(images: np.ndarray, indices: np.ndarray, release: _PageRelease) -> np.ndarray:
    """``images[indices]``, read in ascending order (sequential on disk for a memmap), then put
    back in the shuffled order; the pages read are counted for release."""
    order = np.argsort(indices)
    found = images[indices[order]]
    batch = np.empty(found.shape, dtype=np.uint8)
    batch[order] = found
    release.read(found.nbytes)
    return batch
