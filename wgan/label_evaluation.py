"""Judge a model that uses labels with a classifier that is not its own critic.

The judge (``wgan.classifier``) is a small CNN trained on the real labelled images, its accuracy
measured on held-out ones, and cached per data set. With it: how often a conditional generator
draws the class it was asked for, and how varied its images of one class are compared with real
images of that class (so a generator that draws one image per class does not pass); how often
switching an attribute flips the judge's decision; how well InfoGAN's categorical code matches
the classes; and for the semi-supervised GAN, its classifier's test accuracy against the same
architecture trained on the labelled images alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from wgan.build import classifier_for, critic_for
from wgan.classifier import Judge, label_digest, load_or_train_judge, split_held_out
from wgan.conditioning import ATTRIBUTES, CLASS, CLASSES
from wgan.config import TrainConfig
from wgan.data import to_float
from wgan.digits import DIGITS, load_digits
from wgan.errors import ConfigError, WganError
from wgan.generate import load_generator, sample_images
from wgan.label_metrics import diversity_ratios, flip_rate, hungarian_agreement, label_accuracy
from wgan.labels import balanced_subset
from wgan.model_files import load_model_file
from wgan.run_folder import RunFolder
from wgan.sources import load_training_data

log = logging.getLogger(__name__)
HELD_OUT = 0.2  # share of a labelled folder held out to test the judge (digits: fixed 1,000)
SPLIT_SEED = 0  # the folder's split does not depend on the run's seed: every run shares a judge


@dataclass
class LabelledData:
    """Real labelled images to train and test the judge on, and the run's own training data."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    names: list[str]
    kind: str
    key: dict  # what the judge's cache is keyed on


def labelled_data(config: TrainConfig, cache_dir: str | os.PathLike | None = None) -> LabelledData:
    """The built-in digits' fixed 4,000/1,000 split, or a seeded split of a labelled folder."""
    if config.data == DIGITS:
        train_x, train_y = load_digits("train", config.image_size, config.channels)
        test_x, test_y = load_digits("test", config.image_size, config.channels)
        names, kind = [str(d) for d in range(10)], CLASS
    else:
        loaded = load_training_data(config, None, config.data, _images(cache_dir))
        if loaded.labels is None:
            raise ConfigError(
                f"{config.data} has no labels to judge {config.model} with: use class "
                "sub-folders, --attributes with CelebA, or --data digits"
            )
        values = loaded.labels.values
        train, test = split_held_out(len(values), HELD_OUT, SPLIT_SEED)
        images = np.asarray(loaded.images)
        train_x, train_y, test_x, test_y = images[train], values[train], images[test], values[test]
        names, kind = list(loaded.labels.names), loaded.labels.kind
    key = {
        "data": config.data, "image_size": config.image_size, "channels": config.channels,
        "names": names, "kind": kind, "n_train": len(train_x), "n_test": len(test_x),
        "labels": label_digest(np.concatenate([train_y, test_y])),
    }  # fmt: skip
    return LabelledData(train_x, train_y, test_x, test_y, names, kind, key)


def _images(cache_dir: str | os.PathLike | None) -> Path | None:
    """Decoded images are cached where train.py caches them (CACHE_DIR/images)."""
    return Path(cache_dir) / "images" if cache_dir is not None else None


