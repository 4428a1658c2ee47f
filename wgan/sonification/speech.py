"""Spoken narration with pyttsx3 (espeak-ng on Linux), returned as samples ready to mix.

pyttsx3 drives one espeak-ng instance per process, so a single engine is created lazily and reused
behind a lock. Its `runAndWait()` may return before a `save_to_file()` WAV is complete, so each call
waits for the `finished-utterance` callback and then checks the file. When pyttsx3 cannot load
libespeak-ng or returns an empty or unfinished file twice, the `espeak-ng -w` command is used
instead; only when neither works is `SpeechUnavailableError` raised.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

from wgan.errors import WganError

log = logging.getLogger(__name__)

#: Speaking rate in words per minute (espeak-ng's default); blind users often prefer faster.
WORDS_PER_MINUTE = 175
#: Peak level of speech after normalisation; matches the peak of a bright soundscape.
SPEECH_PEAK = 0.3
#: Longest wait for pyttsx3 to finish one utterance file.
TIMEOUT_SECONDS = 20.0
#: Level under which leading and trailing speech samples count as silence and are trimmed.
TRIM_LEVEL = 0.01
#: Backends `Narrator` accepts.
BACKENDS = ("auto", "pyttsx3", "espeak-ng")

INSTALL_HINT = "install espeak-ng and libespeak-ng1 (apt-get install espeak-ng libespeak-ng1)"


class SpeechUnavailableError(WganError, RuntimeError):
    """No text-to-speech engine works on this machine."""


_lock = threading.Lock()
_engine = None
_engine_error: Exception | None = None
_finished: list[bool] = []


def _on_finished(name: str | None, completed: bool) -> None:
    _finished.append(completed)


def _pyttsx3_engine():
    """The process-wide pyttsx3 engine, created on first use; None if it cannot start."""
    global _engine, _engine_error
    if _engine is None and _engine_error is None:
        try:
            import pyttsx3

            with contextlib.redirect_stdout(io.StringIO()):
                engine = pyttsx3.init()
            engine.connect("finished-utterance", _on_finished)
            _engine = engine
        except Exception as err:  # pyttsx3 raises OSError, RuntimeError, ... without espeak-ng
            _engine_error = err
            log.info("pyttsx3 unavailable (%s); falling back to the espeak-ng command", err)
    return _engine


def _wav_is_complete(path: Path) -> bool:
    """True when the WAV header's frame count matches the bytes on disk and there is audio."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, width, channels = wav.getnframes(), wav.getsampwidth(), wav.getnchannels()
        return frames > 0 and path.stat().st_size >= 44 + frames * width * channels
    except (OSError, EOFError, wave.Error):
        return False


def _say_pyttsx3(text: str, path: Path, words_per_minute: int) -> bool:
    """Write `text` to `path` with pyttsx3; False when the engine failed this time."""
    engine = _pyttsx3_engine()
    if engine is None:
        return False
    with _lock:
        for _attempt in range(2):
            path.unlink(missing_ok=True)
            _finished.clear()
            # The espeak driver prints "Audio saved to ..." when the file is written, which can
            # be after runAndWait() returns; the library never prints, so stdout stays
            # redirected until the finished-utterance callback has come.
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    engine.setProperty("rate", words_per_minute)
                    engine.save_to_file(text, str(path))
                    engine.runAndWait()
                except Exception as err:
                    log.info("pyttsx3 failed on %r: %s", text, err)
                    return False
                if _wait_for_file(path):
                    return True
            log.info("pyttsx3 gave no complete file for %r; retrying", text)
    return False


def _wait_for_file(path: Path) -> bool:
    """Wait for the finished-utterance callback, then for a complete WAV at `path`."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _finished and not _finished[-1]:
            return False  # the utterance was cut short
        if _finished and _wav_is_complete(path):
            return True
        time.sleep(0.01)
    return False


def _say_espeak_cli(text: str, path: Path, words_per_minute: int) -> bool:
    """Write `text` to `path` with the espeak-ng program; False when it is missing or fails."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return False
    result = subprocess.run(
        [exe, "-s", str(words_per_minute), "-w", str(path), "--", text],
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    return result.returncode == 0 and _wav_is_complete(path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float samples in [-1, 1] and the sample rate of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        data = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit samples")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Linear-interpolation resampling; enough for speech, which has little energy above 5 kHz."""
    if rate == target_rate or samples.size == 0:
        return samples.astype(np.float32)
    n_out = max(1, round(samples.size * target_rate / rate))
    positions = np.arange(n_out) * (rate / target_rate)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def _trim(samples: np.ndarray, rate: int, keep_seconds: float = 0.05) -> np.ndarray:
    """Drop leading and trailing silence but keep a short breath on each side."""
    loud = np.flatnonzero(np.abs(samples) > TRIM_LEVEL * max(np.abs(samples).max(), 1e-9))
    if loud.size == 0:
        return samples[:0]
    keep = round(keep_seconds * rate)
    return samples[max(0, loud[0] - keep) : loud[-1] + keep + 1]


class Narrator:
    """Turns sentences into speech samples at the soundscape's sample rate.

    backend: "auto" (pyttsx3, then the espeak-ng command), "pyttsx3" or "espeak-ng".
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        words_per_minute: int = WORDS_PER_MINUTE,
        backend: str = "auto",
        peak: float = SPEECH_PEAK,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown speech backend {backend!r}; use one of {BACKENDS}")
        self.sample_rate = sample_rate
        self.words_per_minute = words_per_minute
        self.backend = backend
        self.peak = peak

    def save(self, text: str, path: str | Path) -> Path:
        """Speak `text` into a WAV file at espeak's own rate (22050 Hz mono)."""
        path = Path(path)
        if not text.strip():
            raise ValueError("nothing to say: empty text")
        if self.backend in ("auto", "pyttsx3") and _say_pyttsx3(text, path, self.words_per_minute):
            return path
        if self.backend in ("auto", "espeak-ng") and _say_espeak_cli(
            text, path, self.words_per_minute
        ):
            return path
        path.unlink(missing_ok=True)
        raise SpeechUnavailableError(f"no text-to-speech engine works here; {INSTALL_HINT}")

    def say(self, text: str) -> np.ndarray:
        """Mono float32 speech at `sample_rate`, trimmed and normalised to a fixed peak."""
        fd, name = tempfile.mkstemp(suffix=".wav", prefix="wgan-speech-")
        os.close(fd)
        try:
            samples, rate = read_wav(self.save(text, name))
        finally:
            Path(name).unlink(missing_ok=True)
        samples = _trim(samples, rate)
        if samples.size:
            samples = samples * (self.peak / np.abs(samples).max())
        return resample(samples, rate, self.sample_rate)


def speech_available(backend: str = "auto") -> bool:
    """Whether `Narrator(backend=backend)` can speak here (tries one short word)."""
    try:
        return Narrator(backend=backend).say("ok").size > 0
    except SpeechUnavailableError:
        return False
