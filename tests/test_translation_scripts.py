"""Pix2Pix and CycleGAN as a user meets them: train.py on the built-in tasks, translate.py,
evaluate.py, sonify.py, resume after kill -9, and bad input."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401
from wgan.run_folder import RunFolder

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "demo", "--n-samples", "40", "--image-size", "16", "--filters", "4",
        "--batch-size", "4", "--epochs", "2", "--eval-samples", "8", "--eval-every", "2",
        "--no-cache"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run):
    base = tmp_path_factory.mktemp("translation")
    runs = {}
    for preset in ("pix2pix", "cyclegan"):
        folder = base / preset
        result = run("train", "--preset", preset, *TINY, "--run-dir", folder)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[preset] = (folder, result)
    return runs


def rows(folder: Path) -> list[dict]:
    with (folder / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


TERMS = [("pix2pix", ["l1"]), ("cyclegan", ["cycle_loss", "identity_loss"])]


@pytest.mark.parametrize("preset,terms", TERMS)
def test_both_presets_train_two_epochs_on_the_built_in_task(trained, preset, terms):
    folder, result = trained[preset]
    found = rows(folder)
    assert [int(r["epoch"]) for r in found] == [1, 2]
    assert all(np.isfinite(float(r[t])) for r in found for t in ["critic_loss", *terms])
    assert float(found[-1]["swd"]) > 0
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == preset and config["data"] == "demo"
    assert config["metrics"]["names"][-len(terms):] == terms
    run = RunFolder(folder)
    assert run.generator_model.is_file() and run.critic_model.is_file()
    assert "translate.py" in result.stdout


def test_grids_show_the_same_held_out_inputs_every_epoch(trained):
    folder, _ = trained["pix2pix"]
    run = RunFolder(folder)
    inputs = sorted(run.translation_inputs.iterdir())
    assert len(inputs) == 4  # 10 % of 40 pairs held out
    grids = [np.asarray(Image.open(run.epoch_grid(e))) for e in (1, 2)]
    # Two examples a row, input | output | target each: the inputs and targets stay put.
    tile = 16 + 2
    for column in (0, 2, 3, 5):
        x = 2 + column * tile
        assert np.array_equal(grids[0][:, x : x + 16], grids[1][:, x : x + 16])
    assert len(list(run.epoch_samples(2).glob("sample_*.png"))) == 4
    cyc = RunFolder(trained["cyclegan"][0])
    assert len(list(cyc.translation_inputs.iterdir())) == 8  # 4 of A, then 4 of B
    assert len(list(cyc.epoch_samples(2).glob("sample_*.png"))) == 8


def faces(folder: Path, n=3) -> Path:
    from wgan.demo_faces import draw_faces

    folder.mkdir(parents=True, exist_ok=True)
    for i, face in enumerate(draw_faces(n, 32, 3, seed=9)):
        Image.fromarray(face).save(folder / f"face {i}.png")
    return folder


def test_translate_writes_each_image_and_a_grid_from_a_file_and_a_folder(trained, run, tmp_path):
    inputs = faces(tmp_path / "in")
    folder, _ = trained["pix2pix"]
    result = run("translate", folder, inputs, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out").glob("face*.png"))
    assert written == ["face 0.png", "face 1.png", "face 2.png"]
    layout = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert layout["columns"] == ["input", "output", "target"]  # edges in, the photo the target
    grid = Image.open(tmp_path / "out" / "grid.png")
    assert grid.size == (2 + 6 * 18, 2 + 2 * 18)
    cyc, _ = trained["cyclegan"]
    result = run("translate", cyc, inputs / "face 1.png", "--direction", "BtoA",
                 "--out", tmp_path / "one")  # fmt: skip
    assert result.returncode == 0, result.stderr
    layout = json.loads((tmp_path / "one" / "grid.json").read_text())
    assert layout["columns"] == ["input", "output", "round trip"] and layout["files"] == ["face 1"]
    assert np.asarray(Image.open(tmp_path / "one" / "face 1.png")).shape == (16, 16, 3)


@pytest.mark.parametrize("args,mentions", [
    (["{run}", "{missing}"], "does not exist"),
    (["{data}", "{inputs}"], "not an image-to-image"),
])  # fmt: skip
def test_translate_bad_input_is_one_line(trained, run, tmp_path, args, mentions):
    names = {"run": trained["pix2pix"][0], "missing": tmp_path / "nope.png",
             "data": trained["pix2pix"][0].parent, "inputs": faces(tmp_path / "in", 1)}  # fmt: skip
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps({"model": "gan"}))
    names["data"] = plain
    result = run("translate", *[a.format(**names) for a in args])
    assert result.returncode == 2
    assert mentions in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_generate_points_a_translation_run_to_translate(trained, run):
    result = run("generate", trained["cyclegan"][0])
    assert result.returncode == 2 and "translate.py" in result.stderr


def test_evaluate_scores_a_pix2pix_run_on_its_held_out_pairs(trained, run, tmp_path):
    folder, _ = trained["pix2pix"]
    result = run("evaluate", folder, "--cache-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(RunFolder(folder).translation_metrics.read_text())
    assert 0 < figures["l1"] < 1 and figures["psnr"] > 0 and -1 <= figures["ssim"] <= 1
    assert figures["held_out"] == [4, 4] and figures["swd"] > 0


def test_sonify_plays_each_input_before_its_output(trained, load_script):
    sonify = load_script("sonify")
    folder, _ = trained["pix2pix"]
    run = RunFolder(folder)
    loaded = sonify.readable(sorted(run.epoch_samples(2).glob("sample_*.png"))[:2])
    intros, images = sonify.translation_sounds(loaded, run.translation_inputs)
    assert [i.split(",")[:2] for i in intros] == [
        ["Example 0", " input"], ["Example 0", " output"],
        ["Example 1", " input"], ["Example 1", " output"],
    ]  # fmt: skip
    assert len(images) == 4


def pair_folder(root: Path, mismatched=False) -> Path:
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
        for i in range(6):
            size = (24, 20) if mismatched and side == "B" else (20, 20)
            Image.new("RGB", size, (90, 90, 90)).save(root / side / f"{i}.png")
    return root


@pytest.mark.parametrize("case", ["mismatched sizes", "empty domain", "unpaired as paired"])
def test_bad_data_is_one_line_exit_2_and_nothing_is_lost(run, tmp_path, case):
    data = tmp_path / "data"
    if case == "mismatched sizes":
        pair_folder(data, mismatched=True)
        args, mentions = ["--preset", "pix2pix"], "no readable pairs"
    elif case == "empty domain":
        (data / "trainA").mkdir(parents=True)
        (data / "trainB").mkdir()
        faces(data / "trainA", 4)
        args, mentions = ["--preset", "cyclegan"], "trainB"
    else:
        faces(data, 4)
        args, mentions = ["--preset", "pix2pix"], "side-by-side"
    kept = tmp_path / "keep"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    result = run("train", *args, "--data", data, "--image-size", "16", "--no-cache",
                 "--run-dir", tmp_path / "new")  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and mentions in errors[0]  # above it, at most a progress bar
    assert not (tmp_path / "new").exists()
    assert (kept / "notes.txt").read_text() == "mine"
    assert all(p.is_file() for p in data.rglob("*.png"))
