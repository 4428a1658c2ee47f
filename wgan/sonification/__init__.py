"""Hear a training run: images as The vOICe soundscapes, losses as notes, with spoken narration.

Made first of all for blind users: the generated samples and the loss history of a run become
sound that can be checked by ear ("sound-based debugging" of a GAN).
"""

from wgan.sonification.audio import click, export, ffmpeg_available, join, to_array, to_segment
from wgan.sonification.compose import (
    brightness_words,
    epoch_facts,
    images_audio,
    legend,
    losses_audio,
    run_words,
)
from wgan.sonification.images import (
    Mapping,
    load_image,
    mean_brightness,
    partial_amplitudes,
    row_frequencies,
    soundscape,
)
from wgan.sonification.losses import (
    Metrics,
    describe_series,
    read_metrics,
    series_notes,
    value_frequencies,
)
from wgan.sonification.runs import (
    epoch_folders,
    heard_series,
    newest_run,
    parse_epochs,
    sample_files,
)
from wgan.sonification.speech import Narrator, SpeechUnavailableError, speech_available

__all__ = [
    "Mapping",
    "Metrics",
    "Narrator",
    "SpeechUnavailableError",
    "brightness_words",
    "click",
    "describe_series",
    "epoch_facts",
    "epoch_folders",
    "export",
    "heard_series",
    "ffmpeg_available",
    "images_audio",
    "join",
    "legend",
    "load_image",
    "losses_audio",
    "mean_brightness",
    "newest_run",
    "parse_epochs",
    "partial_amplitudes",
    "read_metrics",
    "row_frequencies",
    "run_words",
    "sample_files",
    "series_notes",
    "soundscape",
    "speech_available",
    "to_array",
    "to_segment",
    "value_frequencies",
]
