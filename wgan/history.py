"""``metrics.csv``: one row per epoch, appended as training goes, so a crash keeps the rows.

The columns are ``epoch, step``, the model's metrics (their names come from its parts, see
``wgan.gan.GAN.metric_names``), ``seconds`` and ``swd``. This module is the one reader of the
file; it imports no TensorFlow, so the sonification can use it.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
from pathlib import Path

from wgan.io import write_text

BEFORE = ("epoch", "step")
AFTER = (
    "seconds",
    "swd",  # sliced Wasserstein distance of the samples; empty on epochs without evaluation
)
BOOKKEEPING = (*BEFORE, *AFTER)


def columns_for(metric_names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The header of a run's metrics.csv, given its model's metric names."""
    return (*BEFORE, *metric_names, *AFTER)


def read_table(path: str | os.PathLike) -> tuple[list[str], list[dict[str, float]]]:
    """(header, rows as dicts of floats: NaN for empty or unparsable cells); ([], []) for a
    missing file. Raises OSError, UnicodeDecodeError or csv.Error for an unreadable one."""
    path = Path(path)
    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [{key: _to_float(value) for key, value in row.items() if key} for row in reader]
        header = [name for name in (reader.fieldnames or []) if name]
    return header, rows


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows as dicts of floats (NaN for empty or unparsable cells); [] for a missing file."""
    return read_table(path)[1]


def metric_columns(header: list[str]) -> list[str]:
    """The model's metric columns of a metrics.csv header (bookkeeping columns left out)."""
    return [name for name in header if name not in BOOKKEEPING]


def _to_float(value: str | None) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def append_row(path: str | os.PathLike, row: dict, columns: tuple[str, ...]) -> None:
    """Append one row (writing the header first for a new file) and push it to disk; on a
    full disk the file is cut back to its previous rows, never left with half a row."""
    path = Path(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            writer.writeheader()
        writer.writerow({key: _format(row.get(key, "")) for key in columns})
        data = text.getvalue().encode()
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _format(value) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def truncate_after(path: str | os.PathLike, last_epoch: int) -> int:
    """Drop rows past ``last_epoch`` (written after the last checkpoint); returns rows dropped.

    Resuming then repeats those epochs, so the file ends with no duplicated and no missing epoch.
    """
    path = Path(path)
    if not path.exists():
        return 0
    lines = path.read_text().splitlines(keepends=True)
    if not lines:
        return 0
    kept = [lines[0]]
    for line in lines[1:]:
        head = line.split(",", 1)[0].strip()
        if not line.strip():
            continue
        try:
            epoch = int(float(head))
        except ValueError:
            continue  # a row cut short by a crash
        if epoch <= last_epoch and line.endswith("\n"):
            kept.append(line)
    dropped = len(lines) - len(kept)
    if dropped:
        write_text(path, "".join(kept))
    return dropped
