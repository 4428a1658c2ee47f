"""Real images: find them, decode them once into uint8, and feed them to training with tf.data.

Pixels stay uint8 in [0, 255] everywhere in this module, so a whole data set costs one byte per
value (and can live in a memory-mapped file). The models see floats in [-1, 1]: the train step
applies `to_float(x) = x / 127.5 - 1`, and `to_uint8` undoes it for grids and metrics.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from wgan.errors import ConfigError, DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
CELEBA_FOLDER = "img_align_celeba"
CELEBA_LAYOUTS = frozenset({"celeba", "celeba-nested"})
# The aligned CelebA images are 178x218; the customary face crop is their central 108x108.
CELEBA_SIZE = (178, 218)
CELEBA_CROP = 108
# Transparent pixels are shown over white when alpha has to go (3 or 1 output channels).
ALPHA_BACKGROUND = (255, 255, 255)
# Bump when the decoded pixels for the same files would change, so old caches are rebuilt.
CACHE_FORMAT = 1
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
_NAMED_FAILURES = 3  # how many unreadable files a warning names
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
    n_skipped: int  # selected files that could not be decoded
    layout: str  # "celeba", "celeba-nested" or "folder"
    root: Path


def find_images(root: str | os.PathLike) -> tuple[list[Path], str]:
    """List the image files of a data set folder, recognising the CelebA layouts users download.

    CelebA images get the CelebA face crop later, so the layout matters; anything else is a plain
    folder searched recursively (hidden files and folders skipped). The list is sorted.
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
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if is_image_name(e.name) and e.is_file())
    return [folder / name for name in names]


def iter_image_files(root: str | os.PathLike) -> Iterator[Path]:
    """Image files under root, folder by folder (hidden ones skipped, symlink loops cut): lazy,
    so a caller that needs only the first stops there."""
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

    n_samples=0 loads every image. Each image is cropped (CelebA: the central face square;
    otherwise the centre square), resized to image_size and converted to `channels` (1, 3 or 4).
    Decoding runs once, in threads. With cache_path the array is a memory-mapped file there,
    reused by later calls for the same files, size and channels, so full CelebA need not fit in
    RAM and is decoded only once (the cache is keyed by the sampled files, so give a seed, or
    n_samples=0, to reuse it). `progress(done, total)` is called as images are decoded.
    """
    _check_load_args(n_samples, image_size, channels)
    root = Path(root).expanduser()
    found, layout = find_images(root)
    if not found:
        raise DataError(f"no images ({_extensions()}) found in {root}{_zip_hint(root)}")

    selected = select_files(found, n_samples, seed)
    if 0 < len(found) < n_samples:
        warnings.warn(
            f"asked for {n_samples} images but {root} has only {len(found)}: using all of them",
            stacklevel=2,
        )
    return decode_files(root, selected, layout, image_size, channels, cache_path, progress,
                        n_found=len(found))  # fmt: skip


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
) -> ImageSet:
    """Decode ``selected`` files (under ``root``) as ``load_images`` does, skipping and counting
    the unreadable ones in one warning. ``side_by_side``: each file holds a pair, its left and
    right halves (the pix2pix data sets' format); each comes out as (H, W, 2C), left half
    first, and a file whose halves differ in size is skipped like an unreadable one."""
    root = Path(root)
    crop_celeba = layout in CELEBA_LAYOUTS
    depth = 2 * channels if side_by_side else channels
    shape = (len(selected), image_size, image_size, depth)
    decode = (_PairDecoder if side_by_side else _Decoder)(image_size, channels, crop_celeba)
    crop = "side-by-side" if side_by_side else ("celeba" if crop_celeba else "centre-square")

    if cache_path is None:
        images = np.empty(shape, dtype=np.uint8)
        failed = _decode_all(selected, images, decode, progress)
        keep = len(selected) - len(failed)
        if keep == 0:
            raise _nothing_readable(root, failed)
        if failed:
            images = _compact(images, failed)[:keep]
    else:
        cache = _Cache(Path(cache_path).expanduser(), root, layout, selected, shape, crop)
        images, failed = cache.load(decode, progress)

    if failed:
        _warn_skipped(root, selected, failed)
    paths = [p for i, p in enumerate(selected) if i not in failed]
    n_found = len(selected) if n_found is None else n_found
    return ImageSet(images, paths, n_found, len(failed), layout, root)


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
    if n_samples == 0 or n_samples >= len(found):
        return list(found)
    picked = np.random.default_rng(seed).choice(len(found), size=n_samples, replace=False)
    return [found[i] for i in np.sort(picked)]  # file order: reproducible and disk-friendly


class _Decoder:
    """Turns one file into an (H, W, C) uint8 array; holds only settings, so threads share it."""

    def __init__(self, image_size: int, channels: int, crop_celeba: bool):
        self.size = image_size
        self.channels = channels
        self.crop_celeba = crop_celeba

    def __call__(self, path: Path) -> np.ndarray:
        with Image.open(path) as im:
            turn = _EXIF_TURNS.get(im.getexif().get(_EXIF_ORIENTATION, 1))
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
        with Image.open(path) as im:
            im.load()
            w, h = im.size
            if w % 2:
                raise DataError(f"its halves differ in size ({w}x{h} is not two equal halves)")
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
    """Convert any PIL mode to L, RGB or RGBA before resizing (P and 1 can only resize nearest)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float32)
        if im.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0
        im = Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    has_alpha = im.mode in ("RGBA", "LA", "PA")
    if has_alpha and channels == 4:
        return im.convert("RGBA")
    if has_alpha:
        background = Image.new("RGB", im.size, ALPHA_BACKGROUND)
        background.paste(im.convert("RGB"), mask=im.getchannel("A"))
        im = background
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def _decode_all(
    paths: Sequence[Path],
    out: np.ndarray,
    decode: Callable[[Path], np.ndarray],
    progress: Callable[[int, int], None] | None,
) -> dict[int, str]:
    """Decode paths[i] into out[i] in threads (PIL releases the GIL); return {i: error}."""

    def work(start: int) -> dict[int, str]:
        failed = {}
        for i in range(start, min(start + _CHUNK, len(paths))):
            try:
                out[i] = decode(paths[i])
            except Exception as error:  # any file can be garbage; the caller reports them all
                failed[i] = f"{type(error).__name__}: {error}"
        return failed

    failed: dict[int, str] = {}
    total = len(paths)
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers, thread_name_prefix="wgan-decode") as pool:
        for start, chunk_failed in zip(
            range(0, total, _CHUNK), pool.map(work, range(0, total, _CHUNK)), strict=True
        ):
            failed.update(chunk_failed)
            if progress is not None:
                progress(min(start + _CHUNK, total), total)
    return dict(sorted(failed.items()))


