"""Loss history as notes: pitch follows value, NaN is a hiss, summaries say the key numbers."""

import math

import numpy as np
import pytest

from wgan.errors import DataError
from wgan.sonification import (
    describe_series,
    losses_audio,
    read_metrics,
    series_notes,
    to_array,
    value_frequencies,
)
from wgan.sonification.losses import FMAX, FMIN, note_seconds, spoken_number

RATE = 22050
HEADER = (
    "epoch,step,critic_loss,critic_real,critic_fake,generator_loss,wasserstein_estimate,seconds"
)


def pitch(clip: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(clip.size), 1 << 17))
    return float(np.argmax(spectrum) * rate / (1 << 17))


def tonality(clip: np.ndarray) -> float:
    """Share of the energy near the strongest frequency: near 1 for a note, small for noise."""
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(clip.size))) ** 2
    freqs = np.fft.rfftfreq(clip.size, 1 / RATE)
    peak = freqs[np.argmax(spectrum)]
    return float(spectrum[np.abs(freqs - peak) < 0.03 * peak + 20].sum() / spectrum.sum())


def test_pitch_order_follows_value_order():
    values = np.array([0.3, -2.0, 5.0, 1.1, 0.0, -0.7])
    pitches = np.array([pitch(clip) for clip in series_notes(values, RATE, seconds=0.2)])
    assert (np.argsort(pitches) == np.argsort(values)).all()


def test_extremes_map_to_the_reference_range_and_steps_are_log_spaced():
    freqs = value_frequencies(np.array([10.0, 20.0, 30.0]))
    assert freqs[0] == pytest.approx(FMIN) and freqs[2] == pytest.approx(FMAX)
    assert freqs[1] == pytest.approx(math.sqrt(FMIN * FMAX))  # equal value steps, equal intervals


def test_nan_gets_its_own_sound():
    clips = series_notes(np.array([1.0, np.nan, 2.0, math.inf]), RATE, seconds=0.2)
    assert tonality(clips[0]) > 0.8 and tonality(clips[2]) > 0.8
    assert tonality(clips[1]) < 0.2 and tonality(clips[3]) < 0.2
    assert np.sqrt((clips[1] ** 2).mean()) > 0.02  # a hiss, not a silence


def test_constant_series_sits_in_the_middle():
    freqs = value_frequencies(np.array([2.5, 2.5, np.nan]))
    assert freqs[:2] == pytest.approx([math.sqrt(FMIN * FMAX)] * 2) and np.isnan(freqs[2])


def test_long_runs_get_shorter_notes():
    assert note_seconds(500) < note_seconds(10)
    assert len(series_notes(np.arange(500.0), RATE)[0]) == round(note_seconds(500) * RATE)


def test_metrics_are_read_with_missing_values_as_nan(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(HEADER + "\n1,10,-1.5,0.2,1.7,0.9,1.7,3.1\n2,20,nan,0.1,1.0,,0.8,3.0\n")
    metrics = read_metrics(path)
    assert list(metrics.epochs) == [1, 2]
    assert metrics.at_epoch("critic_loss", 1) == -1.5
    assert math.isnan(metrics.at_epoch("critic_loss", 2))
    assert math.isnan(metrics.series("generator_loss")[1])
    assert np.isnan(metrics.series("swd")).all()  # absent column


@pytest.mark.parametrize("content", ["", HEADER + "\n"])
def test_empty_metrics_file_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "metrics.csv"
    path.write_text(content)
    with pytest.raises(DataError, match="metrics.csv"):
        read_metrics(path)


def test_tiny_losses_are_spoken_in_thousandths():
    values = np.array([-0.000855, -0.00165])
    text = describe_series("critic loss", np.array([1, 2]), values)
    assert text.startswith("critic loss, in thousandths: started at minus 0.855")
    assert "lowest minus 1.65 at epoch 2" in text


def test_summary_says_start_end_minimum_maximum_and_missing():
    text = describe_series("critic loss", np.array([1, 2, 3, 4]), np.array([-1.5, -3.0, np.nan, 2]))
    assert "started at minus 1.5" in text and "ended at 2" in text
    assert "lowest minus 3 at epoch 2" in text and "highest 2 at epoch 4" in text
    assert "1 epoch is missing" in text


@pytest.mark.parametrize(
    "value, words",
    [
        (-1.2345, "minus 1.23"),
        (0.0, "0"),
        (12345.6, "12346"),
        (-0.000000855, "minus 8.55 e minus 7"),
        (2.5e6, "2.5 e 6"),
        (float("nan"), "missing"),
    ],
)
def test_numbers_are_spoken_plainly(value, words):
    assert spoken_number(value) == words


def test_loss_file_opens_with_the_low_then_high_reference_tone(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(HEADER + "\n1,10,-1,0,1,0.5,1,1\n2,20,-2,0,2,0.4,2,1\n")
    sound = to_array(losses_audio(read_metrics(path), RATE)).mean(axis=1)
    loud = np.flatnonzero(np.abs(sound) > 0.05)
    # skip the start-of-series click; the reference tones follow it
    tones_start = loud[np.searchsorted(loud, loud[0] + int(0.1 * RATE))]
    low = sound[tones_start : tones_start + int(0.3 * RATE)]
    high = sound[tones_start + int(0.55 * RATE) : tones_start + int(0.85 * RATE)]
    assert pitch(low) == pytest.approx(FMIN, rel=0.01)
    assert pitch(high) == pytest.approx(FMAX, rel=0.01)
