"""Finding what to sonify in a run folder written by scripts/train.py (names in wgan.run_folder).

Layout relied on: the samples of each epoch grid (``images/epoch_0001/sample_00.png`` ...), in
grid order, ``metrics.csv``, and ``config.json``'s record of which metrics the model reports.
"""

from __future__ import annotations

import json
from pathlib import Path

from wgan.errors import ConfigError, DataError
from wgan.run_folder import RunFolder, sample_files

__all__ = ["epoch_folders", "heard_series", "newest_run", "parse_epochs", "sample_files"]


def newest_run(runs_dir: str | Path) -> Path:
    """The most recent run folder (names are timestamps, so the largest name is the newest)."""
    runs_dir = Path(runs_dir)
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
    if not runs:
        raise DataError(f"{runs_dir}: no run folders; train first (scripts/train.py) or name a run")
    return runs[-1]


def epoch_folders(run: str | Path) -> dict[int, Path]:
    """Epoch number -> folder of that epoch's individual samples, in epoch order."""
    folder = RunFolder(run)
    if not folder.images.is_dir():
        raise DataError(
            f"{folder.images}: no images folder, so {run} is not a run from scripts/train.py; "
            f"to hear loose images, pass the files instead (e.g. {Path(run) / '*.png'})"
        )
    found = folder.epoch_folders()
    if not found:
        raise DataError(
            f"{folder.images}: no epoch samples (expected epoch_0001/sample_00.png, ...); "
            "train with --sample-every 1 or pass image files instead"
        )
    return found


def heard_series(run: str | Path) -> dict[str, str] | None:
    """Metric -> spoken name of the series to hear, as the run's model named them in
    config.json (its headline metrics, most telling first); None when the run does not say
    (an older run), and every metric column of metrics.csv is heard instead."""
    try:
        recorded = json.loads(RunFolder(run).config.read_text())["metrics"]
        labels = recorded.get("labels", {})
        return {name: labels.get(name, name.replace("_", " ")) for name in recorded["headline"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


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