def _compact(images: np.ndarray, failed: dict[int, str]) -> np.ndarray:
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


def _nothing_readable(root: Path, failed: dict[int, str]) -> DataError:
    first = next(iter(failed.values()))
    return DataError(
        f"none of the {len(failed)} image files in {root} could be read (first error: {first})"
    )


def _warn_skipped(root: Path, selected: list[Path], failed: dict[int, str]) -> None:
    named = list(failed.items())[:_NAMED_FAILURES]
    names = "; ".join(f"{selected[i].relative_to(root)} ({error})" for i, error in named)
    more = "; ..." if len(failed) > _NAMED_FAILURES else ""
    warnings.warn(
        f"skipped {len(failed)} of {len(selected)} image files in {root} that could not be "
        f"read: {names}{more}",
        stacklevel=3,
    )


class _Cache:
    """A uint8 memmap file plus a JSON sidecar that says which files, size and channels it holds."""

    def __init__(
        self,
        path: Path,
        root: Path,
        layout: str,
        selected: list[Path],
        shape: tuple[int, int, int, int],
        crop: str,
    ):
        self.path = path
        self.sidecar = path.with_name(path.name + ".json")
        self.root = root
        self.selected = selected
        self.shape = shape
        names = "\n".join(p.relative_to(root).as_posix() for p in selected)
        self.key = {
            "format": CACHE_FORMAT,
            "root": str(root.resolve()),
            "layout": layout,
            "crop": crop,
            "files_sha256": hashlib.sha256(names.encode()).hexdigest(),
            "n_files": len(selected),
            "image_size": shape[1],
            "channels": shape[3],
        }

    def load(
        self, decode: Callable[[Path], np.ndarray], progress: Callable[[int, int], None] | None
    ) -> tuple[np.ndarray, dict[int, str]]:
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

    def _read_valid(self) -> tuple[np.ndarray, dict[int, str]] | None:
        try:
            meta = json.loads(self.sidecar.read_text())
            if meta.get("key") != self.key:
                return None
            failed = {int(i): str(e) for i, e in meta["failed"].items()}
            shape = (self.shape[0] - len(failed), *self.shape[1:])
            if self.path.stat().st_size != math.prod(shape) or shape[0] < 1:
                return None
            return np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape), failed
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or stale: rebuild

    def _build(
        self, decode: Callable[[Path], np.ndarray], progress: Callable[[int, int], None] | None
    ) -> tuple[np.ndarray, dict[int, str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            array = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=self.shape)
            failed = _decode_all(self.selected, array, decode, progress)
            keep = self.shape[0] - len(failed)
            if keep == 0:
                raise _nothing_readable(self.root, failed)
            if failed:
                _compact(array, failed)
            array.flush()
            del array
            os.truncate(tmp, keep * math.prod(self.shape[1:]))
            self.sidecar.unlink(missing_ok=True)  # never leave a sidecar describing other data
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        meta = {"key": self.key, "shape": [keep, *self.shape[1:]], "failed": failed}
        sidecar_tmp = self.sidecar.with_name(f"{self.sidecar.name}.tmp-{os.getpid()}")
        sidecar_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(sidecar_tmp, self.sidecar)
        shape = (keep, *self.shape[1:])
        return np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape), failed


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


