"""scripts/generate.py as a user runs it: repeatable files, a latent walk, weights, bad input."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401
from wgan.config import TrainConfig
from wgan.io import write_json
from wgan.trainer import train

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate.py"
# Keras' own model and weight saving trips a NumPy 2 deprecation warning once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def generate(load_script):
    return load_script("generate")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished 4-epoch run: weights kept at epochs 2 and 4, ``last`` holds 3 and 4."""
    run_dir = tmp_path_factory.mktemp("generate") / "run"
    run_dir.mkdir()
    config = TrainConfig(
        image_size=16, filters=8, latent_dim=8, batch_size=4, n_critic=2, epochs=4,
        grid_samples=4, eval_every=2, eval_samples=16, keep_every=2, seed=0,
        latent_distribution="normal",
    ).validate()
    write_json(run_dir / "config.json", config.to_dict())
    images = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    train(config, images, run_dir)
    return run_dir


def call(generate, *args) -> tuple[int, str]:
    """(exit code, stderr) of one in-process run; argparse errors exit with SystemExit."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = generate.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_same_seed_gives_byte_identical_files(generate, run_dir, tmp_path):
    for out in ("a", "b"):
        assert call(generate, run_dir, "--num", 5, "--seed", 7, "--out", tmp_path / out)[0] == 0
    first = files(tmp_path / "a")
    assert sorted(first) == ["grid.png", *(f"sample_{i:04d}.png" for i in range(5))]
    assert first == files(tmp_path / "b")
    assert Image.open(tmp_path / "a" / "sample_0000.png").size == (16, 16)


def test_a_different_seed_gives_different_images(generate, run_dir, tmp_path):
    call(generate, run_dir, "--num", 3, "--seed", 1, "--out", tmp_path / "a")
    call(generate, run_dir, "--num", 3, "--seed", 2, "--out", tmp_path / "b")
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    # The 4-epoch generator is nearly flat grey: single files may round alike, the set not.
    assert a != b


def test_without_out_images_go_into_the_run_folder(generate, run_dir, capsys):
    assert call(generate, run_dir, "--num", 2)[0] == 0
    assert (run_dir / "generated" / "sample_0001.png").exists()
    assert (run_dir / "generated" / "grid.png").exists()
    assert "--seed" in capsys.readouterr().out  # how to repeat an unseeded call


def test_interpolate_writes_a_looping_gif_and_a_grid_of_the_walk(generate, run_dir, tmp_path):
    out = tmp_path / "walk"
    args = ("--interpolate", "--points", 3, "--steps", 4, "--frame-ms", 50, "--seed", 0)
    assert call(generate, run_dir, *args, "--out", out)[0] == 0
    gif = Image.open(out / "interpolation.gif")
    durations = []
    for index in range(gif.n_frames):
        gif.seek(index)
        durations.append(gif.info["duration"])
    assert gif.n_frames >= 2 and gif.info.get("loop") == 0
    assert sum(durations) == 3 * 4 * 50  # identical neighbours may be merged, never time lost
    # One leg per row: 3 rows of 4 tiles of 16 px with a 2 px border.
    assert Image.open(out / "interpolation.png").size == (4 * 18 + 2, 3 * 18 + 2)
    again = tmp_path / "again"
    call(generate, run_dir, *args, "--out", again)
    assert files(out) == files(again)


def test_checkpoint_picks_the_weights_and_a_keras_file_works_too(generate, run_dir, tmp_path):
    def sample(*args):
        out = tmp_path / "-".join(map(str, args)).replace("/", "_")
        assert call(generate, *args, "--num", 4, "--seed", 3, "--out", out)[0] == 0
        return files(out)

    last = sample(run_dir)
    assert sample(run_dir, "--checkpoint", "last") == last
    assert sample(run_dir, "--checkpoint", 4) == last  # the kept weights of the last epoch
    assert sample(run_dir / "generator.keras") == last  # the final model, in safe mode
    assert sample(run_dir, "--checkpoint", 2) != last
    assert sample(run_dir, "--checkpoint", 3) != last  # the older of the two "last" checkpoints


@pytest.mark.parametrize(
    "args,mentions",
    [
        (["{run}/no-such-thing"], "does not exist"),
        (["{run}", "--num", "0"], "--num"),
        (["{run}", "--num", "-3"], "--num"),
        (["{run}", "--checkpoint", "7"], "epochs available: 2, 3, 4"),
        (["{run}", "--checkpoint", "newest"], "best, last or an epoch"),
        (["{run}/loss.png"], "not a .keras model"),
        (["{run}/critic.keras"], "not a generator"),
        (["{run}/images"], "config.json"),
        (["{run}/generator.keras", "--checkpoint", "best"], "needs a run folder"),
        (["{run}", "--interpolate", "--steps", "1"], "--steps"),
    ],
)
def test_bad_input_is_a_one_line_error(generate, run_dir, tmp_path, args, mentions):
    out = tmp_path / "out"
    code, err = call(generate, *(a.format(run=run_dir) for a in args), "--out", out)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0] and mentions in lines[0]
    assert not out.exists()  # nothing half-written


def test_a_damaged_keras_file_is_a_one_line_error(generate, tmp_path):
    import zipfile

    bad = tmp_path / "generator.keras"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("metadata.json", "{}")
    code, err = call(generate, bad)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "cannot load" in err and str(bad) in err


def test_command_line_error_has_no_traceback(run_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(run_dir), "--checkpoint", "9"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"generate.py: error: no weights kept for epoch 9 in {run_dir}; epochs available: "
        "2, 3, 4 (train.py keeps every --keep-every epochs, the evaluation epochs, and the last "
        "two)"
    ]


def test_an_ema_run_samples_the_averaged_generator_it_exported(generate, tmp_path):
    import keras

    from wgan.generate import latent_noise, load_generator

    run_dir = tmp_path / "ema"
    run_dir.mkdir()
    config = TrainConfig(
        image_size=16, filters=8, latent_dim=8, batch_size=4, n_critic=2, epochs=2,
        grid_samples=4, eval_every=0, keep_every=1, seed=0, ema=0.5,
    ).validate()  # fmt: skip
    write_json(run_dir / "config.json", config.to_dict())
    images = np.random.default_rng(0).integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    model = train(config, images, run_dir)
    exported = keras.saving.load_model(run_dir / "generator.keras")
    noise = latent_noise(3, 8, "uniform", 0)
    averaged = model.ema.average(noise, training=False).numpy()
    np.testing.assert_allclose(exported(noise, training=False), averaged, rtol=1e-6)
    for checkpoint in ("last", "2"):  # a checkpoint and a kept .weights.h5
        loaded = load_generator(run_dir, checkpoint)
        np.testing.assert_allclose(loaded.model(noise, training=False), averaged, rtol=1e-6)
    raw = model.generator(noise, training=False).numpy()
    assert np.abs(raw - averaged).max() > 1e-4  # so the checks above could fail


def test_a_run_folder_from_before_the_presets_still_generates(generate, tmp_path):
    import keras
    import tensorflow as tf

    from wgan.data import to_uint8
    from wgan.generate import latent_noise
    from wgan.models import build_critic, build_generator

    run_dir = tmp_path / "old"
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir(parents=True)
    old_config = {  # as train.py wrote it before presets: no run_format, a warmup flag
        "n_samples": 32, "epochs": 1, "batch_size": 4, "image_size": 16, "channels": 3,
        "latent_dim": 8, "latent_distribution": "uniform", "lr": 5e-5, "clip": 0.01,
        "n_critic": 2, "warmup": False, "filters": 8, "seed": 0, "precision": "float32",
    }  # fmt: skip
    write_json(run_dir / "config.json", old_config)
    generator = build_generator(16, 3, latent_dim=8, filters=8)
    critic = build_critic(16, 3, filters=8)
    optimizers = [keras.optimizers.RMSprop(5e-5) for _ in range(2)]
    optimizers[0].build(critic.trainable_variables)
    optimizers[1].build(generator.trainable_variables)
    old_state = tf.train.Checkpoint(  # the objects wgan 0.1's TrainingState saved, by name
        critic=critic, generator=generator, critic_optimizer=optimizers[0],
        generator_optimizer=optimizers[1], latent_seed=tf.Variable([0, 3], dtype=tf.int64),
        fixed_noise=tf.Variable(np.zeros((4, 8), np.float32)),
        epoch=tf.Variable(1, dtype=tf.int64), best_swd=tf.Variable(np.inf, dtype=tf.float64),
        best_epoch=tf.Variable(0, dtype=tf.int64),
    )  # fmt: skip
    tf.train.CheckpointManager(old_state, checkpoints, 2, checkpoint_name="last").save(1)
    code, err = call(generate, run_dir, "--num", 2, "--seed", 0, "--out", tmp_path / "out")
    assert code == 0, err
    expected = to_uint8(generator(latent_noise(2, 8, "uniform", 0), training=False))
    written = np.asarray(Image.open(tmp_path / "out" / "sample_0000.png"))
    np.testing.assert_array_equal(written, expected[0])  # the old run's own weights
    # An old folder whose checkpoint no longer fits the networks today's code builds from its
    # config is one line that says the folder predates the run format.
    write_json(run_dir / "config.json", {**old_config, "filters": 4})
    code, err = call(generate, run_dir, "--num", 2, "--out", tmp_path / "out2")
    assert code != 0 and "written before run format" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out2").exists()
