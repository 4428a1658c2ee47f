"""Loss history to sound: one short note per epoch whose pitch follows the value.

Pitch is linear in the value and therefore exponential in frequency (equal value steps sound like
equal musical intervals), from `fmin` for the series' minimum to `fmax` for its maximum. A NaN or
missing value is a short hiss instead of a note, so a broken epoch is impossible to miss.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wgan.errors import DataError
from wgan.history import metric_columns, read_table

#: Pitch of the lowest and the highest value of a series (two octaves).
FMIN, FMAX = 220.0, 880.0
#: Shortest and longest note; long runs get short notes so a series lasts about SERIES_SECONDS.
NOTE_MIN_SECONDS, NOTE_MAX_SECONDS = 0.06, 0.25
SERIES_SECONDS = 8.0
#: Length of each reference tone (lowest, then highest pitch) that opens a series.
REFERENCE_SECONDS = 0.4
#: Peak level of notes; their loudness then matches the speech and the soundscapes.
NOTE_PEAK = 0.15


@dataclass(frozen=True)
class Metrics:
    """Columns of metrics.csv as float arrays (NaN where a value is empty or not a number), and
    the series to hear, in order, with the name spoken for each.

    Which series are heard is the run's choice, not this module's: the model's headline
    metrics as recorded in config.json (see ``wgan.sonification.runs.heard_series``), or every
    metric column of the file when it comes without a run.
    """

    path: Path
    columns: dict[str, np.ndarray]
    heard: dict[str, str] = field(default_factory=dict)

    @property
    def epochs(self) -> np.ndarray:
        """Epoch numbers; 1, 2, ... when the file has no usable epoch column."""
        epochs = self.columns.get("epoch")
        n = len(next(iter(self.columns.values())))
        if epochs is None or np.isnan(epochs).any():
            return np.arange(1, n + 1)
        return epochs.astype(int)

    def series(self, name: str) -> np.ndarray:
        """Values of one column; all NaN when the column is missing."""
        if name in self.columns:
            return self.columns[name]
        return np.full(len(self.epochs), np.nan)

    def at_epoch(self, name: str, epoch: int) -> float:
        """Value of a column at one epoch; NaN when absent."""
        rows = np.flatnonzero(self.epochs == epoch)
        return float(self.series(name)[rows[-1]]) if rows.size else math.nan


def read_metrics(path: str | Path, heard: dict[str, str] | None = None) -> Metrics:
    """Parse metrics.csv; an empty or header-only file raises `DataError` naming it.

    ``heard`` (column -> spoken name) picks the series to hear; by default every metric column,
    named by its column name.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no metrics file; was this run made by scripts/train.py?")
    try:
        header, rows = read_table(path)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read metrics ({err})") from err
    if not rows:
        raise DataError(f"{path}: metrics file has no rows; did training finish an epoch?")
    columns = {name: np.array([row.get(name, math.nan) for row in rows]) for name in header}
    if heard is None:
        heard = {name: name.replace("_", " ") for name in metric_columns(header)}
    return Metrics(path=path, columns=columns, heard=dict(heard))


