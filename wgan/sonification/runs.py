"""Finding what to sonify in a run folder written by scripts/train.py.

Layout relied on: RUN/images/epoch_0001/sample_00.png ... (the samples of each epoch grid, in
grid order) and RUN/metrics.csv.
"""

from __future__ import annotations

import re
from pathlib import Path

from wgan.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")
_SAMPLE_FILE = re.compile(r"^sample_(\d+)$")


def newest_run(runs_dir: str | Path) -> Path:
    """The most recent run folder (names are timestamps, so the largest name is the newest)."""
    runs_dir = Path(runs_dir)
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
    if not runs:
        raise DataError(f"{runs_dir}: no run folders; train first (scripts/train.py) or name a run")
    return runs[-1]


def epoch_folders(run: str | Path) -> dict[int, Path]:
    """Epoch number -> folder of that epoch's individual samples, in epoch order."""
    images = Path(run) / "images"
    if not images.is_dir():
        raise DataError(
            f"{images}: no images folder, so {run} is not a run from scripts/train.py; "
            f"to hear loose images, pass the files instead (e.g. {Path(run) / '*.png'})"
        )
    found = {}
    for path in images.iterdir():
        match = _EPOCH_DIR.match(path.name)
        if match and path.is_dir() and sample_files(path):
            found[int(match.group(1))] = path
    if not found:
        raise DataError(
            f"{images}: no epoch samples (expected epoch_0001/sample_00.png, ...); "
            "train with --sample-every 1 or pass image files instead"
        )
    return dict(sorted(found.items()))


def sample_files(folder: str | Path) -> list[Path]:
    """The sample images of one epoch folder in grid order."""
    samples = []
    for path in Path(folder).iterdir():
        match = _SAMPLE_FILE.match(path.stem)
        if match and path.suffix.lower() in IMAGE_SUFFIXES:
            samples.append((int(match.group(1)), path))
    return [path for _, path in sorted(samples)]


def parse_epochs(spec: str, available: list[int]) -> list[int]:
    """Epochs asked for by `last`, `all` or a comma list such as `1,5,10`."""
    spec = spec.strip().lower()
    if spec == "last":
        return available[-1:]
    if spec == "all":
        return list(available)
    try:
        wanted = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError as err:
        raise ConfigError(
            f"--epochs must be last, all or numbers like 1,5,10; got {spec!r}"
        ) from err
    missing = [epoch for epoch in wanted if epoch not in available]
    if missing or not wanted:
        raise ConfigError(
            f"--epochs {spec}: epoch(s) {missing or spec} have no samples; "
            f"available: {', '.join(map(str, available))}"
        )
    return wanted
