#!/usr/bin/env python
"""Do the image-to-image models do what they are for? The translation issue's targets, measured.

    python benchmarks/translation.py quality --faces ../shared/data/celeba-sample --out DIR
    python benchmarks/translation.py speed                  # it/s, float32 and bf16, one process

quality trains what a user types, then judges the runs on their held-out images
(``wgan.translation_evaluation``):

- Pix2Pix, edges -> faces at 64x64 (``--pairs edges``; 2,000 faces: 1,800 train, 200 held out),
  against the mean training face and the same U-Net trained on L1 alone
  (``--adversarial-weight 0``) for the same iterations: L1, PSNR, SSIM against the targets and
  the SWD of the outputs against the real held-out faces.
- CycleGAN on the Blond_Hair / Black_Hair split (faces with both belong to neither; 20 % of
  each domain held out): the cycle L1 and the share of translations an independent domain
  classifier (trained on the real training images; its held-out accuracy printed) reads as the
  target domain.

Finished runs (their generator.keras exists) are not trained again. speed times training
iterations at the presets' sizes on random images, float32 and bf16 in one process (ratios
hold across machines; the CPU model is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from benchmarks.trainer import cpu_model, run_logged  # noqa: E402

CACHE = ROOT / ".cache" / "images"


def run(command: list[str], log: Path) -> float:
    return run_logged(command, log, "translation.py")


def train(name: str, args: list[str], out: Path) -> Path:
    folder = out / name
    if not (folder / "generator.keras").is_file():
        command = [sys.executable, "scripts/train.py", *args, "--run-dir", str(folder)]
        if folder.exists():
            command = [sys.executable, "scripts/train.py", "--resume", str(folder)]
        minutes = run(command, out / f"{name}.log") / 60
        print(f"{name}: trained in {minutes:.1f} min", flush=True)
    return folder


def quality(args: argparse.Namespace) -> dict:
    from wgan.config import TrainConfig
    from wgan.translation_evaluation import (
        evaluate_translation,
        held_out_domains,
        mean_image_metrics,
    )

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    faces = str(Path(args.faces).resolve())
    common = ["--data", faces, "--seed", str(args.seed)]
    figures: dict = {}
    if "pix2pix" in args.models:
        pix = ["--preset", "pix2pix", "--pairs", "edges", "--epochs", str(args.pix2pix_epochs),
               *common]  # fmt: skip
        for name, extra in (("pix2pix", []), ("l1_only", ["--adversarial-weight", "0"])):
            folder = train(name, [*pix, *extra], out)
            figures[name] = evaluate_translation(folder, CACHE)
            print(name, json.dumps(figures[name]), flush=True)
        domains = held_out_domains(TrainConfig.load(out / "pix2pix"), CACHE)
        figures["mean_face"] = mean_image_metrics(domains)
        print("mean_face", json.dumps(figures["mean_face"]), flush=True)
    if "cyclegan" in args.models:
        folder = train("cyclegan", [
            "--preset", "cyclegan", "--domain-a", "Blond_Hair", "--domain-b", "Black_Hair",
            "--held-out", "0.2", "--epochs", str(args.cyclegan_epochs), *common], out)  # fmt: skip
        figures["cyclegan"] = evaluate_translation(folder, CACHE)
        print("cyclegan", json.dumps(figures["cyclegan"]), flush=True)
    return figures


def report(figures: dict) -> None:
    if "pix2pix" in figures:
        print("\nPix2Pix, edges -> faces, held-out pairs (L1 on [0, 1]; SWD x 1e3):")
        print(f"{'':<12}{'L1':>8}{'PSNR':>8}{'SSIM':>8}{'SWD':>8}")
        for name in ("mean_face", "l1_only", "pix2pix"):
            f = figures[name]
            print(f"{name:<12}{f['l1']:8.4f}{f['psnr']:8.2f}{f['ssim']:8.3f}{f['swd']:8.1f}")
        p, b = figures["pix2pix"], figures["l1_only"]
        print(f"pix2pix L1 / L1-only L1 = {p['l1'] / b['l1']:.3f} (target <= ~1.10); "
              f"SWD {p['swd']:.1f} vs {b['swd']:.1f} ({p['swd'] / b['swd']:.2f}x)")  # fmt: skip
    if "cyclegan" in figures:
        c = figures["cyclegan"]
        a, b = c["domains"]
        print(f"\nCycleGAN, {a} <-> {b}: cycle L1 {c['cycle_l1']:.4f}; domain classifier "
              f"held-out accuracy {c['judge_accuracy']:.1%}; translations read as the target "
              f"domain: {c['read_as_target']:.1%} (A->B {c['read_as_target_a_to_b']:.1%}, "
              f"B->A {c['read_as_target_b_to_a']:.1%}; target >= 70 %); untranslated inputs "
              f"read as the other domain: {c['inputs_read_as_target']:.1%}")  # fmt: skip


def speed(args: argparse.Namespace) -> dict:
    """Training iterations per second of both presets at 64x64, float32 and bf16."""
    import keras
    import numpy as np
    import tensorflow as tf

    from wgan.build import build_gan
    from wgan.data import make_pair_dataset
    from wgan.presets import resolve

    tf.config.optimizer.set_experimental_options({"remapping": False})
    found = {}
    cases = [("pix2pix", 16), ("pix2pix", 1), ("cyclegan", 8)]
    for model, batch in cases:
        for precision in ("float32", "bf16"):
            config = resolve({}, model, {"precision": precision, "batch_size": batch})
            keras.mixed_precision.set_dtype_policy(config.dtype_policy or "float32")
            gan = build_gan(config)
            rng = np.random.default_rng(0)
            images = rng.integers(0, 256, (64, 64, 64, 3), dtype=np.uint8)
            data = make_pair_dataset(images, images, batch, seed=0).repeat()
            steps = max(4, args.images // batch)
            gan.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
            start = time.perf_counter()
            gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
            rate = steps / (time.perf_counter() - start)
            key = f"{model}_batch{batch}_{precision}"
            found[key] = {"it_per_s": rate, "images_per_s": rate * batch}
            print(f"{key}: {rate:.2f} it/s, {rate * batch:.1f} images/s", flush=True)
            keras.mixed_precision.set_dtype_policy("float32")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("quality", "speed"))
    parser.add_argument("--faces", default=str(ROOT.parent / "shared/data/celeba-sample"),
                        help="CelebA folder with list_attr_celeba.txt")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("/tmp/translation-bench"))
    parser.add_argument("--models", nargs="+", default=["pix2pix", "cyclegan"])
    parser.add_argument("--pix2pix-epochs", type=int, default=40)
    parser.add_argument("--cyclegan-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=320, help="speed: images timed per case")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}", flush=True)
    if args.what == "speed":
        figures = speed(args)
    else:
        figures = quality(args)
        report(figures)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
