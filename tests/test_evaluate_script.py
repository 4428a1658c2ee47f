"""scripts/evaluate.py as a user runs it: run folders, image folders, JSON out, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "evaluate.py"
# Keras' own model and weight saving trips a NumPy 2 deprecation warning once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def evaluate(load_script):
    return load_script("evaluate")


@pytest.fixture(autouse=True)
def no_inception_cache(tmp_path, monkeypatch):
    """No weights in a Keras cache unless a test passes them."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home" / ".keras"))


def write_images(folder: Path, n: int, seed: int, size: int = 16, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        colour = rng.uniform(0, 255, 3)
        image = colour * (0.5 + 0.5 * np.sin(6 * (xx + rng.uniform()) + 4 * yy))[..., None]
        image = Image.fromarray(image.astype(np.uint8))
        image.convert(mode).save(folder / f"img_{i:03d}.png")
    return folder


def make_run(folder: Path, latent_dim: int = 8, distribution: str = "normal") -> Path:
    """A run folder as train.py leaves it: a tiny tanh generator and its config."""
    folder.mkdir(parents=True)
    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(8 * 8 * 4),
            keras.layers.Reshape((8, 8, 4)),
            keras.layers.UpSampling2D(2),
            keras.layers.Conv2D(3, 3, padding="same", activation="tanh"),
        ]
    )
    generator.save(folder / "generator.keras")
    config = {"latent_dim": latent_dim, "latent_distribution": distribution, "image_size": 16}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def run_script(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def test_image_folders_are_scored_with_swd_and_the_json_has_every_key(
    evaluate, tmp_path, capsys, monkeypatch
):
    generated = write_images(tmp_path / "generated", 30, seed=1)
    real = write_images(tmp_path / "real", 40, seed=2)
    monkeypatch.chdir(tmp_path)
    assert evaluate.main([str(generated), str(real), "--n-real", "40", "--seed", "3"]) == 0
    shown = capsys.readouterr().out
    assert "FID/KID skipped" in shown and "--inception-weights" in shown
    assert "swd_avg" in shown

    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["n_generated"] == 30 and report["n_real"] == 40
    assert report["image_size"] == 16 and report["channels"] == 3 and report["seed"] == 3
    assert set(report["metrics"]) == {"swd_16", "swd_avg"}
    assert report["metrics"]["swd_avg"] > 0
    assert report["skipped"] == ["fid", "kid"]


def test_a_run_folder_is_scored_on_fresh_generator_images_reproducibly(evaluate, tmp_path):
    run = make_run(tmp_path / "run")
    real = write_images(tmp_path / "real", 20, seed=2, mode="L")
    args = [str(run), str(real), "--num", "24", "--metrics", "swd", "--seed", "5"]
    assert evaluate.main(args) == 0
    first = json.loads((run / "metrics.json").read_text())
    assert first["generated_source"].endswith("generator.keras")
    assert first["n_generated"] == 24 and first["n_real"] == 20
    assert first["image_size"] == 16 and first["channels"] == 3
    assert first["skipped"] == []

    out = tmp_path / "again.json"
    assert evaluate.main([*args, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"] == first["metrics"]


def test_a_run_without_a_generator_falls_back_to_its_newest_samples(evaluate, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "images").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"latent_dim": 8}))
    write_images(run / "images" / "epoch_0001", 4, seed=1, mode="L")
    write_images(run / "images" / "epoch_0002", 6, seed=2, mode="L")
    real = write_images(tmp_path / "real", 10, seed=3)
    assert evaluate.main([str(run), str(real), "--metrics", "swd"]) == 0
    assert "epoch_0002" in capsys.readouterr().out
    report = json.loads((run / "metrics.json").read_text())
    assert report["generated_source"].endswith("epoch_0002")
    assert report["n_generated"] == 6 and report["channels"] == 1


def test_fid_and_kid_are_computed_with_a_local_inception_weights_file(evaluate, tmp_path):
    weights = tmp_path / "inception.weights.h5"
    keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    ).save_weights(weights)
    generated = write_images(tmp_path / "generated", 6, seed=1)
    real = write_images(tmp_path / "real", 6, seed=2)
    out = tmp_path / "scores.json"
    args = [generated, real, "--inception-weights", weights, "--out", out, "--batch-size", "6"]
    assert evaluate.main(list(map(str, args))) == 0
    report = json.loads(out.read_text())
    assert {"swd_avg", "fid", "kid", "kid_std"} <= set(report["metrics"])
    assert report["inception_weights"] == str(weights) and report["skipped"] == []


def test_asking_for_fid_without_weights_is_an_error_not_a_skip(evaluate, tmp_path, capsys):
    generated = write_images(tmp_path / "generated", 5, seed=1)
    real = write_images(tmp_path / "real", 5, seed=2)
    out = tmp_path / "metrics.json"
    code = evaluate.main([str(generated), str(real), "--metrics", "swd,fid", "--out", str(out)])
    assert code != 0
    error = capsys.readouterr().err.strip()
    assert "--inception-weights" in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_missing_folder_is_a_one_line_error_without_traceback(tmp_path):
    real = write_images(tmp_path / "real", 5, seed=2)
    result = run_script(tmp_path / "no-such-run", real, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no-such-run" in result.stderr
    assert not (tmp_path / "metrics.json").exists()


def test_folder_without_images_is_a_one_line_error_without_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here")
    generated = write_images(tmp_path / "generated", 5, seed=1)
    result = run_script(generated, empty, "--metrics", "swd", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no images" in result.stderr and str(empty) in result.stderr
