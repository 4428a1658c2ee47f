"""Apply a trained translator to image files: read them as the run read its data, translate,
and lay out input | output (| target, or the round trip for CycleGAN) in a grid.

What an input file is depends on the run: for an edge-map run (``--pairs edges``, or the demo
task) a photo, whose edges are the input and which is the target; for a Pix2Pix run on
side-by-side pairs a pair file (its input half in, the other half the target); otherwise the
image itself. ``as_is`` takes every file as the input image itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from wgan.config import TrainConfig
from wgan.data import IMAGE_EXTENSIONS, decode_files, find_images, is_image_name
from wgan.errors import DataError, WganError
from wgan.grids import make_grid
from wgan.io import save_png, write_json
from wgan.pairs import edge_maps, image_size
from wgan.translation import CYCLEGAN, EDGES, TRANSLATION_MODELS
from wgan.translation_evaluation import load_translator
from wgan.translation_grids import translate

GRID_MAX = 32  # examples the grid shows at most


@dataclass
class Inputs:
    names: list[str]  # each file's path relative to what was given, without its suffix
    images: np.ndarray  # what the translator gets (uint8)
    targets: np.ndarray | None  # what it should give, when the files say it


def translation_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The run's config; a one-line error for a folder that is not an image-to-image run."""
    config = TrainConfig.load(run_dir)
    if config.model not in TRANSLATION_MODELS:
        raise WganError(f"{run_dir} trained --model {config.model}, not an image-to-image "
                        "model: sample it with scripts/generate.py")  # fmt: skip
    return config


def load_run(run_dir: str | os.PathLike) -> tuple[TrainConfig, keras.Model]:
    return translation_config(run_dir), load_translator(run_dir)


def edges_run(config: TrainConfig) -> bool:
    return config.model == "pix2pix" and (config.pairs == EDGES or config.data in ("", "demo"))


def input_files(path: Path) -> tuple[Path, list[Path]]:
    """(the folder names are relative to, the image files): one file, or a folder's images."""
    if path.is_dir():
        files = find_images(path)[0]
        if not files:
            raise DataError(f"no images in {path}")
        return path, files
    if not path.exists():
        raise DataError(f"{path} does not exist: give an image file or a folder of images")
    if not is_image_name(path.name):
        kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise DataError(f"{path} is not an image file ({kinds})")
    return path.parent, [path]


def read_inputs(config: TrainConfig, path: str | os.PathLike, as_is: bool = False) -> Inputs:
    """Decode the inputs at the run's size (unreadable files skipped and counted in one
    warning), with their targets when the files hold them."""
    root, files = input_files(Path(path).expanduser())
    size, channels = config.image_size, config.channels
    pairs = (config.model == "pix2pix" and not as_is and not edges_run(config)
             and all(_is_pair(f) for f in files))  # fmt: skip
    found = decode_files(root, files, "folder", size, channels, side_by_side=pairs)
    names = [p.relative_to(root).with_suffix("").as_posix() for p in found.paths]
    images = np.asarray(found.images)
    if pairs:
        a, b = images[..., :channels], images[..., channels:]
        if config.direction == "BtoA":
            a, b = b, a
        return Inputs(names, np.ascontiguousarray(a), np.ascontiguousarray(b))
    if edges_run(config) and not as_is:  # BtoA: the run turns photos into edge maps
        if config.direction == "BtoA":
            return Inputs(names, images, edge_maps(images))
        return Inputs(names, edge_maps(images), images)
    return Inputs(names, images, None)


def _is_pair(path: Path) -> bool:
    size = image_size(path)
    return size is not None and size[0] == 2 * size[1]


def write_translations(
    config: TrainConfig,
    generator: keras.Model,
    inputs: Inputs,
    out: str | os.PathLike,
    direction: str = "AtoB",
    training: bool | None = None,
) -> Path:
    """Each translation as ``out/NAME.png`` and a grid ``out/grid.png``; the grid's path.

    Rows of the grid: input | output | target (when known), two examples a row; for CycleGAN
    input | output | round trip (the output translated back).
    """
    out = Path(out)
    training = config.test_dropout if training is None else training
    outputs = translate(generator, inputs.images, direction, training)
    for name, image in zip(inputs.names, outputs, strict=True):
        target = out / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        save_png(target, image)
    n = min(GRID_MAX, len(outputs))
    columns = [inputs.images[:n], outputs[:n]]
    if config.model == CYCLEGAN:
        back = "BtoA" if direction == "AtoB" else "AtoB"
        columns.append(translate(generator, outputs[:n], back, training))
    elif inputs.targets is not None:
        columns.append(inputs.targets[:n])
    tiles = np.stack(columns, axis=1).reshape(-1, *outputs.shape[1:])
    grid = out / "grid.png"
    save_png(grid, make_grid(tiles, columns=2 * len(columns)))
    layout = {"columns": ["input", "output", "round trip" if config.model == CYCLEGAN
                          else "target"][: len(columns)], "direction": direction,
              "files": inputs.names[:n]}  # fmt: skip
    write_json(out / "grid.json", layout)
    return grid
