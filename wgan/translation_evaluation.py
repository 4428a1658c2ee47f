"""Judge a finished image-to-image run on its held-out images, as ``evaluate.py RUN`` does.

Pix2Pix: L1, PSNR and SSIM of the translations against their targets (``translation_metrics``)
and the SWD of the translations against the real targets (sharpness and realism, which L1
rewards blurry outputs for missing). CycleGAN: the cycle L1 of the round trips, the SWD of each
direction against real images of its target domain, and the share of translations that an
independent domain classifier (a small CNN trained on the real training images of both
domains; its held-out accuracy is reported) reads as the target domain.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from wgan.classifier import train_judge
from wgan.config import TrainConfig
from wgan.errors import WganError
from wgan.metrics import sliced_wasserstein_distance
from wgan.model_files import load_model_file
from wgan.pairs import Domains
from wgan.run_folder import RunFolder
from wgan.translation_grids import translate
from wgan.translation_metrics import pair_metrics


def held_out_domains(config: TrainConfig, cache_dir: str | os.PathLike | None = None) -> Domains:
    """The run's pairs or domains, split as in training (the same seed and share)."""
    from wgan.sources import load_training_data

    loaded = load_training_data(config, None, config.data or "demo", cache_dir)
    if loaded.domains is None:
        raise WganError(f"--model {config.model} is not an image-to-image model")
    return loaded.domains


def load_translator(run_dir: str | os.PathLike) -> keras.Model:
    """The run's ``generator.keras``, loaded in safe mode (no code from the file runs)."""
    path = RunFolder(run_dir).generator_model
    if not path.is_file():
        raise WganError(f"{path} not found: let the run finish (it is written at the end)")
    return load_model_file(path, "restore it from a copy, or train the run again")


def evaluate_translation(
    run_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    generator: keras.Model | None = None,
    seed: int = 0,
) -> dict:
    """The figures of one run (see the module docstring), on its held-out images."""
    config = TrainConfig.load(run_dir)
    generator = generator or load_translator(run_dir)  # a bad file says so before data loads
    domains = held_out_domains(config, cache_dir)
    training = config.test_dropout
    result: dict = {"model": config.model, "held_out": [len(domains.test_a), len(domains.test_b)],
                    "domains": list(domains.names)}  # fmt: skip
    if domains.paired:
        out = translate(generator, domains.test_a, training=training)
        result.update(pair_metrics(out, domains.test_b))
        result["swd"] = sliced_wasserstein_distance(out, domains.test_b, seed=seed)["swd_avg"]
        return result
    ab = translate(generator, domains.test_a, "AtoB", training)
    ba = translate(generator, domains.test_b, "BtoA", training)
    aba = translate(generator, ab, "BtoA", training)
    bab = translate(generator, ba, "AtoB", training)
    result["cycle_l1"] = float(np.mean([pair_metrics(aba, domains.test_a)["l1"],
                                        pair_metrics(bab, domains.test_b)["l1"]]))  # fmt: skip
    result["swd_a_to_b"] = sliced_wasserstein_distance(ab, domains.test_b, seed=seed)["swd_avg"]
    result["swd_b_to_a"] = sliced_wasserstein_distance(ba, domains.test_a, seed=seed)["swd_avg"]
    result.update(domain_flips(domains, ab, ba, seed))
    return result


def domain_flips(domains: Domains, ab: np.ndarray, ba: np.ndarray, seed: int = 0) -> dict:
    """Train the domain classifier on the real training images (A = 0, B = 1); the share of
    each direction's translations it reads as the target domain."""
    train_x = np.concatenate([domains.train_a, domains.train_b])
    train_y = np.repeat([0, 1], [len(domains.train_a), len(domains.train_b)])
    test_x = np.concatenate([domains.test_a, domains.test_b])
    test_y = np.repeat([0, 1], [len(domains.test_a), len(domains.test_b)])
    judge = train_judge(train_x, train_y, test_x, test_y, list(domains.names), seed=seed)
    untouched = [judge.predict(domains.test_a) == 1, judge.predict(domains.test_b) == 0]
    to_b = float(np.mean(judge.predict(ab) == 1))
    to_a = float(np.mean(judge.predict(ba) == 0))
    return {
        "judge_accuracy": judge.accuracy,
        "read_as_target_a_to_b": to_b,
        "read_as_target_b_to_a": to_a,
        "read_as_target": (to_b * len(ab) + to_a * len(ba)) / (len(ab) + len(ba)),
        "inputs_read_as_target": float(np.mean(np.concatenate(untouched))),
    }


def mean_image_metrics(domains: Domains) -> dict:
    """The 'mean training target' baseline of a paired task: every output is that image."""
    mean = np.rint(np.mean(domains.train_b, axis=0, dtype=np.float64)).astype(np.uint8)
    out = np.broadcast_to(mean, domains.test_b.shape).copy()
    found = pair_metrics(out, domains.test_b)
    found["swd"] = sliced_wasserstein_distance(out, domains.test_b, seed=0)["swd_avg"]
    return found
