"""RUN/tensorboard/: every metric per epoch and per N iterations on the run's own axes (a resumed
run goes on along both), the SWD, the grids and the hyperparameters; none with it turned off."""

import csv
import signal
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from PIL import Image
from sessions import StopAt, start
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from wgan.config import TrainConfig
from wgan.errors import ConfigError
from wgan.interrupt import Interrupted, StopRequest
from wgan.presets import resolve
from wgan.run_folder import TENSORBOARD_TRAIN, RunFolder
from wgan.trainer import resume_config

EVERY = 2  # tensorboard_every: iterations 2, 4, ... on the run's axis
TINY = {"image_size": 16, "filters": 8, "latent_dim": 8, "batch_size": 8, "n_samples": 48,
        "n_critic": 2, "grid_samples": 16, "epochs": 3, "eval_every": 2, "eval_samples": 16,
        "sample_every": 2, "keep_every": 0, "precision": "float32", "data": "demo", "seed": 3,
        "tensorboard_every": EVERY}  # fmt: skip


def read(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def plugin(events: EventAccumulator, tag: str) -> str:
    return events.SummaryMetadata(tag).plugin_data.plugin_name


def series(events: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a scalar, in the order written."""
    return [(e.step, tf.make_ndarray(e.tensor_proto).item()) for e in events.Tensors(tag)]


def metrics_rows(folder: RunFolder) -> list[dict]:
    with folder.metrics.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def stopped_and_resumed(tmp_path_factory):
    """A run stopped inside epoch 2 (iteration 5 of 3 x 3), then resumed to its end: the rest
    of epoch 2 and epoch 3, two ``fit`` calls in one session."""
    run = tmp_path_factory.mktemp("board") / "run"
    session = start(resolve({}, None, TINY), run_dir=run)
    steps = session.plan.steps_per_epoch
    assert steps == 3
    session.config.checkpoint_minutes = 1e-9  # a save inside the epoch at the stop
    request = StopRequest()
    with pytest.raises(Interrupted):
        session.fit(callbacks=[StopAt(steps + 2, request, signal.SIGINT)], stop=request)
    before = read(RunFolder(run).tensorboard_train)
    before = {tag: series(before, tag) for tag in before.Tags()["tensors"]
              if plugin(before, tag) == "scalars"}  # fmt: skip
    session = start(resume_config(run, {}), run_dir=run, resume=True)
    assert session.plan.position == 2
    model = session.fit()
    return RunFolder(run), model, before


def test_every_metric_has_one_point_per_epoch_equal_to_metrics_csv(stopped_and_resumed):
    folder, model, _ = stopped_and_resumed
    events = read(folder.tensorboard_train)
    rows = metrics_rows(folder)
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    for name in model.metric_names:
        points = series(events, f"epoch_{name}")
        assert [step for step, _ in points] == [1, 2, 3], name  # metrics.csv's epochs
        np.testing.assert_allclose(
            [value for _, value in points],
            [float(row[name]) for row in rows],
            rtol=1e-6,
            err_msg=name,
        )
    for side in ("critic", "generator"):
        rates = series(events, f"epoch_learning_rate_{side}")
        np.testing.assert_allclose([value for _, value in rates], [TrainConfig.lr] * 3)


def test_the_swd_is_logged_at_evaluation_epochs(stopped_and_resumed):
    folder, _, _ = stopped_and_resumed
    points = series(read(folder.tensorboard_train), "epoch_swd")
    rows = {int(row["epoch"]): row["swd"] for row in metrics_rows(folder)}
    assert [step for step, _ in points] == [2, 3]  # every 2nd and the last
    np.testing.assert_allclose([value for _, value in points], [float(rows[2]), float(rows[3])],
                               rtol=1e-6)  # fmt: skip


def test_iteration_points_go_on_from_the_checkpoint_on_the_models_own_axis(stopped_and_resumed):
    folder, model, before = stopped_and_resumed
    events = read(folder.tensorboard_train)
    for name in model.metric_names:
        tag = f"batch_{name}"
        points = series(events, tag)
        steps = [step for step, _ in points]
        assert steps == [2, 4, 6, 8], tag  # 9 iterations; the stop came after iteration 5
        assert [step for step, _ in before[tag]] == [2, 4]
    assert int(model.train_iterations.numpy()) == 9
    for tag, points in before.items():  # every series goes on, none rewritten or repeated
        after = series(events, tag)
        assert after[: len(points)] == points and len(after) > len(points), tag
        steps = [step for step, _ in after]
        assert steps == sorted(set(steps)), tag


def test_the_grid_of_each_sample_epoch_is_an_image(stopped_and_resumed):
    folder, _, _ = stopped_and_resumed
    events = read(folder.tensorboard_train)
    assert plugin(events, "samples") == "images"
    logged = events.Tensors("samples")
    assert [e.step for e in logged] == [2, 3]  # --sample-every 2, and the last epoch
    for event in logged:
        width, height, png = tf.make_ndarray(event.tensor_proto)
        image = tf.io.decode_png(png).numpy()
        on_disk = np.asarray(Image.open(folder.epoch_grid(event.step)).convert("RGB"))
        assert (int(width), int(height)) == (on_disk.shape[1], on_disk.shape[0])
        np.testing.assert_array_equal(image, on_disk)


def test_the_hyperparameters_are_written_once_with_the_headline_metrics(stopped_and_resumed):
    folder, model, _ = stopped_and_resumed
    events = read(folder.tensorboard)
    assert len(events.Tensors(hparams_metadata.SESSION_START_INFO_TAG)) == 1  # not on resume
    content = events.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = hparams_metadata.parse_session_start_info_plugin_data(content)
    values = json_format.MessageToDict(start)["hparams"]
    assert start.group_name == folder.path.name
    expected = {"model": "gan", "loss": "wasserstein", "penalty": "clip", "batch_size": 8,
                "n_critic": 2, "image_size": 16, "precision": "float32", "seed": 3, "lr": 5e-5,
                "preset": "", "tensorboard_every": EVERY, "spectral_norm": False}  # fmt: skip
    assert {name: values[name] for name in expected} == expected
    assert "classes" not in values and "extra" not in values  # scalars only
    content = events.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = hparams_metadata.parse_experiment_plugin_data(content)
    assert [(m.name.tag, m.name.group) for m in experiment.metric_infos] == [
        *[(f"epoch_{name}", TENSORBOARD_TRAIN) for name in model.headline_metrics],
        ("epoch_swd", TENSORBOARD_TRAIN),
    ]
    assert {h.name for h in experiment.hparam_infos} == set(values)


def test_no_tensorboard_writes_no_tensorboard_folder(tmp_path):
    config = resolve({}, None, {**TINY, "epochs": 1, "eval_every": 0, "tensorboard": False})
    session = start(config, run_dir=tmp_path / "run")
    session.fit()
    assert session.folder.metrics.is_file()
    assert not session.folder.tensorboard.exists()


def test_a_negative_interval_is_one_line_naming_the_flag(run, tmp_path):
    with pytest.raises(ConfigError, match="^--tensorboard-every must be 0 .* got -1$"):
        resolve({}, None, {"tensorboard_every": -1})
    result = run("train.py", "--tensorboard-every", "-1", "--run-dir", tmp_path / "run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train.py: error: --tensorboard-every must be 0 (epochs only) or a positive number of "
        "iterations, got -1"
    ]
    assert not (tmp_path / "run").exists()


def test_train_py_flags_and_resume_keeps_the_runs_own_setting(
    load_script, stopped_and_resumed, capsys
):
    train = load_script("train")
    config = train.resolve_config(train.parse_args(["--no-tensorboard", "--tensorboard-every",
                                                    "7"]))  # fmt: skip
    assert (config.tensorboard, config.tensorboard_every) == (False, 7)
    config = train.resolve_config(train.parse_args([]))
    assert (config.tensorboard, config.tensorboard_every) == (True, train.TENSORBOARD_EVERY)
    folder, _, _ = stopped_and_resumed
    config = train.resolve_config(train.parse_args(["--resume", str(folder.path),
                                                    "--no-tensorboard"]))  # fmt: skip
    assert config.tensorboard is True
    assert "ignoring --no-tensorboard" in capsys.readouterr().out
