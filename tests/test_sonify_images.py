"""The vOICe mapping, checked by measuring the synthesised sound."""

import time

import numpy as np
import pytest

from wgan.errors import ConfigError, DataError
from wgan.sonification import Mapping, load_image, row_frequencies, soundscape
from wgan.sonification.images import column_samples

MAPPING = Mapping()  # 1 s scan, 500..5000 Hz, 44.1 kHz
SIZE = 32


def peak_frequency(signal: np.ndarray, rate: int) -> float:
    """Frequency of the strongest spectral peak, refined by parabolic interpolation."""
    windowed = signal * np.hanning(signal.size)
    n = 1 << 18
    spectrum = np.log(np.abs(np.fft.rfft(windowed, n)) + 1e-12)
    k = int(np.argmax(spectrum))
    a, b, c = spectrum[k - 1 : k + 2]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / n


def column_energy(sound: np.ndarray, width: int) -> np.ndarray:
    n = column_samples(width, MAPPING)
    return (sound**2).sum(axis=1)[: n * width].reshape(width, n).sum(axis=1)


def one_pixel(row: int, col: int, colour=(1.0, 1.0, 1.0), size: int = SIZE) -> np.ndarray:
    image = np.zeros((size, size, 3), np.float32)
    image[row, col] = colour
    return image


def energy_near(signal: np.ndarray, rate: int, freq: float, rel: float = 0.03) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size))) ** 2
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    return float(spectrum[np.abs(freqs - freq) < rel * freq].sum() / spectrum.sum())


@pytest.mark.parametrize("row, col", [(0, 3), (5, 20), (16, 16), (27, 8), (31, 29)])
def test_bright_pixel_sounds_at_its_row_pitch_and_column_time(row, col):
    sound = soundscape(one_pixel(row, col), MAPPING)
    n = column_samples(SIZE, MAPPING)
    mono = sound.sum(axis=1)
    window = mono[max(0, (col - 1) * n) : (col + 2) * n]
    expected = row_frequencies(SIZE, MAPPING)[row]
    assert peak_frequency(window, MAPPING.sample_rate) == pytest.approx(expected, rel=0.01)

    energy = (sound**2).sum(axis=1)
    centre = (energy * np.arange(energy.size)).sum() / energy.sum() / MAPPING.sample_rate
    expected_time = (col + 0.5) * n / MAPPING.sample_rate
    assert abs(centre - expected_time) < n / MAPPING.sample_rate


def test_top_row_is_highest_and_rows_are_exponentially_spaced():
    freqs = row_frequencies(SIZE, MAPPING)
    assert freqs[0] == pytest.approx(5000) and freqs[-1] == pytest.approx(500)
    ratios = freqs[:-1] / freqs[1:]
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 1


def test_scan_takes_about_the_requested_seconds():
    for seconds in (0.5, 1.0, 2.0):
        sound = soundscape(np.ones((SIZE, SIZE)), Mapping(seconds=seconds))
        assert sound.shape == (pytest.approx(seconds * 44100, rel=0.01), 2)


def test_left_ear_leads_and_right_ear_ends():
    sound = soundscape(np.full((SIZE, SIZE, 3), 0.8, np.float32), MAPPING)
    quarter = sound.shape[0] // 4
    start, end = sound[:quarter], sound[-quarter:]
    rms = lambda x: np.sqrt((x**2).mean())  # noqa: E731
    assert rms(start[:, 0]) > 3 * rms(start[:, 1])
    assert rms(end[:, 1]) > 3 * rms(end[:, 0])


def test_black_image_is_silent():
    sound = soundscape(np.zeros((SIZE, SIZE, 3), np.uint8), MAPPING)
    assert sound.shape[0] > 0 and not sound.any()


def test_dim_image_is_quieter_than_bright_on_a_fixed_scale():
    rng = np.random.default_rng(0)
    pattern = rng.uniform(size=(SIZE, SIZE, 3)).astype(np.float32)
    dim, bright = soundscape(0.2 * pattern, MAPPING), soundscape(0.8 * pattern, MAPPING)
    ratio = np.sqrt((dim**2).mean() / (bright**2).mean())
    assert ratio == pytest.approx(0.25, rel=0.02)  # no per-image normalisation


