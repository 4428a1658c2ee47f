#!/usr/bin/env python
"""Make images with a trained generator: separate PNG files plus a grid, or a latent-space walk.

SOURCE is a run folder made by train.py (pick the weights with --checkpoint) or a generator
.keras file. The same --seed gives byte-identical files.

  python scripts/generate.py runs/20250101-120000 --num 100 --seed 1
  python scripts/generate.py runs/20250101-120000 --checkpoint best --interpolate
  python scripts/generate.py runs/20250101-120000/generator.keras --out my_faces

A conditional run (cgan, acgan) draws the class or attributes you ask for; without one, the grid
has a row per class (or per attribute, off then on). InfoGAN runs can --traverse their codes.

  python scripts/generate.py runs/digits-cgan --label 7 --num 100 --seed 1 --out sevens
  python scripts/generate.py runs/faces-cgan --attributes "Smiling=1,Eyeglasses=0"
  python scripts/generate.py runs/digits-infogan --traverse
"""

from __future__ import annotations

import argparse
import secrets
import sys
import warnings
from pathlib import Path

from _common import Parser, import_wgan, run_cli

# --- Defaults (each can be overridden by a flag) -----------------------------------------------
NUM = 64  # images to write
SEED = None  # latent noise seed; None = a fresh one each call (printed, to repeat it)
CHECKPOINT = "last"  # run folder weights: "last", "best" (lowest SWD) or an epoch number
OUT_NAME = "generated"  # default output folder, inside the run folder (or beside the .keras)
GRID_MAX = 100  # the grid shows at most this many of the images
POINTS = 4  # --interpolate: random latent points the walk visits (then back to the first)
STEPS = 16  # --interpolate: frames from one point to the next
FRAME_MS = 80  # --interpolate: milliseconds per GIF frame
BATCH_SIZE = 64  # latent vectors per generator call
TRAVERSE_COLUMNS = 9  # --traverse: values of the swept code, from -2 to 2
TRAVERSE_RANGE = 2.0  # --traverse: the sweep goes beyond the [-1, 1] of training, as the paper
LABELS_NAME = "labels.json"  # beside the images of a conditional run: each file's label
# ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        prog="generate.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="run folder or .keras file")
    parser.add_argument("--num", type=int, help=f"images to write (default {NUM}; a conditional "
                        "run without --label writes whole rows, one per class)")  # fmt: skip
    parser.add_argument("--out", type=Path, help=f"output folder (default SOURCE/{OUT_NAME}/)")
    parser.add_argument("--seed", type=int, default=SEED, help="noise seed (default: a new one)")
    parser.add_argument(
        "--checkpoint",
        metavar="best|last|EPOCH",
        help=f"which weights of a run folder (default {CHECKPOINT})",
    )
    parser.add_argument(
        "--interpolate",
        action="store_true",
        help="write a walk through random latent points (grid PNG + animated GIF) instead",
    )
    parser.add_argument("--label", help="class to draw (name or number) for a conditional run")
    parser.add_argument(
        "--attributes", metavar="NAME=1,NAME=0",
        help="attributes to set for a run conditioned on CelebA attributes (others drawn by "
        "their frequency in the training data)",
    )  # fmt: skip
    parser.add_argument(
        "--traverse", action="store_true",
        help="InfoGAN: rows = categorical value, columns = one continuous code swept from -2 to "
        "2 (a grid per continuous code)",
    )  # fmt: skip
    parser.add_argument("--points", type=int, default=POINTS, help=f"walk points ({POINTS})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"frames per leg ({STEPS})")
    parser.add_argument(
        "--frame-ms", type=int, default=FRAME_MS, help=f"GIF frame time in ms ({FRAME_MS})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"batch size ({BATCH_SIZE})"
    )
    args = parser.parse_args(argv)
    if args.num is not None and args.num < 1:
        parser.error(f"--num must be at least 1, got {args.num}")
    if args.interpolate and args.num is not None:
        parser.error("--num does not apply to --interpolate: its size is --points x --steps")
    if args.traverse and (args.interpolate or args.num is not None):
        parser.error("--traverse writes one grid per continuous code: drop --num/--interpolate")
    if args.label is not None and args.attributes is not None:
        parser.error("give --label (a class) or --attributes, not both")
    for flag, value, least in (
        ("--points", args.points, 2),
        ("--steps", args.steps, 2),
        ("--frame-ms", args.frame_ms, 1),
        ("--batch-size", args.batch_size, 1),
    ):
        if value < least:
            parser.error(f"{flag} must be at least {least}, got {value}")
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    if not args.source.exists():
        parser.error(f"{args.source} does not exist: give a run folder or a generator .keras file")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file: give a folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import_wgan()
    return run_cli(
        "generate.py", generate, args, (OSError,),
        interrupted="interrupted; the files written so far are complete",
    )


def generate(args: argparse.Namespace) -> int:
    from wgan.generate import load_generator

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_generator(args.source, args.checkpoint)
    for warning in caught:
        print(f"note: {warning.message}")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    home = args.source if args.source.is_dir() else args.source.parent
    out = args.out or home / OUT_NAME
    print(f"generator: {loaded.source}")
    if args.traverse:
        written = write_traversals(loaded, args, seed, out)
    elif args.interpolate:
        written = write_walk(loaded, args, seed, out)
    else:
        written = write_samples(loaded, args, seed, out)
    print(f"wrote {written} (seed {seed}; pass --seed {seed} to make the same files again)")
    return 0


def write_samples(loaded, args: argparse.Namespace, seed: int, out: Path) -> str:
    from tqdm import tqdm

    from wgan.generate import sample_images, save_images
    from wgan.grids import make_grid
    from wgan.io import save_png, write_json

    num = args.num or NUM
    inputs, captions, columns = choose_inputs(loaded.space, args, num, seed)
    num = len(captions) if captions else num
    with tqdm(total=num, desc="generating", unit="img", leave=False,
              disable=num <= args.batch_size) as bar:
        images = sample_images(
            loaded.model, inputs, args.batch_size, lambda done, _: bar.update(done - bar.n)
        )
    paths = save_images(images, out)
    if captions:
        write_json(out / LABELS_NAME, {p.name: c for p, c in zip(paths, captions, strict=True)})
    save_png(out / "grid.png", make_grid(images[:GRID_MAX], columns=columns))
    what = f" of {args.label or args.attributes}" if (args.label or args.attributes) else ""
    return (f"{len(paths)} images{what} to {out}/ ({paths[0].name} ... {paths[-1].name}) and "
            f"grid.png{' (labels in ' + LABELS_NAME + ')' if captions else ''}")  # fmt: skip


def choose_inputs(space, args: argparse.Namespace, num: int, seed: int):
    """(generator inputs, a caption per image or [], grid columns or None) for the request:
    a class, attributes, or for a conditional run without either a row per class."""
    import numpy as np

    from wgan.errors import ConfigError
    from wgan.labels import parse_attribute_values

    rng = np.random.default_rng(seed)
    if not space.conditional:
        if args.label is not None or args.attributes is not None:
            flag = "--label" if args.label is not None else "--attributes"
            raise ConfigError(f"{flag} needs a conditional run (--preset cgan or acgan); this "
                              f"generator ({space.model}) takes no labels")  # fmt: skip
        latent = space.latent(num, rng)
        if space.model == "infogan":  # say which category each image was drawn with
            category = latent[:, space.latent_dim : space.latent_dim + space.categories]
            return latent, [f"category {int(i)}" for i in category.argmax(axis=1)], None
        return latent, [], None
    if args.label is not None:
        labels = np.full(num, space.class_index(args.label), np.int32)
    elif args.attributes is not None:
        if space.kind != "attributes":
            space.attribute_labels({}, 0, rng)  # raises: this run has classes
        labels = space.attribute_labels(
            parse_attribute_values(args.attributes, space.names), num, rng
        )
    else:
        inputs, labels, columns, rows = space.grid(num, seed)
        return inputs, [row for row in rows for _ in range(columns)], columns
    latent = space.latent(num, rng)
    return space.inputs(latent, labels), space.describe(labels), None


def write_traversals(loaded, args: argparse.Namespace, seed: int, out: Path) -> str:
    """InfoGAN (Chen et al. 2016, fig. 2): for each continuous code, a grid whose rows are the
    categorical values and whose columns sweep that code from -2 to 2, noise and the other
    codes fixed (one noise vector for the whole grid)."""
    import numpy as np

    from wgan.errors import ConfigError
    from wgan.generate import sample_images
    from wgan.grids import make_grid
    from wgan.io import save_png

    space = loaded.space
    if space.model != "infogan":
        raise ConfigError(f"--traverse sweeps InfoGAN's codes; this run is --model {space.model}")
    rng = np.random.default_rng(seed)
    noise = space.prior.noise.sample_numpy(1, space.latent_dim, rng)
    sweep = np.linspace(-TRAVERSE_RANGE, TRAVERSE_RANGE, TRAVERSE_COLUMNS, dtype=np.float32)
    category = np.repeat(np.arange(space.categories), len(sweep))
    written = []
    for code in range(max(space.continuous, 1)):
        continuous = np.zeros((len(category), space.continuous), np.float32)
        if space.continuous:
            continuous[:, code] = np.tile(sweep, space.categories)
        latent = space.prior.with_codes(np.repeat(noise, len(category), 0), category, continuous)
        images = sample_images(loaded.model, latent, args.batch_size)
        name = f"traverse_code{code + 1}.png" if space.continuous else "traverse_categories.png"
        save_png(out / name, make_grid(images, columns=len(sweep)))
        written.append(name)
    return (f"{', '.join(written)} to {out}/ (rows: the {space.categories} categories; columns: "
            f"the code from -{TRAVERSE_RANGE:g} to {TRAVERSE_RANGE:g})")  # fmt: skip


def write_walk(loaded, args: argparse.Namespace, seed: int, out: Path) -> str:
    import numpy as np

    from wgan.generate import latent_walk, sample_images, save_gif
    from wgan.grids import make_grid
    from wgan.io import save_png

    space = loaded.space
    rng = np.random.default_rng(seed)
    walk = latent_walk(space.latent(args.points, rng), args.steps, space.prior)
    if space.conditional:  # one label for the whole walk: the one asked for, or drawn
        if args.label is None and args.attributes is None:
            label = space.random_labels(1, rng)
        else:
            label = choose_inputs(space, args, 1, seed)[0][1]
        walk = [walk, label.repeat(len(walk), axis=0)]
        print(f"walking with the label {space.describe(label)[0]}")
    frames = sample_images(loaded.model, walk, args.batch_size)
    save_png(out / "interpolation.png", make_grid(frames, columns=args.steps))
    save_gif(frames, out / "interpolation.gif", args.frame_ms)
    return (
        f"a {len(frames)}-frame walk through {args.points} random points to "
        f"{out}/interpolation.gif and interpolation.png (one leg per row)"
    )


if __name__ == "__main__":
    sys.exit(main())
