#!/usr/bin/env python
"""Do the label models do what they are for? The targets of the label issue, measured.

    python benchmarks/labels.py --out /tmp/label-bench                 # all four, seeds 0 1 2
    python benchmarks/labels.py --out DIR --models infogan --seeds 0 1 2 3
    python benchmarks/labels.py --out DIR --models cgan --faces ../shared/data/celeba-sample

Each run is what a user types: ``scripts/train.py --preset MODEL --seed S`` on the built-in
digits (4,000 training, 1,000 held out), then ``scripts/evaluate.py RUN``, which judges it with
an independent classifier trained on the training digits (its held-out accuracy is printed).
With ``--faces``, a cGAN is trained on that CelebA folder at 64x64 conditioned on
``--attributes Smiling`` for ``--faces-iterations`` generator iterations (1,500: 13 minutes on a
quiet 2-core EPYC, 1.9 it/s), and judged by an attribute classifier trained on 80 % of the same
faces. Finished runs (their conditioning.json exists) are
not trained again, so the benchmark can be stopped and restarted. Prints one line per run, a
table per model against its target, the CPU model, and a JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.trainer import cpu_model, run_logged  # noqa: E402

MODELS = ("cgan", "acgan", "infogan", "sgan")
RESULT = "conditioning.json"


def headline(model: str, result: dict) -> dict:
    """The figures each target is stated in."""
    if model == "cgan" and "flip_rate" in result:
        return {"flip_rate": result["flip_rate"]["Smiling"]}
    if model in ("cgan", "acgan"):
        found = {"label_accuracy": result["label_accuracy"],
                 "diversity_min": result["diversity_ratio_min"],
                 "diversity_mean": result["diversity_ratio_mean"]}  # fmt: skip
        if model == "acgan":
            found["own_head"] = result["own_head_accuracy"]
        return found
    if model == "infogan":
        return {"code_agreement": result["code_agreement"]}
    return {"sgan": result["classifier_accuracy"], "alone": result["labelled_only_accuracy"],
            "gain_points": result["gain_points"]}  # fmt: skip


def run(command: list[str], log: Path) -> float:
    return run_logged(command, log, "labels.py")


def train_and_judge(name: str, train_args: list[str], out: Path) -> dict:
    folder = out / name
    if not (folder / RESULT).is_file():
        log = out / f"{name}.log"
        if folder.exists() and not (folder / "generator.keras").is_file():
            train_args = ["--resume", str(folder)]  # an interrupted run: finish it
        elif not folder.exists():
            train_args = [*train_args, "--run-dir", str(folder)]
        else:
            train_args = None
        seconds = 0.0
        if train_args:
            seconds = run([sys.executable, "scripts/train.py", *train_args], log)
        run([sys.executable, "scripts/evaluate.py", str(folder)], log)
        record = json.loads((folder / RESULT).read_text())
        record["train_seconds"] = round(seconds, 1)
        (folder / RESULT).write_text(json.dumps(record, indent=1))
    return json.loads((folder / RESULT).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--faces", type=Path, help="CelebA folder for the Smiling target")
    parser.add_argument("--faces-iterations", type=int, default=1500)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more train.py flags for every digits run")  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_model()}")
    figures: dict = {}
    for model in args.models if not args.faces else []:
        for seed in args.seeds:
            name = f"{model}-seed{seed}"
            result = train_and_judge(
                name, ["--preset", model, "--seed", str(seed), *args.extra], args.out
            )
            figures[name] = {**headline(model, result), "train_seconds": result["train_seconds"],
                             "judge_accuracy": result["judge"]["accuracy"]}  # fmt: skip
            print(name, json.dumps(figures[name]), flush=True)
    if args.faces:
        iterations = args.faces_iterations
        name = "cgan-faces-smiling"
        result = train_and_judge(name, [
            "--preset", "cgan", "--data", str(args.faces), "--attributes", "Smiling",
            "--image-size", "64", "--channels", "3", "--n-samples", "0",
            "--iterations", str(iterations), "--eval-every", "10", *args.extra,
        ], args.out)  # fmt: skip
        figures[name] = {**headline("cgan", result), "train_seconds": result["train_seconds"],
                         "judge_accuracy": result["judge"]["accuracy"]}  # fmt: skip
        print(name, json.dumps(figures[name]), flush=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