def _fill_one_step(dataset: tf.data.Dataset, n: int, per_step: int) -> tf.data.Dataset:
    """A pass over ``n`` < ``per_step`` indices, repeated (reshuffled) to fill one iteration,
    as the common GAN tools do with a tiny data set; larger sets are left as they are."""
    if n >= per_step:
        return dataset
    return dataset.repeat(math.ceil(per_step / n)).take(per_step)


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
) -> tf.data.Dataset:
    """Real batches for training: elements are uint8 (batch_size, n_critic, H, W, C).

    Element [:, k] is the k-th critic batch of one generator iteration, so every critic update
    sees fresh images; the batch axis comes first so tf.distribute can split it. One pass is
    steps_per_epoch() elements, every image at most once, reshuffled (seeded) each pass. Only
    indices flow through the graph: rows are gathered from the array (or memmap) in numpy, so
    the images are never copied into the graph and a memmap is read a batch at a time.

    With ``labels`` (N,) or (N, A), elements are dicts of ``images`` and ``labels`` gathered
    with the same indices, so each label stays with its image. ``indices`` restricts a pass to
    those rows. ``labelled`` = (images, labels), the semi-supervised GAN's small labelled set,
    adds ``labelled_images`` (batch_size, H, W, C) and ``labelled_labels`` to every element:
    a seeded reshuffle of that set, repeated as often as the pass needs.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype != np.uint8:
        raise ConfigError(
            "make_dataset needs a uint8 array of shape (N, H, W, C), got "
            f"{type(images).__name__} {getattr(images, 'dtype', '')} "
            f"{getattr(images, 'shape', '')}"
        )
    rows = np.arange(len(images)) if indices is None else np.asarray(indices, np.int64)
    n = len(rows)
    steps_per_epoch(n, batch_size, n_critic)  # checks the sizes
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

    def gather(positions: np.ndarray) -> np.ndarray:
        return _gather_rows(images, rows[positions], release).reshape(element_shape)

    def gather_tf(positions: tf.Tensor):
        batch = tf.numpy_function(gather, [positions], tf.uint8, stateful=False)
        batch.set_shape(element_shape)
        if labels is None:
            return batch
        found = tf.gather(tf.constant(labels), tf.gather(tf.constant(rows), positions))
        found = tf.reshape(found, (batch_size, n_critic, *labels.shape[1:]))
        return {"images": batch, "labels": found}

    dataset = tf.data.Dataset.range(n)
    if shuffle:
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    dataset = _fill_one_step(dataset, n, per_step).batch(per_step, drop_remainder=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(gather_tf, num_parallel_calls=PIPELINE_PARALLELISM)
    if labelled is not None:
        dataset = _with_labelled(dataset, *labelled, batch_size, seed)
    return dataset.prefetch(PIPELINE_PARALLELISM).with_options(_PIPELINE_OPTIONS)


def _with_labelled(
    dataset: tf.data.Dataset, images: np.ndarray, labels: np.ndarray, batch_size: int, seed
) -> tf.data.Dataset:
    """Zip a repeated, reshuffled stream of the labelled set onto every element."""
    labelled = tf.data.Dataset.from_tensor_slices((np.asarray(images), np.asarray(labels)))
    labelled = labelled.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    labelled = labelled.batch(batch_size, drop_remainder=True)

    def join(element, pair):
        element = element if isinstance(element, dict) else {"images": element}
        return {**element, "labelled_images": pair[0], "labelled_labels": pair[1]}

    return tf.data.Dataset.zip((dataset, labelled)).map(join)


def make_pair_dataset(
    a: np.ndarray,
    b: np.ndarray,
    batch_size: int,
    n_critic: int = 1,
    seed: int | None = None,
    paired: bool = True,
) -> tf.data.Dataset:
    """Batches of an image-to-image model: dicts of ``inputs`` (from ``a``) and ``images``
    (from ``b``), uint8 (batch_size, n_critic, H, W, C) each, as ``make_dataset``'s.

    Paired: row i of ``a`` goes with row i of ``b``, one pass over the pairs per epoch.
    Unpaired: an epoch is a pass over the larger domain, with the other drawn from its own
    seeded shuffle (repeated as needed), as CycleGAN's reference loader.
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
    shapes = [(batch_size, n_critic, *x.shape[1:]) for x in (a, b)]
    releases = [_PageRelease(a), _PageRelease(b)]

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

    def stream(size: int, salt: int) -> tf.data.Dataset:
        return tf.data.Dataset.range(size).shuffle(
            size, seed=None if seed is None else seed + salt, reshuffle_each_iteration=True
        )

    if paired:
        pairs = _fill_one_step(stream(n, 0), n, per_step).map(lambda i: (i, i))
    else:
        pairs = tf.data.Dataset.zip(stream(len(a), 0).repeat(), stream(len(b), 1).repeat())
        pairs = pairs.take(max(n, per_step))
    dataset = pairs.batch(per_step, drop_remainder=True)
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
