"""Damaged, hand-edited and foreign files in a run folder, through every script that reads them:
one line on stderr that names the file and what to do, exit code 2, and the folder untouched."""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401

# Keras' own model and weight saving trips a NumPy 2 deprecation warning once per variable.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "demo", "--n-samples", "16", "--image-size", "16", "--filters", "4",
        "--batch-size", "4", "--no-cache"]  # fmt: skip
LAST = "checkpoints/last-2"  # the GAN run trains 2 epochs: last-1 and last-2
BEST = "checkpoints/best/best-2"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, run):
    """A finished 2-epoch GAN run (best checkpoint and kept weights at each epoch), a 1-epoch
    Pix2Pix run, and a folder of real images; each test works on copies."""
    base = tmp_path_factory.mktemp("corrupt")
    made = {"gan": base / "gan", "pix2pix": base / "pix2pix", "real": base / "real"}
    result = run("train", *TINY, "--latent-dim", 8, "--n-critic", 1, "--epochs", 2,
                 "--eval-every", 2, "--eval-samples", 8, "--keep-every", 1,
                 "--run-dir", made["gan"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    result = run("train", "--preset", "pix2pix", *TINY, "--epochs", 1, "--eval-every", 0,
                 "--run-dir", made["pix2pix"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    made["real"].mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(image).save(made["real"] / f"face {i}.png")
    return made


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file, the lock file aside (it holds the pid of the last trainer)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}  # fmt: skip


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_config(**changes):
    def edit(folder: Path) -> None:
        path = folder / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))

    return edit


def write(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


def lambda_model(folder: Path, kind: str) -> None:
    """generator.keras replaced by a model with a Lambda layer (code a file could smuggle in)."""
    if kind == "gan":
        layers = [keras.Input((8,)), keras.layers.Dense(16 * 16 * 3),
                  keras.layers.Reshape((16, 16, 3))]  # fmt: skip
    else:
        layers = [keras.Input((16, 16, 3))]
    model = keras.Sequential([*layers, keras.layers.Lambda(lambda x: x * 2)])
    (folder / "generator.keras").unlink()
    model.save(folder / "generator.keras")


GENERATE = ["generate", "{run}", "--num", "2", "--seed", "0"]
EVALUATE = ["evaluate", "{run}", "{real}", "--num", "8", "--n-real", "8", "--metrics", "swd"]
EVALUATE_PAIRS = ["evaluate", "{run}", "--cache-dir", "{tmp}"]
TRANSLATE = ["translate", "{run}", "{real}"]
RESUME = ["train", "--resume", "{run}", "--epochs", "3"]
# (case, run, change, command, file the line names, words it holds)
CASES = [
    *[
        pytest.param("gan", change, command, "config.json", words, id=f"{case}-{command[0]}")
        for case, change, words in [
            ("config-cut-short", lambda f: truncate(f / "config.json"), "not valid JSON"),
            ("config-not-json", write("config.json", "hello"), "not valid JSON"),
            ("config-a-list", write("config.json", "[1, 2]"), "JSON list"),
            ("batch-size-text", edit_config(batch_size="abc"), "not a whole number"),
            ("latent-dim-negative", edit_config(latent_dim=-3), "--latent-dim"),
            ("latent-dim-fraction", edit_config(latent_dim=2.5), "not a whole number"),
            ("model-unknown", edit_config(model="bogus"), "--model"),
        ]
        for command in (RESUME, GENERATE, EVALUATE)
    ],
    *[
        pytest.param("pix2pix", change, TRANSLATE, "config.json", words, id=f"{case}-translate")
        for case, change, words in [
            ("config-cut-short", lambda f: truncate(f / "config.json"), "not valid JSON"),
            ("image-size-fraction", edit_config(image_size=2.5), "not a whole number"),
            ("dropout-text", edit_config(dropout="abc"), "not a number"),
        ]
    ],
    # A config that no longer fits the checkpoint: the line names the checkpoint and the
    # settings (generate.py and evaluate.py ask about config.json, train.py about settings).
    *[
        pytest.param("gan", edit_config(**change), command, LAST, words,
                     id=f"{name}-{command[0]}")  # fmt: skip
        for name, change in [("latent-dim-changed", {"latent_dim": 9}),
                             ("filters-changed", {"filters": 8})]  # fmt: skip
        for command, words in ((RESUME, "settings"), (GENERATE, "config.json"),
                               (EVALUATE, "config.json"))  # fmt: skip
    ],
    pytest.param("gan", lambda f: truncate(f / f"{LAST}.data-00000-of-00001"), GENERATE,
                 f"{LAST}.data-00000-of-00001", "damaged", id="last-data-cut-short-generate"),
    pytest.param("gan", lambda f: truncate(f / f"{LAST}.data-00000-of-00001"), EVALUATE,
                 f"{LAST}.data-00000-of-00001", "damaged", id="last-data-cut-short-evaluate"),
    pytest.param("gan", lambda f: truncate(f / f"{LAST}.data-00000-of-00001"), RESUME,
                 LAST, "", id="last-data-cut-short-train"),
    pytest.param("gan", lambda f: truncate(f / f"{LAST}.index"), GENERATE, f"{LAST}.index",
                 "damaged", id="last-index-cut-short-generate"),
    pytest.param("gan", lambda f: truncate(f / f"{LAST}.index"), RESUME, LAST, "resume",
                 id="last-index-cut-short-train"),
    pytest.param("gan", lambda f: [p.unlink() for p in f.glob("checkpoints/last-*")], RESUME,
                 "checkpoints/checkpoint", "not there", id="checkpoints-gone-train"),
    pytest.param("gan", lambda f: truncate(f / f"{BEST}.data-00000-of-00001"),
                 [*GENERATE, "--checkpoint", "best"], f"{BEST}.data-00000-of-00001",
                 "--checkpoint last", id="best-data-cut-short-generate"),
    pytest.param("gan", lambda f: truncate(f / f"{BEST}.index"),
                 [*GENERATE, "--checkpoint", "best"], f"{BEST}.index", "--checkpoint last",
                 id="best-index-cut-short-generate"),
    pytest.param("gan", write("checkpoints/best.json", "{"), [*GENERATE, "--checkpoint", "best"],
                 "checkpoints/best.json", "--checkpoint last", id="best-json-garbage-generate"),
    pytest.param("gan", lambda f: truncate(f / "checkpoints/generator/epoch_0001.weights.h5"),
                 [*GENERATE, "--checkpoint", "1"], "checkpoints/generator/epoch_0001.weights.h5",
                 "cut short", id="kept-weights-cut-short-generate"),
    pytest.param("gan", lambda f: truncate(f / "generator.keras"),
                 ["generate", "{run}/generator.keras"], "generator.keras", "not a readable",
                 id="generator-keras-cut-short-generate"),
    pytest.param("gan", write("generator.keras", "garbage"), ["generate", "{run}/generator.keras"],
                 "generator.keras", "not a readable", id="generator-keras-garbage-generate"),
    pytest.param("pix2pix", lambda f: truncate(f / "generator.keras"), TRANSLATE,
                 "generator.keras", "not a readable", id="generator-keras-cut-short-translate"),
    pytest.param("pix2pix", lambda f: truncate(f / "generator.keras"), EVALUATE_PAIRS,
                 "generator.keras", "not a readable", id="generator-keras-cut-short-evaluate"),
    # Model files from elsewhere: a Lambda layer is code, and safe mode refuses it.
    pytest.param("gan", lambda f: lambda_model(f, "gan"), ["generate", "{run}/generator.keras"],
                 "generator.keras", "contains code", id="lambda-generate"),
    pytest.param("pix2pix", lambda f: lambda_model(f, "pix2pix"), TRANSLATE, "generator.keras",
                 "contains code", id="lambda-translate"),
    pytest.param("pix2pix", lambda f: lambda_model(f, "pix2pix"), EVALUATE_PAIRS,
                 "generator.keras", "contains code", id="lambda-evaluate"),
]  # fmt: skip


@pytest.mark.parametrize("kind,change,command,names,words", CASES)
def test_a_bad_file_is_one_line_exit_2_and_nothing_changes(
    runs, run, tmp_path, kind, change, command, names, words
):
    folder = tmp_path / "run"
    shutil.copytree(runs[kind], folder)
    change(folder)
    before = digest(folder)
    fill = {"run": folder, "real": runs["real"], "tmp": tmp_path / "cache"}
    result = run(*[str(a).format(**fill) for a in command])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"{command[0]}.py: error: "), lines
    assert str(folder / names) in lines[0] and words in lines[0], lines[0]
    assert digest(folder) == before


def test_the_lambda_line_says_it_is_code_refused_in_safe_mode(runs, run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(runs["gan"], folder)
    lambda_model(folder, "gan")
    line = run("generate", folder / "generator.keras").stderr.strip()
    assert "a Lambda layer" in line and "will not be loaded" in line and "safe mode" in line


def test_an_incompatible_config_stays_one_line_until_the_process_ends(runs, tmp_path):
    """A restore that fails half-way leaves TensorFlow objects that log a warning per value
    when they are collected: in a real process, at exit, below the error line."""
    folder = tmp_path / "run"
    shutil.copytree(runs["gan"], folder)
    edit_config(filters=8)(folder)
    before = digest(folder)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), str(folder)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(folder / LAST) in result.stderr, result.stderr
    assert digest(folder) == before


def test_a_damaged_list_of_checkpoints_still_resumes_from_the_newest_on_disk(runs, run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(runs["gan"], folder)
    write("checkpoints/checkpoint", "}{")(folder)  # TensorFlow would read it as "no saves"
    result = run(*[a.format(run=folder) for a in RESUME])
    assert result.returncode == 0, result.stderr[-3000:]
    with (folder / "metrics.csv").open(newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [1, 2, 3]  # epochs 1-2 kept, 3 trained: not started again from 1
