"""scripts/train.py as a user runs it: outputs, resume after a kill, and bad input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import wgan  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train.py"
TINY = [
    "--image-size",
    "16",
    "--filters",
    "8",
    "--latent-dim",
    "8",
    "--batch-size",
    "4",
    "--n-critic",
    "2",
    "--seed",
    "0",
]


def no_stray_cache(args) -> list:
    """Runs on a folder cache its decoded images; keep that out of the checkout in tests."""
    return [] if "--cache-dir" in map(str, args) else ["--no-cache"]


def run_train(*args, timeout=240):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(TRAIN), *map(str, args), *no_stray_cache(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _heed_ctrl_c() -> None:
    # A suite started in the background by a shell without job control inherits SIGINT as
    # ignored, and Python then keeps ignoring it: give the child Python's usual Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_train(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, str(TRAIN), *map(str, args), *no_stray_cache(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_heed_ctrl_c,
    )


def make_folder(path: Path, n: int = 40) -> Path:
    rng = np.random.default_rng(0)
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"img_{i:03d}.png")
    return path


def epochs_in(metrics: Path) -> list[int]:
    with metrics.open() as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("train")
    data = make_folder(base / "data")
    run_dir = base / "run"
    result = run_train(
        "--data",
        data,
        "--n-samples",
        32,
        "--epochs",
        2,
        *TINY,
        "--sample-every",
        1,
        "--cache-dir",
        base / "cache",
        "--run-dir",
        run_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_folder_images_are_decoded_once_into_a_memory_mapped_cache(tiny_run):
    run_dir, first = tiny_run
    base = run_dir.parent
    (sampled,) = (base / "cache").glob("*.u8cache")
    assert sampled.name.endswith("-16px-3ch-32-seed0.u8cache")  # 32 of 40 files, by seed 0
    assert sampled.stat().st_size == 32 * 16 * 16 * 3
    assert f"memory-mapped from {sampled}" in first.stdout

    def run(seed, name):
        done = run_train(
            "--data", base / "data", "--n-samples", 0, "--epochs", 1, *TINY, "--seed", seed,
            "--cache-dir", base / "cache", "--run-dir", base / name,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    run(1, "all-files")
    (whole,) = (base / "cache").glob("*-all.u8cache")  # every file: no seed in the name
    written = whole.stat().st_mtime_ns
    again = run(2, "other-seed")
    assert whole.stat().st_mtime_ns == written  # another seed reuses it, nothing is decoded
    assert f"memory-mapped from {whole}" in again.stdout


def test_an_unwritable_cache_folder_means_decoding_into_ram_with_a_note(tmp_path):
    data = make_folder(tmp_path / "data", 16)
    (tmp_path / "file").write_text("not a folder")
    result = run_train(
        "--data", data, "--n-samples", 16, "--epochs", 1, *TINY,
        "--cache-dir", tmp_path / "file" / "cache", "--run-dir", tmp_path / "run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cannot write the image cache" in result.stdout
    assert "memory-mapped" not in result.stdout


def test_tiny_run_writes_config_with_hyperparameters_versions_and_data(tiny_run):
    run_dir, _ = tiny_run
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 2 and config["image_size"] == 16 and config["n_critic"] == 2
    assert config["lr"] == 5e-5 and config["clip"] == 0.01 and config["seed"] == 0
    assert config["n_images"] == 32 and config["data"].endswith("data")
    assert {"tensorflow", "keras", "numpy", "python"} <= set(config["versions"])


def test_tiny_run_writes_grids_and_their_samples(tiny_run):
    run_dir, _ = tiny_run
    images = run_dir / "images"
    assert Image.open(images / "real.png").size[0] > 16
    for epoch in (1, 2):
        grid = images / f"epoch_{epoch:04d}.png"
        assert Image.open(grid).size == (8 * 18 + 2, 8 * 18 + 2)  # 8x8 tiles of 16 px + border
        samples = sorted((images / f"epoch_{epoch:04d}").glob("sample_*.png"))
        assert len(samples) == 64
        assert Image.open(samples[0]).size == (16, 16)


def test_tiny_run_writes_one_metrics_row_per_epoch(tiny_run):
    run_dir, _ = tiny_run
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "epoch",
        "step",
        "critic_loss",
        "critic_real",
        "critic_fake",
        "generator_loss",
        "wasserstein_estimate",
        "seconds",
        "swd",  # the SWD (EVAL_EVERY), appended after the loss columns
    ]
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [int(r["step"]) for r in rows] == [4, 8]  # 32 images / (4 x 2) per epoch
    assert all(np.isfinite(float(r["critic_loss"])) for r in rows)


def test_tiny_run_evaluates_its_last_epoch_and_keeps_it_as_best(tiny_run):
    run_dir, result = tiny_run
    with (run_dir / "metrics.csv").open() as f:
        swd = [row["swd"] for row in csv.DictReader(f)]
    assert swd[0] == "" and float(swd[1]) > 0  # not an evaluation epoch; the last epoch
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert best["epoch"] == 2 and best["swd"] == float(swd[1])
    assert (run_dir / "checkpoints" / "generator" / "epoch_0002.weights.h5").exists()
    assert f"lowest SWD {best['swd']:.4g} at epoch 2" in result.stdout


def test_tiny_run_writes_loss_plot_checkpoint_and_models(tiny_run):
    run_dir, result = tiny_run
    assert Image.open(run_dir / "loss.png").size[0] >= 400
    assert (run_dir / "checkpoints" / "checkpoint").exists()
    generator = keras.saving.load_model(run_dir / "generator.keras")
    critic = keras.saving.load_model(run_dir / "critic.keras")
    assert tuple(generator.output_shape) == (None, 16, 16, 3)
    assert tuple(critic.output_shape) == (None, 1)
    assert "epoch 2/2" in result.stderr  # the progress bar


def wait_for_rows(metrics: Path, rows: int, process, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metrics.exists() and len(epochs_in(metrics)) >= rows:
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.05)
    raise AssertionError("training did not reach the expected epoch in time")


# The WGAN's kills: benchmarks/faults.py --quick; Ctrl-C and SIGTERM: tests/test_resume.py.
@pytest.mark.parametrize("how,preset", [(signal.SIGKILL, "wgan-gp")])
def test_resume_after_the_process_is_killed_keeps_every_epoch_exactly_once(tmp_path, how, preset):
    data = make_folder(tmp_path / "data", 48)
    run_dir = tmp_path / "run"
    process = start_train(
        "--preset", preset, "--data", data, "--n-samples", 48, "--epochs", 400, *TINY,
        "--sample-every", 1, "--run-dir", run_dir,
    )  # fmt: skip
    wait_for_rows(run_dir / "metrics.csv", 3, process)
    process.send_signal(how)
    _, err = process.communicate(timeout=60)
    if how == signal.SIGINT:
        assert process.returncode == 130
        assert "--resume" in err
    killed_at = len(epochs_in(run_dir / "metrics.csv"))
    final = killed_at + 2
    result = run_train("--resume", run_dir, "--epochs", final)
    assert result.returncode == 0, result.stderr[-3000:]
    assert epochs_in(run_dir / "metrics.csv") == list(range(1, final + 1))
    steps = [int(r["step"]) for r in csv.DictReader((run_dir / "metrics.csv").open())]
    assert steps == [6 * e for e in range(1, final + 1)]  # 48 / (4 x 2) per epoch
    grids = sorted(p.name for p in (run_dir / "images").glob("epoch_*.png"))
    assert grids == [f"epoch_{e:04d}.png" for e in range(1, final + 1)]
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == final


@pytest.mark.parametrize("preset", ["wgan", "wgan-gp"])
def test_resume_restores_weights_optimizer_state_and_noise(tmp_path, preset):
    from wgan.build import build_gan
    from wgan.checkpoint import TrainingState
    from wgan.config import TrainConfig
    from wgan.trainer import fixed_noise

    data = make_folder(tmp_path / "data", 16)
    run_dir = tmp_path / "run"
    result = run_train(
        "--preset", preset, "--data", data, "--n-samples", 16, "--epochs", 1, *TINY,
        "--run-dir", run_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    config = TrainConfig.load(run_dir)
    model = build_gan(config)
    state = TrainingState(model, np.zeros_like(fixed_noise(config)), run_dir / "checkpoints")
    assert state.restore() == (1, 0)
    np.testing.assert_array_equal(state.noise, fixed_noise(config))
    assert int(model.generator_optimizer.iterations.numpy()) == 2
    assert int(model.critic_optimizer.iterations.numpy()) == 4
    saved = keras.saving.load_model(run_dir / "generator.keras")
    for a, b in zip(saved.weights, model.generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Every optimizer slot (RMSprop's velocities, Adam's moments) is the one training left.
    stored = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    stored_slots = [stored.get_tensor(name) for name in stored.get_variable_to_shape_map()
                    if name.startswith("critic_optimizer/")]  # fmt: skip
    slots = [v.numpy() for v in model.critic_optimizer.variables
             if "iteration" not in v.path and "learning_rate" not in v.path]  # fmt: skip
    assert sum(int(np.count_nonzero(v)) for v in slots) > 0.5 * sum(v.size for v in slots)
    for slot in slots:  # a fresh optimizer would hold zeros where training left values
        assert any(s.shape == slot.shape and np.array_equal(s, slot) for s in stored_slots)


def test_a_run_folder_from_before_the_presets_is_refused_by_resume_in_one_line(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"epochs": 2, "warmup": False}))
    result = run_train("--resume", run_dir, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"train.py: error: --resume {run_dir}: this run was written by an older wgan (run "
        "format 1, now 3) and cannot be resumed; start a new run (generate.py and sonify.py "
        "still read it)"
    ]


@pytest.mark.parametrize(
    "args,mentions",
    [
        (["--data", "/no/such/folder"], "/no/such/folder"),
        (["--batch-size", "0"], "--batch-size"),
        (["--image-size", "30"], "--image-size"),
        (["--epochs", "-3"], "--epochs"),
        (["--n-critic", "0"], "--n-critic"),
        (["--lr", "fast"], "--lr"),
        (["--batch-size", "abc"], "--batch-size"),
        (["--precision", "fp8"], "--precision"),
        (["--eval-every", "-1"], "--eval-every"),
        (["--preset", "nope"], "--preset must be one of wgan, wgan-gp"),
        (["--gp-weight", "-1"], "--gp-weight"),
        (["--ema", "1.5"], "--ema"),
        (["--penalty", "gp"], "--norm layer or --norm none"),  # batch norm under a GP
        (["--augment", "blur"], "--augment"),
        (["--loss", "bce"], "--loss must be one of"),
    ],
)
def test_bad_input_gets_a_one_line_error_and_no_traceback(tmp_path, args, mentions):
    run_dir = tmp_path / "run"
    result = run_train(*args, "--run-dir", run_dir, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert mentions in lines[0] and "error" in lines[0]
    assert "Traceback" not in result.stderr
    assert not run_dir.exists()  # no empty run folder left behind


def test_unwritable_run_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_train("--run-dir", blocker / "run", timeout=120)
    assert result.returncode == 2
    assert "--run-dir" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "not a folder"


def test_an_empty_run_folder_given_for_a_run_that_cannot_start_is_left_empty(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    empty = tmp_path / "no-images"
    empty.mkdir()
    result = run_train("--data", empty, "--image-size", 16, "--run-dir", run_dir, timeout=120)
    assert result.returncode == 2
    assert "no images" in result.stderr
    assert run_dir.is_dir() and list(run_dir.iterdir()) == []


def test_fewer_images_than_one_iteration_train_by_reuse_with_one_warning(tmp_path):
    run_dir = tmp_path / "run"
    result = run_train("--data", "demo", "--n-samples", 10, "--batch-size", 8, "--n-critic", 2,
                       "--image-size", 16, "--filters", 8, "--epochs", 2, "--eval-every", 0,
                       "--run-dir", run_dir, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    said = result.stdout + result.stderr
    assert said.count("only 10 images for the 16 one iteration takes") == 1
    assert [int(r["step"]) for r in csv.DictReader((run_dir / "metrics.csv").open())] == [1, 2]


def test_an_existing_run_is_never_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.csv").write_text("epoch\n1\n")
    result = run_train("--run-dir", run_dir, "--epochs", "1", timeout=120)
    assert result.returncode == 2
    assert "--resume" in result.stderr and "Traceback" not in result.stderr
    assert (run_dir / "metrics.csv").read_text() == "epoch\n1\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["metrics.csv"]
