#!/usr/bin/env python
"""Translate images with a trained Pix2Pix or CycleGAN run: each output as a PNG, and a grid.

  python scripts/translate.py runs/edges2faces photos/ --out faces
  python scripts/translate.py runs/blond2black face.jpg --direction BtoA

INPUT is an image file or a folder of images, read at the run's size as training read its
data. For an edge-map run each file is a photo: its Canny edges go in and the photo is the
target (--as-is takes the files as edge maps already). For a run on side-by-side pairs, pair
files are split into input and target. The grid's rows are input | output | target (when
known), or for CycleGAN input | output | round trip.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from _common import Parser, import_wgan, run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(prog="translate.py", description=__doc__,
                    formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("run", type=Path, metavar="RUN", help="run folder made by train.py")
    parser.add_argument("input", type=Path, metavar="INPUT", help="image file or folder")
    parser.add_argument("--out", type=Path, help="output folder (default RUN/translated/)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                        help="CycleGAN: which of its generators (default AtoB); Pix2Pix "
                        "translates the way it was trained")  # fmt: skip
    parser.add_argument("--as-is", action="store_true",
                        help="take each file as the input image itself (no edges, no halves)")
    parser.add_argument("--test-dropout", choices=("yes", "no"),
                        help="Pix2Pix: dropout and batch statistics on, as the paper tests "
                        "(default: what the run recorded, off unless trained with it)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.run.is_dir():
        parser.error(f"{args.run} is not a run folder: give the folder train.py wrote")
    if not args.input.exists():
        parser.error(f"{args.input} does not exist: give an image file or a folder of images")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file: give a folder")
    if args.out is not None and args.input.is_dir() and args.out.resolve() == args.input.resolve():
        parser.error("--out is the input folder: choose another, so no input is overwritten")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import_wgan()
    return run_cli("translate.py", translate, args, (OSError,),
                   interrupted="interrupted; the files written so far are complete")  # fmt: skip


def translate(args: argparse.Namespace) -> int:
    from wgan.run_folder import RunFolder
    from wgan.translating import load_run, read_inputs, write_translations

    config, generator = load_run(args.run)
    if config.model == "pix2pix" and args.direction != "AtoB":
        print(f"note: a Pix2Pix run translates one way ({config.direction} of its data); "
              "--direction is for CycleGAN")  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs = read_inputs(config, args.input, as_is=args.as_is)
    for warning in caught:
        print(f"warning: {warning.message}")
    out = args.out or RunFolder(args.run).translated
    training = None if args.test_dropout is None else args.test_dropout == "yes"
    grid = write_translations(config, generator, inputs, out, args.direction, training)
    print(f"translated {len(inputs.names)} images into {out}; grid: {grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
