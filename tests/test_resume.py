"""Exact resume: a run stopped anywhere and resumed ends as the uninterrupted run ends, bit for
bit; Ctrl-C and SIGTERM save first; one process per run folder."""

import csv
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
from sessions import StopAt, start

from wgan.errors import ConfigError
from wgan.interrupt import Interrupted, StopRequest
from wgan.presets import resolve
from wgan.trainer import resume_config, start_run

ROOT = Path(__file__).resolve().parents[1]
# Each model's random draws beyond the core's: Dropout (pix2pix), the image pool (cyclegan),
# the labelled stream (sgan), the EMA and DiffAugment (wgan-gp below).
MODELS = {
    "wgan-gp": {"ema": 0.9, "augment": "color,translation", "n_samples": 96, "batch_size": 4},
    "pix2pix": {"n_samples": 40, "batch_size": 4},
    "cyclegan": {"n_samples": 24, "batch_size": 4, "filters": 4},
    "sgan": {"data": "digits", "n_samples": 120, "batch_size": 8, "labelled": 20},
}


def config(preset: str):
    flags = {"image_size": 16, "filters": 8, "epochs": 3, "eval_every": 2, "eval_samples": 16,
             "keep_every": 1, "precision": "float32", "data": "demo", "seed": 4,
             **MODELS[preset]}  # fmt: skip
    if preset == "sgan":
        flags.update(image_size=16, channels=1)
    return resolve({}, preset, flags)


@pytest.fixture
def one_graph_order():
    """Grappler's arithmetic optimizer orders its rewrites by node name, and names in one
    process depend on what was built before (conv2d_1, not conv2d): two runs of one model in
    one process can then differ in the last bit of a sum. Separate processes build the same
    names; ``benchmarks/faults.py --quick`` (below) compares those, with the optimizer on."""
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})
    yield
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": True})


def rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open(newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def same_checkpoints(a: str, b: str) -> bool:
    readers = [tf.train.load_checkpoint(p) for p in (a, b)]
    keys = [set(r.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"} for r in readers]
    assert keys[0] == keys[1]
    return all(np.array_equal(readers[0].get_tensor(k), readers[1].get_tensor(k))
               for k in keys[0] if not k.startswith("save_counter"))  # fmt: skip


@pytest.mark.parametrize("preset", list(MODELS))
def test_a_run_stopped_inside_epochs_and_resumed_ends_bit_for_bit_as_the_uninterrupted_one(
    tmp_path, preset, one_graph_order
):
    whole = start(config(preset), run_dir=tmp_path / "whole")
    steps = whole.plan.steps_per_epoch
    assert steps >= 4
    whole.fit()

    stopped = tmp_path / "stopped"
    session = start(config(preset), run_dir=stopped)
    session.config.checkpoint_minutes = 1e-9  # a save inside the epoch after every iteration
    request = StopRequest()
    with pytest.raises(Interrupted) as caught:
        session.fit(callbacks=[StopAt(steps + 2, request)], stop=request)
    assert (caught.value.epoch, caught.value.position, caught.value.exit_code) == (1, 2, 143)
    assert "epoch 2, iteration 2" in str(caught.value)
    assert list((stopped / "checkpoints" / "partial").glob("partial-*.index"))
    # The WGAN-GP is stopped again one iteration on (two resumes from inside epoch 2, the
    # running metrics put back twice); then each goes on to the end.
    for stop_at in (1, None) if preset == "wgan-gp" else (None,):
        session = start(resume_config(stopped, {}), run_dir=stopped, resume=True)
        assert session.plan.position == (3 if preset == "wgan-gp" and not stop_at else 2)
        request = StopRequest()
        try:
            session.fit(callbacks=[StopAt(stop_at, request)] if stop_at else [], stop=request)
        except Interrupted:
            assert stop_at is not None
    assert rows(stopped) == rows(tmp_path / "whole")
    assert len(rows(stopped)) == 3
    for grid in sorted((tmp_path / "whole" / "images").rglob("*.png")):
        twin = stopped / grid.relative_to(tmp_path / "whole")
        assert twin.read_bytes() == grid.read_bytes(), grid.name
    last = "checkpoints/last-3"
    assert same_checkpoints(str(tmp_path / "whole" / last), str(stopped / last))
    assert not list((stopped / "checkpoints" / "partial").glob("partial-*"))  # gone at the end


def test_a_second_process_on_one_run_folder_is_refused_until_the_first_ends(tmp_path):
    first = start_run(config("wgan-gp"), run_dir=tmp_path / "run", cache_dir=None)
    with pytest.raises(ConfigError, match=f"being trained by process {os.getpid()}"):
        start_run(resume_config(tmp_path / "run", {}), run_dir=tmp_path / "run", resume=True,
                  cache_dir=None)  # fmt: skip
    with pytest.raises(ConfigError, match="being trained by process|already holds files"):
        start_run(config("wgan-gp"), run_dir=tmp_path / "run", cache_dir=None)
    first.close()
    again = start_run(resume_config(tmp_path / "run", {}), run_dir=tmp_path / "run",
                      resume=True, cache_dir=None)  # fmt: skip
    again.close()


TINY = ["--preset", "wgan", "--data", "demo", "--image-size", "16", "--filters", "8",
        "--n-samples", "400", "--batch-size", "4", "--precision", "float32",
        "--eval-every", "0", "--sample-every", "50", "--epochs", "500"]  # fmt: skip


def start_train(*args) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=env)  # fmt: skip


def wait_for(path_glob: str, root: Path, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list(root.glob(path_glob)):
            return
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(0.05)
    raise AssertionError(f"no {path_glob} in time")


def test_sigterm_finishes_the_iteration_saves_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = start_train(*TINY, "--run-dir", run_dir, "--checkpoint-minutes", "0")
    wait_for("checkpoints/last-1.index", run_dir, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err[-2000:]
    assert "stopped by SIGTERM" in err and f"--resume {run_dir}" in err
    # While it ran, a second train.py on the same folder was refused; now it may resume.
    epoch, position = _saved_position(run_dir)
    assert epoch >= 1
    assert position > 0 or not list((run_dir / "checkpoints" / "partial").glob("*.index"))


def test_a_second_ctrl_c_ends_the_process_at_once_and_leaves_a_resumable_run(tmp_path):
    run_dir = tmp_path / "run"
    process = start_train(*TINY, "--run-dir", run_dir, "--checkpoint-minutes", "0")
    wait_for("checkpoints/last-1.index", run_dir, process)
    other = start_train("--resume", run_dir)
    _, err = other.communicate(timeout=120)
    assert other.returncode == 2 and "being trained by process" in err, err[-2000:]
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode in (130, -signal.SIGINT)
    resumed = start_train("--resume", run_dir, "--epochs", _saved_position(run_dir)[0] + 1)
    _, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err[-2000:]


def _saved_position(run_dir: Path) -> tuple[int, int]:
    from wgan.checkpoint import checkpoint_position, newest_checkpoint

    epoch, position, _ = checkpoint_position(newest_checkpoint(run_dir / "checkpoints"))
    return epoch, position


def test_the_fault_harness_reports_nothing_lost_in_its_short_version(tmp_path):
    out = tmp_path / "faults.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "faults.py"), "--quick",
                           "--work", str(tmp_path / "work"), "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)  # fmt: skip
    import json

    result = json.loads(out.read_text())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    kills = result["kills"][0]
    assert kills["kills"] == 2 and kills["weights_equal"] and kills["unreadable_files"] == 0
    assert kills["rows_duplicated"] == kills["rows_missing"] == kills["rows_differing"] == 0
    assert result["corpus"]["crashes"] == 0 and result["corpus"]["summary_warnings"] == 1
    disk = result["full_disk"][0]
    assert disk["filled"] and disk["files_lost"] == 0 and disk["resumed_complete"]


class PoisonAt(keras.callbacks.Callback):
    """Turn one critic weight into NaN as the ``at``-th iteration of the session ends."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            weight = self.model.critic.trainable_weights[0]
            weight.assign(np.full(weight.shape, np.nan, np.float32))


def test_a_broken_state_is_never_saved_inside_an_epoch(tmp_path):
    from wgan.monitor import NonFiniteLossError

    session = start(config("wgan-gp"), run_dir=tmp_path / "run")
    steps = session.plan.steps_per_epoch
    session.config.checkpoint_minutes = 1e-9  # a save after every iteration, when it is good
    with pytest.raises(NonFiniteLossError):
        session.fit(callbacks=[PoisonAt(steps + 1)])
    partial = tmp_path / "run" / "checkpoints" / "partial"
    assert not list(partial.glob("partial-*"))  # the good ones of epoch 2 went with the error
    resumed = start(resume_config(tmp_path / "run", {}), run_dir=tmp_path / "run", resume=True)
    assert (resumed.plan.first_epoch, resumed.plan.position) == (1, 0)  # the last good save
    resumed.close()


def test_resume_refuses_a_data_folder_that_changed(tmp_path):
    from PIL import Image

    data = tmp_path / "faces"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save(data / f"{i}.png")
    flags = {**MODELS["wgan-gp"], "n_samples": 0, "data": str(data)}
    first = start(resolve({}, "wgan-gp", {**flags, "image_size": 16, "filters": 8}),
                  run_dir=tmp_path / "run", data=str(data))  # fmt: skip
    first.close()
    (data / "3.png").unlink()
    with pytest.raises(ConfigError, match="trained on 24 images .* 23 load now"):
        start(resume_config(tmp_path / "run", {}), run_dir=tmp_path / "run", resume=True)
