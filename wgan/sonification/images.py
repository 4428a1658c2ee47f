"""Images to sound with The vOICe mapping, by vectorised additive synthesis.

The image is scanned left to right; every row is a sine whose pitch rises with height (top row
highest, exponentially spaced), brightness sets loudness on a fixed scale (black is silent) and the
sound pans from the left ear to the right ear with the scan. Colour is heard as timbre: a pixel's
"redness" adds the second harmonic (an octave overtone) and its "blueness" the third harmonic;
green, grey and white stay pure tones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wgan.errors import ConfigError, DataError

#: Harmonic numbers of the partials a colour pixel drives: fundamental, red overtone, blue overtone.
HARMONICS = (1, 2, 3)
#: Longest amplitude crossfade between two columns; removes the click of a sudden amplitude step.
CROSSFADE_SECONDS = 0.003
#: Partials above this fraction of the sample rate are left out (they would alias).
NYQUIST_MARGIN = 0.45


@dataclass(frozen=True)
class Mapping:
    """How an image becomes sound; frozen so the oscillator bank can be cached per mapping."""

    seconds: float = 1.0
    fmin: float = 500.0
    fmax: float = 5000.0
    sample_rate: int = 44100

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ConfigError(f"--seconds must be positive, got {self.seconds}")
        if self.sample_rate < 8000:
            raise ConfigError(f"sample rate must be at least 8000 Hz, got {self.sample_rate}")
        if not 0 < self.fmin < self.fmax:
            raise ConfigError(
                f"need 0 < --fmin < --fmax, got fmin={self.fmin} Hz and fmax={self.fmax} Hz"
            )
        if self.fmax > NYQUIST_MARGIN * self.sample_rate:
            raise ConfigError(
                f"--fmax {self.fmax} Hz is too high for {self.sample_rate} Hz audio; "
                f"use at most {NYQUIST_MARGIN * self.sample_rate:.0f} Hz"
            )


def row_frequencies(height: int, mapping: Mapping = Mapping()) -> np.ndarray:
    """Pitch of each row, top row first: exponential spacing so equal steps sound equal."""
    if height < 1:
        raise ValueError(f"image height must be at least 1, got {height}")
    if height == 1:
        return np.array([math.sqrt(mapping.fmin * mapping.fmax)])
    steps = np.arange(height) / (height - 1)
    return mapping.fmax * (mapping.fmin / mapping.fmax) ** steps


def column_samples(width: int, mapping: Mapping = Mapping()) -> int:
    """Samples per image column; every column lasts the same, so the scan takes about `seconds`."""
    return max(1, round(mapping.seconds * mapping.sample_rate / width))


def as_float_image(image: np.ndarray) -> np.ndarray:
    """Brightness in [0, 1] as float32, HxW (grey) or HxWx3 (RGB); alpha is dropped.

    Floats are taken as already in [0, 1]; integers as 0..255 (0..65535 for uint16).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"image is empty (shape {array.shape})")
    if np.issubdtype(array.dtype, np.integer):  # 16-bit PNG data, else the usual 0..255
        array = array / (65535.0 if array.dtype == np.uint16 else 255.0)
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def load_image(path: str | Path) -> np.ndarray:
    """Read a PNG/JPEG as brightness in [0, 1]: HxW for grey images, HxWx3 for colour ones."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            grey = img.mode in ("1", "L", "LA", "I", "I;16", "F")
            img = img.convert("L" if grey else "RGB")
            return np.asarray(img, dtype=np.float32) / 255.0
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such image file") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read this image ({err}); is it a PNG or JPEG?") from err


def mean_brightness(image: np.ndarray) -> float:
    """Mean brightness in [0, 1], the number the narration gives before each image."""
    return float(as_float_image(image).mean())


def partial_amplitudes(image: np.ndarray) -> np.ndarray:
    """Amplitude of every (harmonic, row, column) partial; sums to the pixel's brightness.

    Grey images drive the fundamental only. For colour, loudness is the mean of R, G and B and a
    share of it moves to an overtone: redness = (R - mean of G and B) / max(R, G, B), clipped at
    0, feeds the 2nd harmonic, blueness likewise the 3rd, each with at most half the loudness.
    Both are ratios, so the timbre does not change with brightness and loudness stays linear.
    """
    img = as_float_image(image)
    if img.ndim == 2:
        return img[None]
    red, green, blue = img[..., 0], img[..., 1], img[..., 2]
    brightness = (red + green + blue) / 3.0
    peak = np.maximum(img.max(axis=2), 1e-6)
    redness = np.clip((red - (green + blue) / 2.0) / peak, 0.0, 1.0)
    blueness = np.clip((blue - (red + green) / 2.0) / peak, 0.0, 1.0)
    return np.stack(
        [
            brightness * (1.0 - 0.5 * redness - 0.5 * blueness),
            brightness * 0.5 * redness,
            brightness * 0.5 * blueness,
        ]
    )


@lru_cache(maxsize=4)
def _bank(
    height: int, width: int, n_harmonics: int, mapping: Mapping
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Oscillators cut into columns, precomputed once per image shape and mapping.

    Returns (keep, ramp, fade, pan): `keep` is (W, P, n) with the end-of-column crossfade already
    applied, `ramp` (W, P, r) the rising half of that crossfade for the next column's amplitudes,
    `fade` the fade-in of the first column and `pan` the (n*W, 2) equal-power stereo gains.
    """
    n = column_samples(width, mapping)
    r = min(n // 2, max(1, round(CROSSFADE_SECONDS * mapping.sample_rate)))
    base = row_frequencies(height, mapping)
    freqs = np.concatenate([base * k for k in HARMONICS[:n_harmonics]])
    # Fixed pseudo-random phases keep a bright image's peak low; seeded so output is repeatable.
    phases = np.random.default_rng(12345).uniform(0, 2 * np.pi, size=freqs.size)
    audible = freqs < NYQUIST_MARGIN * mapping.sample_rate
    t = np.arange(n * width) / mapping.sample_rate
    osc = np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]) * audible[:, None]
    osc = osc.reshape(freqs.size, width, n).transpose(1, 0, 2)  # (W, P, n)
    up = (np.arange(1, r + 1) / (r + 1)).astype(np.float64)
    down = np.ones(n)
    down[n - r :] = 1.0 - up
    keep = (osc * down).astype(np.float32)
    ramp = (osc[:, :, n - r :] * up).astype(np.float32)
    theta = (np.pi / 2) * (np.arange(n * width) + 0.5) / (n * width)
    pan = np.stack([np.cos(theta), np.sin(theta)], axis=1).astype(np.float32)
    for array in (keep, ramp, up, pan):
        array.setflags(write=False)
    return keep, ramp, up.astype(np.float32), pan


def soundscape(image: np.ndarray, mapping: Mapping = Mapping()) -> np.ndarray:
    """Stereo float32 samples (n, 2) in [-1, 1] for one image.

    Loudness is on a fixed scale: each row contributes brightness / height, so a white image peaks
    at most at full scale and never clips, a black image is exactly silent and a dim image is
    proportionally quieter. Amplitudes crossfade over a few milliseconds between columns.
    """
    amps = partial_amplitudes(image)  # (K, H, W)
    n_harmonics, height, width = amps.shape
    keep, ramp, fade, pan = _bank(height, width, n_harmonics, mapping)
    columns = (amps.reshape(n_harmonics * height, width).T / height).astype(np.float32)  # (W, P)
    following = np.zeros_like(columns)
    following[:-1] = columns[1:]
    mono = np.matmul(columns[:, None, :], keep)[:, 0, :]  # (W, n)
    r = ramp.shape[2]
    mono[:, -r:] += np.matmul(following[:, None, :], ramp)[:, 0, :]
    mono = mono.reshape(-1)
    mono[:r] *= fade
    return mono[:, None] * pan
