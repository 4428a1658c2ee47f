"""Label metrics on hand-made arrays whose answers are known."""

import math

import numpy as np
import pytest

from wgan.label_metrics import (
    diversity_ratios,
    flip_rate,
    hungarian_agreement,
    label_accuracy,
    mean_pairwise_distance,
)


def test_label_accuracy_overall_and_per_class():
    wanted = np.array([0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 1, 1, 1, 0, 1])
    overall, per_class = label_accuracy(predicted, wanted, 3)
    assert overall == pytest.approx(4 / 6)
    assert per_class[:2] == pytest.approx([0.5, 0.75])
    assert math.isnan(per_class[2])  # nothing was generated for class 2


def test_label_accuracy_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="predicted"):
        label_accuracy(np.array([0, 3]), np.array([0, 1]), 3)


def test_mean_pairwise_distance_of_known_points():
    # A 3-4-5 triangle: pair distances 3, 4 and 5.
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert mean_pairwise_distance(points) == pytest.approx(4.0)
    assert mean_pairwise_distance(np.ones((5, 3))) == 0.0  # rounding never goes below 0
    assert math.isnan(mean_pairwise_distance(points[:1]))


def test_mean_pairwise_distance_matches_brute_force_across_blocks(monkeypatch):
    import wgan.label_metrics as label_metrics

    monkeypatch.setattr(label_metrics, "_ROWS", 7)  # several blocks, one of them ragged
    x = np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)
    pairs = [np.linalg.norm(x[i] - x[j]) for i in range(30) for j in range(30) if i != j]
    assert mean_pairwise_distance(x) == pytest.approx(np.mean(pairs), rel=1e-6)


def real_features(rng, n_per_class=20, n_classes=3, dim=8):
    features = rng.normal(size=(n_per_class * n_classes, dim))
    return features, np.repeat(np.arange(n_classes), n_per_class)


def test_diversity_ratio_is_one_for_real_images_and_zero_for_one_image_per_class():
    rng = np.random.default_rng(1)
    real, labels = real_features(rng)
    assert diversity_ratios(real, labels, real, labels, 3) == pytest.approx([1.0, 1.0, 1.0])
    collapsed = np.stack([real[labels == c][0] for c in labels])  # one image per class, repeated
    assert diversity_ratios(collapsed, labels, real, labels, 3) == pytest.approx([0.0] * 3)
    halved = diversity_ratios(real * 0.5, labels, real, labels, 3)
    assert halved == pytest.approx([0.5, 0.5, 0.5])


def test_diversity_ratio_is_nan_for_a_class_with_too_few_images():
    rng = np.random.default_rng(2)
    real, labels = real_features(rng)
    gen_labels = np.array([0, 0, 0, 1])  # class 1 once, class 2 never
    ratios = diversity_ratios(real[:4], gen_labels, real, labels, 3)
    assert np.isfinite(ratios[0]) and math.isnan(ratios[1]) and math.isnan(ratios[2])


def test_hungarian_agreement_finds_a_permuted_code_mapping():
    codes = np.tile(np.arange(4), 25)
    meaning = np.array([2, 0, 3, 1])  # code k draws class meaning[k]
    agreement, mapping = hungarian_agreement(codes, meaning[codes], 4, 4)
    assert agreement == 1.0
    assert mapping == {0: 2, 1: 0, 2: 3, 3: 1}


def test_hungarian_agreement_is_one_to_one_and_counts_the_rest_as_misses():
    # Codes 0 and 1 both draw class 0 mostly: only one of them can be matched to it.
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 1, 0, 0, 1, 1])
    agreement, mapping = hungarian_agreement(codes, predicted, 2, 2)
    assert mapping == {0: 0, 1: 1}
    assert agreement == pytest.approx(5 / 8)
    # More codes than classes: the unmatched code's samples are misses.
    agreement, mapping = hungarian_agreement(np.array([0, 1, 2]), np.array([0, 1, 1]), 3, 2)
    assert len(mapping) == 2 and agreement == pytest.approx(2 / 3)


def test_flip_rate_counts_only_the_wanted_direction():
    off = np.array([0, 0, 1, 1, 0])
    on = np.array([1, 0, 1, 0, 1])
    # Flipped on: samples 0 and 4. Sample 2 was already on, sample 3 flipped the wrong way.
    assert flip_rate(off, on) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="shape"):
        flip_rate(off, on[:3])
