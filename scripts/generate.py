#!/usr/bin/env python
"""Make images with a trained generator: separate PNG files plus a grid, or a latent-space walk.

SOURCE is a run folder made by train.py (pick the weights with --checkpoint) or a generator
.keras file. The same --seed gives byte-identical files.

  python scripts/generate.py runs/20250101-120000 --num 100 --seed 1
  python scripts/generate.py runs/20250101-120000 --checkpoint best --interpolate
  python scripts/generate.py runs/20250101-120000/generator.keras --out my_faces
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
# ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        prog="generate.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="run folder or .keras file")
    parser.add_argument("--num", type=int, help=f"images to write (default {NUM})")
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
    if args.interpolate:
        written = write_walk(loaded, args, seed, out)
    else:
        written = write_samples(loaded, args, seed, out)
    print(f"wrote {written} (seed {seed}; pass --seed {seed} to make the same files again)")
    return 0


def write_samples(loaded, args: argparse.Namespace, seed: int, out: Path) -> str:
    from tqdm import tqdm

    from wgan.generate import latent_noise, sample_images, save_images
    from wgan.grids import make_grid
    from wgan.io import save_png

    num = args.num or NUM
    noise = latent_noise(num, loaded.latent_dim, loaded.distribution, seed)
    with tqdm(total=num, desc="generating", unit="img", leave=False,
              disable=num <= args.batch_size) as bar:
        images = sample_images(
            loaded.model, noise, args.batch_size, lambda done, _: bar.update(done - bar.n)
        )
    paths = save_images(images, out)
    save_png(out / "grid.png", make_grid(images[:GRID_MAX]))
    return f"{len(paths)} images to {out}/ ({paths[0].name} ... {paths[-1].name}) and grid.png"


def write_walk(loaded, args: argparse.Namespace, seed: int, out: Path) -> str:
    from wgan.generate import latent_noise, latent_walk, sample_images, save_gif
    from wgan.grids import make_grid
    from wgan.io import save_png

    points = latent_noise(args.points, loaded.latent_dim, loaded.distribution, seed)
    walk = latent_walk(points, args.steps, loaded.distribution)
    frames = sample_images(loaded.model, walk, args.batch_size)
    save_png(out / "interpolation.png", make_grid(frames, columns=args.steps))
    save_gif(frames, out / "interpolation.gif", args.frame_ms)
    return (
        f"a {len(frames)}-frame walk through {args.points} random points to "
        f"{out}/interpolation.gif and interpolation.png (one leg per row)"
    )


if __name__ == "__main__":
    sys.exit(main())
