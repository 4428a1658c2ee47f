"""The README's Python API, run as printed: the notebook blocks must keep working as written."""

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKERS = ("notebook-train", "notebook-generate")

# Each block runs in a fresh namespace (so its own imports must suffice), one after the other in
# one fresh interpreter (TensorFlow starts once); then what the README says they make is reported.
RUNNER = """
import json, sys
train, generate, report = sys.argv[1:]
trained = {"__name__": "__main__"}
exec(compile(open(train).read(), "README.md: notebook-train", "exec"), trained)
generated = {"__name__": "__main__"}
exec(compile(open(generate).read(), "README.md: notebook-generate", "exec"), generated)
images = generated["images"]
json.dump({
    "epochs": trained["config"].epochs,
    "image_size": trained["config"].image_size,
    "losses": [float(x) for x in trained["losses"]],
    "model": type(trained["model"]).__name__,
    "shape": list(images.shape),
    "dtype": str(images.dtype),
    "spread": float(images.std()),
}, open(report, "w"))
"""


def readme_block(text: str, marker: str) -> str:
    """The python block right after ``<!-- marker -->``; a missing one fails loudly."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\s*```python\n(.*?)```", text, re.DOTALL)
    if found is None:
        raise AssertionError(
            f"README.md has no ```python block right after <!-- {marker} -->: the test of the "
            "Python API finds its code by that marker"
        )
    return found.group(1)


def test_a_missing_marker_fails_loudly():
    with pytest.raises(AssertionError, match="notebook-train"):
        readme_block("## From Python\n```python\nprint(1)\n```\n", "notebook-train")
    assert readme_block("<!-- m -->\n```python\nx = 1\n```\n", "m") == "x = 1\n"


def test_the_readme_notebook_blocks_train_and_generate(tmp_path):
    text = README.read_text(encoding="utf-8")
    paths = []
    for marker in MARKERS:
        path = tmp_path / f"{marker}.py"
        path.write_text(readme_block(text, marker), encoding="utf-8")
        paths.append(path)
    work = tmp_path / "notebook"
    work.mkdir()
    report = tmp_path / "report.json"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    command = [sys.executable, "-c", RUNNER, *map(str, paths), str(report)]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(report.read_text())
    epochs, size = found["epochs"], found["image_size"]

    run = work / "runs" / "notebook"
    grid = run / "images" / f"epoch_{epochs:04d}.png"
    with Image.open(grid) as picture:  # the grid the training block shows
        assert picture.width > size and picture.height > size
    assert (run / "images" / "real.png").is_file()
    with open(run / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == list(range(1, epochs + 1))
    assert all(math.isfinite(float(row["critic_loss"])) for row in rows)
    assert rows[-1]["swd"]  # the last epoch is evaluated, so checkpoint="best" exists
    assert (run / "generator.keras").is_file() and (run / "loss.png").is_file()

    # The user's callback saw every epoch's metrics, and fit returned the trained model.
    assert len(found["losses"]) == epochs and all(map(math.isfinite, found["losses"]))
    assert [float(row["critic_loss"]) for row in rows] == pytest.approx(found["losses"])
    assert found["model"] == "GAN"

    n = found["shape"][0]
    assert found["shape"] == [n, size, size, 3] and found["dtype"] == "uint8"
    assert found["spread"] > 0  # pictures, not one flat colour
    written = sorted((run / "generated").glob("sample_*.png"))
    assert len(written) == n
    with Image.open(written[0]) as sample:
        assert sample.size == (size, size) and sample.mode == "RGB"
