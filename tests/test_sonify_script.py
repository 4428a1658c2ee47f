"""scripts/sonify.py and sonify.sh end to end: the files a user gets, and the errors they see."""

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wgan.sonification import export, ffmpeg_available, to_segment

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sonify.py"
HEADER = [
    "epoch", "step", "critic_loss", "critic_real", "critic_fake",
    "generator_loss", "wasserstein_estimate", "seconds",
]  # fmt: skip


def load_script():
    if str(SCRIPT.parent) not in sys.path:
        sys.path.append(str(SCRIPT.parent))  # for scripts/_common.py, as when run as a script
    spec = importlib.util.spec_from_file_location("sonify_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SONIFY = load_script()


@pytest.fixture
def sonify(capsys):
    """Runs the script's main() in this process (no second TensorFlow start-up per call)."""

    def run(*args) -> subprocess.CompletedProcess:
        try:
            code = SONIFY.main([str(arg) for arg in args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        if isinstance(code, str):  # sys.exit("error: ...") prints it and exits with 1
            err, code = err + code + "\n", 1
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def sonify_process(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    """The script as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True
    )


def assert_valid_wav(path: Path, min_seconds: float = 0.5) -> None:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() / wav.getframerate() >= min_seconds
    assert np.abs(np.frombuffer(frames, "<i2")).max() > 100, f"{path} is silent"


def assert_valid_mp3(path: Path) -> None:
    head = path.read_bytes()[:3]
    assert head == b"ID3" or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0), f"{path} is not MP3"


def assert_no_partial_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def make_run(root: Path, name="20250101-120000", epochs=3, samples=4, size=16, metrics=True):
    """A run folder laid out like scripts/train.py writes it, without training anything."""
    run = root / name
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        for i in range(samples):
            level = 40 * epoch + 10 * i
            pixels = rng.integers(0, 60, (size, size, 3)) + level
            save_png(run / "images" / f"epoch_{epoch:04d}" / f"sample_{i:02d}.png",
                     np.clip(pixels, 0, 255).astype(np.uint8))  # fmt: skip
        save_png(run / "images" / f"epoch_{epoch:04d}.png", np.zeros((size, size, 3), np.uint8))
    save_png(run / "images" / "real.png", np.zeros((size, size, 3), np.uint8))
    (run / "config.json").write_text(json.dumps({"image_size": size, "epochs": epochs}))
    with open(run / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        if metrics:
            for epoch in range(1, epochs + 1):
                gen = "nan" if epoch == 2 else 0.1 * epoch
                writer.writerow([epoch, 10 * epoch, -1.0 / epoch, 0.5, 1.5, gen, 1.0 / epoch, 2.0])
    return run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny run folder made by the trainer itself."""
    tmp = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    for i in range(32):
        save_png(tmp / "data" / f"face_{i:02d}.png", rng.integers(0, 256, (16, 16, 3), np.uint8))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--data", tmp / "data",
         "--n-samples", "32", "--epochs", "2", "--image-size", "16", "--batch-size", "4",
         "--n-critic", "2", "--sample-every", "1", "--seed", "0", "--run-dir", tmp / "run",
         "--cache-dir", tmp / "cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return tmp / "run"


def test_trained_run_gets_epoch_progression_and_loss_files(trained_run):
    fmt = ["--format", "mp3"] if ffmpeg_available() else []
    result = sonify_process(trained_run, "--samples", "3", *fmt)
    assert result.returncode == 0, result.stderr
    audio = trained_run / "audio"
    names = ["epoch_0002", "progression_sample_00", "losses"]
    for name in names:
        assert_valid_wav(audio / f"{name}.wav", min_seconds=2.0)
        if fmt:
            assert_valid_mp3(audio / f"{name}.mp3")
    assert not (audio / "epoch_0001.wav").exists()  # default: the last epoch only
    assert_no_partial_files(audio)
    assert str(audio / "losses.wav") in result.stdout


def test_narration_makes_the_files_longer(tmp_path, sonify):
    run = make_run(tmp_path, epochs=2, samples=2)
    quiet = sonify(run, "--no-speech", "--out", tmp_path / "quiet")
    spoken = sonify(run, "--out", tmp_path / "spoken")
    assert quiet.returncode == 0 and spoken.returncode == 0, quiet.stderr + spoken.stderr
    for name in ("epoch_0002.wav", "progression_sample_00.wav", "losses.wav"):
        with (
            wave.open(str(tmp_path / "quiet" / name)) as a,
            wave.open(str(tmp_path / "spoken" / name)) as b,
        ):
            assert b.getnframes() > a.getnframes() + 2 * a.getframerate()


def test_epochs_all_and_a_list_choose_the_grids(tmp_path, sonify):
    run = make_run(tmp_path, epochs=3, samples=2)
    assert sonify(run, "--no-speech", "--epochs", "all").returncode == 0
    assert sorted(p.name for p in (run / "audio").glob("epoch_*.wav")) == [
        "epoch_0001.wav", "epoch_0002.wav", "epoch_0003.wav"
    ]  # fmt: skip
    shutil.rmtree(run / "audio")
    assert sonify(run, "--no-speech", "--epochs", "1,3").returncode == 0
    assert sorted(p.name for p in (run / "audio").glob("epoch_*.wav")) == [
        "epoch_0001.wav", "epoch_0003.wav"
    ]  # fmt: skip


def progression_seconds(sonify, run: Path, *args) -> float:
    assert sonify(run, "--no-speech", "--seconds", "0.5", *args).returncode == 0
    with wave.open(str(run / "audio" / "progression_sample_01.wav")) as wav:
        return wav.getnframes() / wav.getframerate()


def test_progression_follows_one_sample_through_every_epoch(tmp_path, sonify):
    run = make_run(tmp_path, epochs=5, samples=2)
    every = progression_seconds(sonify, run, "--sample", "1")
    assert 5 * 0.5 < every < 5 * (0.5 + 1.0)  # five scans, with clicks and pauses
    three = progression_seconds(sonify, run, "--sample", "1", "--progression-max", "3")
    assert 0.5 < three / every < 0.75


def test_image_files_get_a_soundscape_next_to_them_or_in_out(tmp_path, sonify):
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png"):
        save_png(tmp_path / name, rng.integers(0, 256, (16, 16, 3), np.uint8))
    result = sonify(tmp_path / "a.png", tmp_path / "b.png", "--no-speech")
    assert result.returncode == 0, result.stderr
    assert_valid_wav(tmp_path / "a.wav") and assert_valid_wav(tmp_path / "b.wav")
    assert sonify(tmp_path / "a.png", "--no-speech", "--out", tmp_path / "o").returncode == 0
    assert_valid_wav(tmp_path / "o" / "a.wav")


def test_sonify_sh_uses_the_newest_run_and_passes_arguments(tmp_path):
    old = make_run(tmp_path / "runs", name="20240101-000000", epochs=1, samples=1)
    new = make_run(tmp_path / "runs", name="20250101-000000", epochs=1, samples=1)
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        [str(ROOT / "sonify.sh"), "--runs-dir", tmp_path / "runs", "--no-speech"],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (new / "audio" / "losses.wav").exists() and not (old / "audio").exists()


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_run_is_a_one_line_error(tmp_path, sonify):
    line = one_line_error(sonify_process(tmp_path / "nope"))  # as the user sees it
    assert line.startswith("error:") and "nope" in line
    line = one_line_error(sonify("--runs-dir", tmp_path / "empty"))
    assert "empty" in line and "train" in line


def test_folder_with_no_images_is_a_one_line_error(tmp_path, sonify):
    run = make_run(tmp_path, epochs=1, samples=1)
    shutil.rmtree(run / "images" / "epoch_0001")
    line = one_line_error(sonify(run, "--no-speech"))
    assert "images" in line
    assert not (run / "audio").exists()


def test_bad_flags_are_one_line_errors(tmp_path, sonify):
    run = make_run(tmp_path, epochs=1, samples=1)
    assert "--fmin" in one_line_error(sonify(run, "--fmin", "900", "--fmax", "800"))
    assert "--samples" in one_line_error(sonify(run, "--samples", "-1"))
    assert one_line_error(sonify(run, "--epochs", "7")).startswith("error:")
    assert "7" in sonify(run, "--epochs", "7").stderr


def test_unreadable_sample_is_skipped_with_a_warning_naming_it(tmp_path, sonify):
    run = make_run(tmp_path, epochs=2, samples=3)
    broken = run / "images" / "epoch_0002" / "sample_01.png"
    broken.write_bytes(b"\x89PNG broken")
    result = sonify(run, "--no-speech")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "sample_01.png" in result.stderr
    assert_valid_wav(run / "audio" / "epoch_0002.wav")


def test_unreadable_image_file_is_an_error_naming_it(tmp_path, sonify):
    (tmp_path / "bad.png").write_bytes(b"no image here")
    result = sonify(tmp_path / "bad.png", "--no-speech")
    assert result.returncode != 0 and "bad.png" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad.wav").exists()


def test_empty_metrics_warns_naming_the_file_and_skips_losses(tmp_path, sonify):
    run = make_run(tmp_path, epochs=2, samples=1, metrics=False)
    result = sonify(run, "--no-speech")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "metrics.csv" in result.stderr
    assert (run / "audio" / "epoch_0002.wav").exists()
    assert not (run / "audio" / "losses.wav").exists()


def test_failed_export_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    segment = to_segment(np.zeros((100, 2)), 8000)
    target = tmp_path / "x.wav"
    target.write_bytes(b"old")

    def explode(self, out_f, format):
        out_f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(type(segment), "export", explode)
    with pytest.raises(OSError):
        export(segment, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
