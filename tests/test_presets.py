"""Presets through scripts/train.py (in-process, to skip TensorFlow's start-up), --iterations,
and how flags, presets and the script's constants take precedence."""

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

import wgan  # noqa: F401
from wgan.errors import ConfigError
from wgan.presets import PRESETS, preset_values, resolve

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = ["--data", "demo", "--n-samples", "64", "--image-size", "16", "--filters", "8",
        "--latent-dim", "8", "--batch-size", "8", "--eval-samples", "16", "--no-cache",
        "--seed", "0"]  # fmt: skip
# Columns beyond the core ones that each preset's parts add.
OWN_COLUMNS = {
    "wgan": ["wasserstein_estimate"],
    "wgan-gp": ["wasserstein_estimate", "gradient_penalty"],
    "dcgan": [],
    "hinge": [],
    "balanced": ["critic_updated", "generator_updated"],
    "demo": [],
}
CORE = ["critic_loss", "critic_real", "critic_fake", "generator_loss"]
# Presets of the models that use labels train on the digits: tests/test_label_models.py.
LABEL_PRESETS = {"cgan", "acgan", "infogan", "sgan"}
# Image-to-image presets train on the demo tasks: tests/test_translation_scripts.py.
TRANSLATION_PRESETS = {"pix2pix", "cyclegan"}


@pytest.fixture(scope="module")
def train(load_script):
    return load_script("train")


def call(train, *args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = train.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def header(run_dir: Path) -> list[str]:
    with (run_dir / "metrics.csv").open() as f:
        return next(csv.reader(f))


def rows(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_every_preset_is_covered_here():
    assert set(OWN_COLUMNS) | LABEL_PRESETS | TRANSLATION_PRESETS == set(PRESETS)


@pytest.mark.parametrize("preset", list(OWN_COLUMNS))
def test_each_preset_trains_two_epochs_and_writes_its_own_metric_columns(train, preset, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = call(train, "--preset", preset, *TINY, "--epochs", 2, "--run-dir", run_dir)
    assert code == 0, err[-3000:]
    assert header(run_dir) == ["epoch", "step", *CORE, *OWN_COLUMNS[preset], "seconds", "swd"]
    assert [r["epoch"] for r in rows(run_dir)] == ["1", "2"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"] == preset and config["metrics"]["names"] == header(run_dir)[2:-2]
    for field, value in preset_values(preset).items():
        if field not in ("image_size", "filters", "n_samples", "epochs", "precision"):
            assert config[field] == value, field  # every value the preset set is recorded
    assert config["precision"] in ("float32", "bf16")  # "auto" is resolved before recording
    assert (run_dir / "images" / "epoch_0002.png").exists()
    assert f"preset {preset}" in out


def test_without_a_preset_the_constants_run_and_they_are_the_wgan_preset(train):
    args = train.parse_args([])
    constants = train.resolve_config(args)
    preset = train.resolve_config(train.parse_args(["--preset", "wgan"]))
    differs = {k for k, v in constants.to_dict().items() if preset.to_dict()[k] != v}
    assert differs == {"preset"}


def test_a_flag_beats_the_preset_and_the_preset_beats_the_constants():
    constants = {"lr": 1e-3, "n_critic": 7, "filters": 12}
    config = resolve(constants, "wgan-gp", {"n_critic": 3})
    assert config.n_critic == 3  # the flag
    assert config.lr == 1e-4 and config.penalty == "gp"  # the preset
    assert config.filters == 12  # a constant no preset sets
    assert resolve(constants, None, {}).lr == 1e-3


def test_the_highest_layer_that_says_how_long_decides_between_epochs_and_iterations():
    constants = {"epochs": 150, "iterations": 600}
    assert resolve(constants, None, {}).iterations == 600  # a constant: iterations win
    by_flag = resolve(constants, None, {"epochs": 5})
    assert (by_flag.epochs, by_flag.iterations) == (5, 0)  # --epochs beats ITERATIONS
    by_preset = resolve(constants, "demo", {})
    assert (by_preset.epochs, by_preset.iterations) == (120, 0)  # so does a preset's epochs
    assert resolve(constants, "demo", {"iterations": 7}).iterations == 7
    assert resolve({}, None, {"epochs": 3, "iterations": 0}).epochs == 3
    with pytest.raises(ConfigError, match="--epochs or --iterations, not both"):
        resolve({}, None, {"epochs": 3, "iterations": 9})


def test_yes_no_flags_alone_mean_yes(train):
    assert train.parse_args(["--spectral-norm"]).spectral_norm is True
    assert train.parse_args(["--spectral-norm", "no"]).spectral_norm is False
    assert train.parse_args([]).spectral_norm is None  # unset: the preset or constant decides


def test_a_wrong_preset_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="--preset must be one of wgan, wgan-gp, dcgan"):
        preset_values("wgam")


def test_help_lists_every_preset_with_one_line(train, capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    text = capsys.readouterr().out
    for name, preset in PRESETS.items():
        assert f"  {name:<9} {preset.summary}" in text


def test_iterations_end_in_a_partial_last_epoch_that_is_written_like_any_other(train, tmp_path):
    run_dir = tmp_path / "run"
    # 64 demo faces, batch 8, 2 critic updates: 4 iterations per epoch; 10 = 4 + 4 + 2
    code, _, err = call(train, *TINY, "--n-critic", 2, "--iterations", 10, "--eval-every", 2,
                        "--run-dir", run_dir)  # fmt: skip
    assert code == 0, err[-3000:]
    assert [(r["epoch"], r["step"]) for r in rows(run_dir)] == [("1", "4"), ("2", "8"), ("3", "10")]
    assert rows(run_dir)[-1]["swd"] != ""  # the last epoch is evaluated
    assert Image.open(run_dir / "images" / "epoch_0003.png")
    assert (run_dir / "checkpoints" / "last-3.index").exists()
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == 3
    started = json.loads((run_dir / "config.json").read_text())["started"]
    code, _, err = call(train, "--resume", run_dir, "--iterations", 13, "--no-cache")
    assert code == 0, err[-3000:]
    assert [r["step"] for r in rows(run_dir)] == ["4", "8", "10", "13"]
    code, _, err = call(train, "--resume", run_dir, "--epochs", 5, "--no-cache")
    assert code == 0, err[-3000:]  # a length in epochs replaces the one in iterations
    assert [r["step"] for r in rows(run_dir)] == ["4", "8", "10", "13", "17"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["started"] == started  # the run's start stays on record ...
    assert [(r["epochs"], r["iterations"]) for r in config["resumed"]] == [(4, 13), (5, 0)]