def test_integer_images_are_read_on_the_0_to_255_scale():
    as_bytes = soundscape(np.full((8, 8), 128, np.uint8), MAPPING)
    as_ints = soundscape(np.full((8, 8), 128, np.int64), MAPPING)
    as_floats = soundscape(np.full((8, 8), 128 / 255, np.float32), MAPPING)
    assert np.allclose(as_bytes, as_floats, atol=1e-6)
    assert np.allclose(as_ints, as_floats, atol=1e-6)


def test_white_image_does_not_clip():
    sound = soundscape(np.ones((64, 64, 3), np.float32), MAPPING)
    assert np.abs(sound).max() <= 1.0


def test_projection_on_row_frequencies_recovers_the_image():
    size = 16
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    image = np.clip(0.9 * ((x - 0.4) ** 2 + (y - 0.5) ** 2 < 0.08) + 0.4 * x * (1 - y), 0, 1)
    sound = soundscape(image, MAPPING)
    n = column_samples(size, MAPPING)
    freqs = row_frequencies(size, MAPPING)
    t = np.arange(n) / MAPPING.sample_rate
    recovered = np.zeros((size, size))
    for col in range(size):
        piece = sound[col * n : (col + 1) * n]
        for row, f in enumerate(freqs):
            basis = np.exp(-2j * np.pi * f * t) * np.hanning(n)
            recovered[row, col] = np.hypot(*np.abs(basis @ piece))
    correlation = np.corrcoef(recovered.ravel(), image.ravel())[0, 1]
    assert correlation > 0.9


@pytest.mark.parametrize(
    "colour, harmonic, present",
    [((1, 0, 0), 2, True), ((0, 0, 1), 3, True), ((0, 1, 0), 2, False), ((0, 1, 0), 3, False)],
)
def test_colour_is_heard_as_overtones(colour, harmonic, present):
    colour = tuple(0.6 * c for c in colour)  # timbre does not depend on brightness
    row, col = SIZE - 1, SIZE // 2  # lowest row: its overtones stay far below Nyquist
    sound = soundscape(one_pixel(row, col, colour), MAPPING).sum(axis=1)
    n = column_samples(SIZE, MAPPING)
    piece = sound[(col - 1) * n : (col + 2) * n]
    share = energy_near(piece, MAPPING.sample_rate, harmonic * row_frequencies(SIZE)[row])
    assert (share > 0.1) if present else (share < 0.001)


@pytest.mark.parametrize("colour", [(0.7, 0.7, 0.7), (1, 1, 1), (0.1, 0.1, 0.1)])
def test_grey_pixel_is_a_pure_tone(colour):
    sound = soundscape(one_pixel(10, 10, colour), MAPPING).sum(axis=1)
    n = column_samples(SIZE, MAPPING)
    piece = sound[9 * n : 12 * n]
    fundamental = row_frequencies(SIZE)[10]
    assert energy_near(piece, MAPPING.sample_rate, fundamental, rel=0.1) > 0.999
    for harmonic in (2, 3):
        assert energy_near(piece, MAPPING.sample_rate, harmonic * fundamental) < 1e-4


def test_64px_colour_image_takes_well_under_50_ms():
    rng = np.random.default_rng(1)
    soundscape(rng.uniform(size=(64, 64, 3)), MAPPING)  # builds the cached oscillator bank
    times = []
    for _ in range(5):
        image = rng.uniform(size=(64, 64, 3)).astype(np.float32)
        start = time.perf_counter()
        soundscape(image, MAPPING)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.025


@pytest.mark.parametrize(
    "kwargs", [{"fmin": 800, "fmax": 600}, {"seconds": 0}, {"fmax": 30000}, {"fmin": -1}]
)
def test_impossible_mapping_is_refused_with_the_flag_named(kwargs):
    with pytest.raises(ConfigError, match="--"):
        Mapping(**kwargs)


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="broken.png"):
        load_image(bad)


def test_grey_png_loads_as_one_channel_and_colour_as_three(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 255, np.uint8), "L").save(tmp_path / "g.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), "RGB").save(tmp_path / "c.png")
    assert load_image(tmp_path / "g.png").shape == (8, 8)
    assert load_image(tmp_path / "g.png").max() == pytest.approx(1.0)
    assert load_image(tmp_path / "c.png").shape == (8, 8, 3)