def judge_for(
    data: LabelledData, cache_dir: str | os.PathLike | None
) -> tuple[Judge, bool]:
    """The cached judge of this data set, trained (about half a minute) when there is none."""
    tag = hashlib.sha256(json.dumps(data.key, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir) if cache_dir is not None else Path(".cache")
    path = folder / "judges" / f"judge-{tag}.keras"
    return load_or_train_judge(
        path, data.key, data.train_images, data.train_labels, data.test_images,
        data.test_labels, data.names, multi_label=data.kind == ATTRIBUTES,
    )  # fmt: skip


def evaluate_labels(
    run_dir: str | os.PathLike,
    per_class: int = 100,
    seed: int = 0,
    checkpoint: str = "last",
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    note: Callable[[str], None] | None = None,
) -> dict:
    """Every figure that says whether a label model does what it is for, as a JSON-ready dict.

    ``per_class`` images are drawn per class (or, for attributes and InfoGAN, that many per
    attribute or category). ``note`` receives progress lines for the user.
    """
    note = note or (lambda text: None)
    config = TrainConfig.load(run_dir)
    if config.model == "gan":
        raise ConfigError(f"{run_dir} is an unconditional run: there are no labels to judge")
    data = labelled_data(config, cache_dir)
    judge, trained = judge_for(data, cache_dir)
    note(f"judge: {'trained' if trained else 'cached'} classifier, held-out accuracy "
         f"{judge.accuracy:.2%} on {len(data.test_images)} real images")  # fmt: skip
    result = {
        "run": str(run_dir), "model": config.model, "seed": seed, "checkpoint": checkpoint,
        "judge": {"accuracy": judge.accuracy, "held_out": len(data.test_images),
                  "per_output_accuracy": judge.per_output_accuracy, "names": judge.names},
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    if config.model == "sgan":
        result.update(_semi_supervised(config, run_dir, data, cache_dir, seed))
        return result
    loaded = load_generator(run_dir, checkpoint)
    space = loaded.space
    if config.model == "infogan":
        result.update(_infogan(space, loaded.model, judge, data, per_class, rng, batch_size))
        return result
    if space.kind == CLASS:
        result.update(_classes(space, loaded.model, judge, data, per_class, rng, batch_size))
    else:
        result.update(_attributes(space, loaded.model, judge, per_class, rng, batch_size))
    if config.model == "acgan":
        result["own_head_accuracy"] = _own_head_accuracy(run_dir, data)
    return result


def _classes(space, generator, judge, data, per_class, rng, batch_size) -> dict:
    k = len(space.names)
    labels = np.repeat(np.arange(k, dtype=np.int32), per_class)
    images = sample_images(generator, space.inputs(space.latent(len(labels), rng), labels),
                           batch_size)  # fmt: skip
    accuracy, per = label_accuracy(judge.predict(images), labels, k)
    ratios = diversity_ratios(judge.features(images), labels, judge.features(data.test_images),
                              data.test_labels, k)  # fmt: skip
    finite = [r for r in ratios if np.isfinite(r)]
    return {
        "label_accuracy": accuracy,
        "per_class_accuracy": dict(zip(space.names, per, strict=True)),
        "diversity_ratio": dict(zip(space.names, ratios, strict=True)),
        "diversity_ratio_min": min(finite) if finite else float("nan"),
        "diversity_ratio_mean": float(np.mean(finite)) if finite else float("nan"),
        "generated": len(labels),
    }


def _attributes(space, generator, judge, per_class, rng, batch_size) -> dict:
    """For each attribute: the same noise and other attributes, switched off then on."""
    flips, on_accuracy, off_accuracy = {}, {}, {}
    for a, name in enumerate(space.names):
        latent = space.latent(per_class, rng)
        base = space.random_labels(per_class, rng)
        decided = []
        for value in (0.0, 1.0):
            labels = base.copy()
            labels[:, a] = value
            images = sample_images(generator, space.inputs(latent, labels), batch_size)
            decided.append(judge.predict(images)[:, a])
        flips[name] = flip_rate(decided[0], decided[1])
        off_accuracy[name] = float(np.mean(decided[0] == 0))
        on_accuracy[name] = float(np.mean(decided[1] == 1))
    return {
        "flip_rate": flips, "off_judged_off": off_accuracy, "on_judged_on": on_accuracy,
        "generated_per_attribute": 2 * per_class,
    }  # fmt: skip


def _infogan(space, generator, judge, data, per_class, rng, batch_size) -> dict:
    n = per_class * space.categories
    latent = space.latent(n, rng)
    codes = latent[:, space.latent_dim : space.latent_dim + space.categories].argmax(axis=1)
    predicted = judge.predict(sample_images(generator, latent, batch_size))
    agreement, mapping = hungarian_agreement(codes, predicted, space.categories, len(data.names))
    return {
        "code_agreement": agreement,
        "code_to_class": {str(c): data.names[k] for c, k in sorted(mapping.items())},
        "generated": n,
    }


def _own_head_accuracy(run_dir, data: LabelledData) -> float:
    """AC-GAN's class head on the held-out real images."""
    critic = _load(RunFolder(run_dir).critic_model)
    logits = _logits(critic, data.test_images)
    if data.kind == ATTRIBUTES:
        return float(np.mean((logits > 0) == (data.test_labels > 0.5)))
    return float(np.mean(logits.argmax(axis=1) == data.test_labels))


def _semi_supervised(config, run_dir, data, cache_dir, seed) -> dict:
    """The SGAN's classifier, and the same architecture trained on its labelled images alone
    (same optimizer, batch size and number of updates as the run's critic made)."""
    classifier = _load(RunFolder(run_dir).classifier_model)
    accuracy = float(np.mean(_logits(classifier, data.test_images).argmax(1) == data.test_labels))
    run_data = load_training_data(config, None, config.data, _images(cache_dir))
    chosen = balanced_subset(run_data.labels.values, config.labelled, config.seed)
    images = np.asarray(run_data.images)[chosen]
    labels = run_data.labels.values[chosen]
    updates = _updates(run_dir, config)
    keras.utils.set_random_seed(seed)
    baseline = classifier_for(critic_for(config))
    baseline.compile(
        keras.optimizers.Adam(config.lr, beta_1=config.beta1, beta_2=config.beta2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    order = np.random.default_rng(seed).integers(0, len(images), (updates, config.batch_size))
    x = to_float(images[order.reshape(-1)])
    y = labels[order.reshape(-1)]
    baseline.fit(x, y, batch_size=config.batch_size, epochs=1, verbose=0, shuffle=False)
    alone = float(np.mean(_logits(baseline, data.test_images).argmax(1) == data.test_labels))
    return {
        "classifier_accuracy": accuracy,
        "labelled_only_accuracy": alone,
        "gain_points": 100 * (accuracy - alone),
        "labelled": int(config.labelled),
        "baseline_updates": int(updates),
    }


def _updates(run_dir, config: TrainConfig) -> int:
    try:
        recorded = json.loads(RunFolder(run_dir).config.read_text())
        return int(recorded["steps_per_epoch"]) * int(config.epochs)
    except (OSError, KeyError, ValueError, TypeError):
        return 1000


def _load(path: Path) -> keras.Model:
    if not path.is_file():
        raise WganError(f"{path} not found: let the run finish (it is written at the end)")
    return load_model_file(path, "restore it from a copy, or train the run again")


def _logits(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    out = []
    for start in range(0, len(images), batch_size):
        found = model(to_float(images[start : start + batch_size]), training=False)
        out.append(np.asarray(found[CLASSES] if isinstance(found, dict) else found))
    return np.concatenate(out)
