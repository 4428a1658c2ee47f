"""Narration: needs espeak-ng (installed by .ci/run and dependencies.sh); these tests never skip."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from wgan.sonification import Mapping, Narrator, images_audio, soundscape, to_array
from wgan.sonification.speech import read_wav, resample

RATE = 22050
ROOT = Path(__file__).resolve().parents[1]


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples))))


@pytest.mark.parametrize("backend", ["pyttsx3", "espeak-ng"])
def test_speech_wav_exists_and_is_not_silent(tmp_path, backend):
    path = Narrator(backend=backend).save("Epoch three, sample one.", tmp_path / "speech.wav")
    with wave.open(str(path)) as wav:
        assert wav.getnframes() > 0.3 * wav.getframerate()  # at least 0.3 s of audio
    samples, _ = read_wav(path)
    assert rms(samples) > 0.01


def test_repeated_narration_gives_complete_audio_every_time():
    narrator = Narrator(sample_rate=RATE)
    texts = [f"Sample {i}, mean brightness {10 * i} percent." for i in range(8)]
    lengths = [narrator.say(text).size for text in texts]
    assert min(lengths) > 0.5 * RATE


def test_speech_comes_at_the_requested_rate_and_fixed_peak():
    short = Narrator(sample_rate=16000).say("Critic loss minus 1.5")
    long = Narrator(sample_rate=44100).say("Critic loss minus 1.5")
    assert long.size / short.size == pytest.approx(44100 / 16000, rel=0.02)
    assert np.abs(long).max() == pytest.approx(0.3, rel=0.01)


def test_library_prints_nothing_while_speaking():
    # A fresh process: pyttsx3's espeak driver prints when it saves, even on its first call.
    code = "import wgan.sonification as s; [s.Narrator().say(f'word {i}') for i in range(3)]"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout == ""


def test_resampling_keeps_the_pitch():
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 1000 * t)
    up = resample(tone, RATE, 44100)
    assert up.size == 44100
    peak = np.argmax(np.abs(np.fft.rfft(up))) * 44100 / up.size
    assert peak == pytest.approx(1000, abs=2)


def test_narrated_file_is_longer_than_the_soundscape_alone():
    mapping = Mapping(sample_rate=RATE)
    image = np.full((16, 16, 3), 0.5, np.float32)
    plain_seconds = soundscape(image, mapping).shape[0] / RATE
    intro = ["Epoch 2, sample 0, mean brightness 50 percent."]
    narrated = images_audio([image], intro, mapping, Narrator(sample_rate=RATE), "Run test.")
    silent = images_audio([image], intro, mapping, None, "Run test.")
    assert len(silent) / 1000 >= plain_seconds
    assert len(narrated) / 1000 > len(silent) / 1000 + 2.0  # legend, header and intro are heard
    samples = to_array(narrated)
    assert rms(samples[: RATE * 2]) > 0.01  # it opens with speech, not silence
