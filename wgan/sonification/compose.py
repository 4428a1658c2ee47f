"""Whole listening files: spoken legend, then per image an announcement, a click and the scan.

Every builder takes an optional `Narrator`; without one the same files are made with the spoken
parts left out, so the click before each image and the fixed order are all that structure them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence

import numpy as np

from wgan.sonification.audio import AudioSegment, click, join, silence, stereo, to_segment
from wgan.sonification.images import Mapping, mean_brightness, soundscape
from wgan.sonification.losses import (
    Metrics,
    describe_series,
    reference_tones,
    series_notes,
    spoken_number,
    spoken_scale,
)
from wgan.sonification.speech import Narrator

DEFAULT_MAPPING = Mapping()
#: Pause between images, and around spoken parts.
GAP_MS = 400
#: Pause between the series of the loss file.
SERIES_GAP_MS = 900


def legend(mapping: Mapping = DEFAULT_MAPPING) -> str:
    """The listening guide spoken at the start of a file."""
    seconds = "one second" if mapping.seconds == 1 else f"{mapping.seconds:g} seconds"
    return (
        f"Guide: after each click, an image plays left to right in {seconds}, "
        "left ear to right ear. Higher pitch is higher, louder is brighter. "
        "Red adds an octave, blue a hollow overtone."
    )


#: How many of the heard series an image's announcement speaks (the first, most telling ones).
FACTS = 2


def epoch_facts(metrics: Metrics | None, epoch: int) -> str:
    """The first ``FACTS`` heard series at one epoch, as a sentence ('' when unknown)."""
    if metrics is None:
        return ""
    facts = []
    for name, label in list(metrics.heard.items())[:FACTS]:
        if name in metrics.columns:
            factor, unit = spoken_scale(metrics.series(name))
            number = spoken_number(metrics.at_epoch(name, epoch), factor)
            facts.append(f"{label} {number}{' ' + unit if unit else ''}")
    return (", ".join(facts) + ".") if facts else ""


def run_words(name: str) -> str:
    """A run folder name as speech: timestamps become a date and time instead of a huge number."""
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})", name)
    if match and 1 <= int(match.group(2)) <= 12:
        year, month, day, hour, minute, _ = (int(part) for part in match.groups())
        return f"run of {calendar.month_name[month]} {day} {year}, {hour}:{minute:02d}"
    return "run " + re.sub(r"[_\-]+", " ", name)


def brightness_words(image: np.ndarray) -> str:
    """Mean brightness as a spoken percentage."""
    return f"mean brightness {round(100 * mean_brightness(image))} percent"


def _speech(narrator: Narrator, text: str) -> AudioSegment:
    return stereo(to_segment(narrator.say(text), narrator.sample_rate))


def _check_rates(mapping: Mapping, narrator: Narrator | None) -> None:
    if narrator is not None and narrator.sample_rate != mapping.sample_rate:
        raise ValueError(
            f"narrator speaks at {narrator.sample_rate} Hz but the soundscape is "
            f"{mapping.sample_rate} Hz; give both the same sample rate"
        )


def images_audio(
    images: Sequence[np.ndarray],
    intros: Sequence[str],
    mapping: Mapping = DEFAULT_MAPPING,
    narrator: Narrator | None = None,
    header: str = "",
    with_legend: bool = True,
) -> AudioSegment:
    """Legend, header, then for each image its spoken intro, the click and its soundscape."""
    if len(images) != len(intros):
        raise ValueError(f"{len(images)} images but {len(intros)} intros")
    if not images:
        raise ValueError("no images to sonify")
    _check_rates(mapping, narrator)
    rate = mapping.sample_rate
    parts = []
    if narrator is not None:
        spoken = [legend(mapping)] if with_legend else []
        spoken += [header] if header else []
        parts += [_speech(narrator, text) for text in spoken]
    for image, intro in zip(images, intros, strict=True):
        if narrator is not None and intro:
            parts.append(_speech(narrator, intro) + silence(150, rate))
        parts.append(click(rate) + to_segment(soundscape(image, mapping), rate))
    return join(parts, GAP_MS) + silence(GAP_MS, rate)


def losses_audio(
    metrics: Metrics,
    sample_rate: int = 44100,
    narrator: Narrator | None = None,
) -> AudioSegment:
    """Each heard series: name, low and high reference tones, one note per epoch, a summary.

    Notes pan from left to right as the epochs go by; a hiss stands for a NaN or missing value.
    """
    if narrator is not None and narrator.sample_rate != sample_rate:
        raise ValueError(f"narrator speaks at {narrator.sample_rate} Hz, not {sample_rate} Hz")
    epochs = metrics.epochs
    n = len(epochs)
    series = []
    for name, label in metrics.heard.items():
        values = metrics.series(name)
        parts = [click(sample_rate)]
        if narrator is not None:
            count = f"{n} epoch" if n == 1 else f"{n} epochs"
            parts.append(_speech(narrator, f"{label}, {count}. Lowest and highest pitch first."))
        low, high = reference_tones(sample_rate)
        parts.append(join([to_segment(low, sample_rate), to_segment(high, sample_rate)], 150))
        positions = np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
        notes = [
            stereo(to_segment(clip, sample_rate), pos)
            for clip, pos in zip(series_notes(values, sample_rate), positions, strict=True)
        ]
        parts.append(join(notes))
        if narrator is not None:
            parts.append(_speech(narrator, describe_series(label, epochs, values)))
        series.append(join(parts, GAP_MS))
    return join(series, SERIES_GAP_MS) + silence(GAP_MS, sample_rate)
