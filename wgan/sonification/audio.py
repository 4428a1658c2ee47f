"""pydub assembly: numpy samples to segments, earcons, panning and crash-safe export."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is missing; WAV needs no ffmpeg and MP3 is checked below.
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

#: Formats `export` can write; MP3 goes through ffmpeg.
FORMATS = ("wav", "mp3")


def ffmpeg_available() -> bool:
    """Whether MP3 export can work (pydub hands MP3 encoding to the ffmpeg program)."""
    return shutil.which("ffmpeg") is not None


def to_segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    """16-bit pydub segment from float samples in [-1, 1], shape (n,) mono or (n, 2) stereo."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] not in (1, 2):
        raise ValueError(f"expected (n,) or (n, 2) samples, got shape {array.shape}")
    pcm = np.round(np.clip(array, -1.0, 1.0) * 32767.0).astype("<i2")
    return AudioSegment(
        data=pcm.tobytes(), sample_width=2, frame_rate=int(sample_rate), channels=array.shape[1]
    )


def to_array(segment: AudioSegment) -> np.ndarray:
    """Float samples (n, channels) of a segment; the inverse of `to_segment`."""
    if segment.sample_width != 2:
        segment = segment.set_sample_width(2)
    pcm = np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float32) / 32767.0
    return pcm.reshape(-1, segment.channels)


def silence(ms: float, sample_rate: int) -> AudioSegment:
    """Stereo silence of the given length."""
    return to_segment(np.zeros((round(ms * sample_rate / 1000), 2)), sample_rate)


def stereo(segment: AudioSegment, position: float = 0.0) -> AudioSegment:
    """Stereo copy placed at `position` (-1 left .. 0 centre .. 1 right) with pydub's pan."""
    if segment.channels == 1:
        segment = segment.set_channels(2)
    return segment.pan(float(np.clip(position, -1.0, 1.0))) if position else segment


def click(sample_rate: int) -> AudioSegment:
    """Earcon that marks the start of an image: a short, centred, broadband tick then a pause.

    A decaying burst of two inharmonic partials sounds like a woodblock, unlike any tone of the
    soundscape, so it cannot be mistaken for a bright pixel.
    """
    t = np.arange(round(0.03 * sample_rate)) / sample_rate
    tick = np.exp(-t / 0.004) * (np.sin(2 * np.pi * 1200 * t) + 0.6 * np.sin(2 * np.pi * 3170 * t))
    tick = 0.35 * tick / np.abs(tick).max()
    return stereo(to_segment(tick, sample_rate)) + silence(120, sample_rate)


def join(parts: Iterable[AudioSegment], gap_ms: float = 0.0) -> AudioSegment:
    """Concatenate segments with an optional pause between them."""
    parts = list(parts)
    if not parts:
        raise ValueError("nothing to join")
    out = parts[0]
    for part in parts[1:]:
        if gap_ms:
            out += silence(gap_ms, out.frame_rate)
        out += part
    return out


def export(segment: AudioSegment, path: str | Path, fmt: str | None = None) -> Path:
    """Write WAV or MP3 to a temporary name in the same folder, then rename it into place.

    An interrupted or failed export therefore never leaves a partial file at `path`, and an
    older file there survives until the new one is complete.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown audio format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "mp3" and not ffmpeg_available():
        raise RuntimeError(f"{path}: MP3 export needs ffmpeg; install it or write WAV")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        with open(tmp, "xb+") as handle:  # pydub leaves a file it opened itself unclosed
            segment.export(handle, format=fmt)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
