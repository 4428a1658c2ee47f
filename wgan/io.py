"""Writes that never leave a half-written file behind: temp file in the same folder, then rename."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

# In the name of every temporary file this module writes (``.NAME.tmp-XXXX``): a process killed
# mid-write leaves one behind, and ``stale_temp_files`` finds it.
TEMP_MARK = ".tmp-"


def stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Temporary files that writers killed mid-write left under ``folder`` (``atomic_path``'s,
    and TensorFlow's ``*_temp`` checkpoint folders)."""
    folder = Path(folder)
    found = [p for p in folder.rglob(f".*{TEMP_MARK}*") if p.is_file()]
    # TensorFlow's: a checkpoint's files being written, its index being replaced
    found += [p for p in folder.rglob("*.tempstate*") if p.is_file()]
    found += [p for p in folder.rglob("checkpoint.tmp*") if p.is_file()]
    return found + [p for p in folder.rglob("*_temp") if p.is_dir()]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    ``suffix`` keeps an extension some writers insist on (Keras wants ``.keras``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}{TEMP_MARK}", suffix=suffix or "", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_MESSAGES = ("No space left on device", "Disk quota exceeded")


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says that the disk (or the user's quota) is full: an OSError from
    Python, or the same condition reported in the message of TensorFlow's or h5py's own
    writers, which do not carry errno."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return True
    return any(text in str(error) for text in _FULL_MESSAGES)


def make_writable_folder(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and prove a file can be written there; OSError if not."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-test-{os.getpid()}"
    probe.write_text("")
    probe.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a uint8 (H, W, C) image; one channel is written as grayscale."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