def value_frequencies(values: np.ndarray, fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """Note frequency for each value: the minimum gets `fmin`, the maximum `fmax`, NaN stays NaN.

    A constant series sits in the middle (geometric mean of fmin and fmax).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    freqs = np.full(values.shape, np.nan)
    if not finite.any():
        return freqs
    low, high = values[finite].min(), values[finite].max()
    position = (values[finite] - low) / (high - low) if high > low else 0.5
    freqs[finite] = fmin * (fmax / fmin) ** position
    return freqs


def _envelope(n: int, sample_rate: int) -> np.ndarray:
    attack = min(n // 4, round(0.005 * sample_rate))
    release = min(n // 2, round(0.03 * sample_rate))
    env = np.ones(n)
    env[:attack] = np.linspace(0, 1, attack, endpoint=False)
    if release:
        env[n - release :] = np.linspace(1, 0, release)
    return env


def note(frequency: float, seconds: float, sample_rate: int) -> np.ndarray:
    """One mono note: a sine with a soft second harmonic and click-free attack and release."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = np.sin(2 * np.pi * frequency * t) + 0.2 * np.sin(4 * np.pi * frequency * t)
    return (NOTE_PEAK / 1.2 * wave * _envelope(t.size, sample_rate)).astype(np.float32)


def missing_sound(seconds: float, sample_rate: int) -> np.ndarray:
    """The sound of a NaN or missing value: a short burst of noise, which has no pitch at all."""
    n = round(seconds * sample_rate)
    noise = np.random.default_rng(7).uniform(-1.0, 1.0, n)
    return (0.6 * NOTE_PEAK * noise * _envelope(n, sample_rate)).astype(np.float32)


def note_seconds(n_epochs: int) -> float:
    """Note length for a series of `n_epochs` values."""
    return float(np.clip(SERIES_SECONDS / max(n_epochs, 1), NOTE_MIN_SECONDS, NOTE_MAX_SECONDS))


def series_notes(
    values: np.ndarray,
    sample_rate: int,
    seconds: float | None = None,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> list[np.ndarray]:
    """One mono clip per value (a note, or the missing-value hiss), each `seconds` long."""
    seconds = note_seconds(len(values)) if seconds is None else seconds
    return [
        note(f, seconds, sample_rate) if np.isfinite(f) else missing_sound(seconds, sample_rate)
        for f in value_frequencies(values, fmin, fmax)
    ]


def reference_tones(
    sample_rate: int, fmin: float = FMIN, fmax: float = FMAX
) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and the highest pitch a series can take, played before its notes."""
    return note(fmin, REFERENCE_SECONDS, sample_rate), note(fmax, REFERENCE_SECONDS, sample_rate)


_UNITS = {-9: "billionths", -6: "millionths", -3: "thousandths", 6: "millions", 9: "billions"}


def spoken_scale(values: np.ndarray) -> tuple[float, str]:
    """Factor and unit word that bring a series' numbers to short spoken form.

    WGAN losses are often around 0.001; "minus 1.65 thousandths" is much quicker to hear than
    a run of zeros or E notation. Series already between 0.01 and 100000 keep factor 1.
    """
    finite = np.abs(np.asarray(values, dtype=np.float64))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return 1.0, ""
    top = finite.max()
    if 0.01 <= top < 100000:
        return 1.0, ""
    power = int(np.clip(math.floor(math.log10(top) / 3) * 3, -9, 9))
    if power not in _UNITS:
        return 1.0, ""
    return 10.0**-power, _UNITS[power]


def spoken_number(value: float, factor: float = 1.0) -> str:
    """`value * factor` as espeak-ng reads it quickly: three significant digits, 'minus' spelled.

    Magnitudes that are still tiny or huge fall back to E notation ("8.55 e minus 4").
    """
    if not math.isfinite(value):
        return "missing"
    value *= factor
    if value != 0 and not 0.001 <= abs(value) < 100000:
        mantissa, exponent = f"{value:.2e}".split("e")
        text = f"{float(mantissa):g} e {int(exponent)}"
    elif abs(value) >= 1000:
        text = f"{value:.0f}"
    else:
        text = f"{value:.3g}"
    return text.replace("-", "minus ")


def describe_series(label: str, epochs: np.ndarray, values: np.ndarray) -> str:
    """Spoken summary: start, end, minimum and maximum with their epochs, and missing values."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        return f"{label}: no values, every epoch is missing."
    factor, unit = spoken_scale(values)
    low, high = finite[np.argmin(values[finite])], finite[np.argmax(values[finite])]
    say = lambda i: spoken_number(values[i], factor)  # noqa: E731
    text = (
        f"{label}{', in ' + unit if unit else ''}: started at {say(finite[0])}, "
        f"ended at {say(finite[-1])}, lowest {say(low)} at epoch {epochs[low]}, "
        f"highest {say(high)} at epoch {epochs[high]}."
    )
    missing = values.size - finite.size
    if missing:
        verb = "epoch is" if missing == 1 else "epochs are"
        text += f" {missing} {verb} missing, heard as a hiss."
    return text
