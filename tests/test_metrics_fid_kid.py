"""FID and KID on feature arrays from any extractor, and InceptionV3 from a local file only."""

import time

import keras
import numpy as np
import pytest
import scipy.linalg

from wgan.errors import WganError
from wgan.metrics import (
    InceptionWeightsError,
    compute_features,
    compute_metrics,
    fid_from_statistics,
    frechet_distance,
    kernel_inception_distance,
    load_inception,
)

SHIFTS = (0.0, 0.25, 0.5, 1.0, 2.0)


@pytest.fixture(scope="module")
def features():
    """Two independent samples of the same 16-D distribution (correlated, non-zero mean)."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(16, 16)) / 4
    return rng.normal(size=(600, 16)) @ mixing + 1.0, rng.normal(size=(600, 16)) @ mixing + 1.0


@pytest.fixture(scope="module")
def small_network():
    """A tiny conv net standing in for InceptionV3: images -> 8 pooled features."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            keras.layers.Conv2D(8, 3, strides=2, activation="tanh"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )


def textured_images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(60, 160, size=(n, 16, 16, 3), dtype=np.uint8)


def test_identical_feature_sets_score_zero(features):
    feats, _ = features
    assert frechet_distance(feats, feats.copy()) == pytest.approx(0.0, abs=1e-6)
    kid, kid_std = kernel_inception_distance(feats, feats.copy(), subset_size=200)
    shifted, _ = kernel_inception_distance(feats, feats + 0.25, subset_size=200)
    assert abs(kid) < 0.05 * shifted
    assert kid_std >= 0


def test_fid_and_kid_grow_with_the_mean_shift_of_raw_features(features):
    feats_a, feats_b = features
    fids = [frechet_distance(feats_a, feats_b + shift) for shift in SHIFTS]
    kids = [kernel_inception_distance(feats_a, feats_b + s, subset_size=300)[0] for s in SHIFTS]
    assert fids == sorted(fids) and len(set(fids)) == len(fids)
    assert kids == sorted(kids) and len(set(kids)) == len(kids)
    # A shift of s in every one of 16 dimensions adds 16 s^2 to the FID.
    assert fids[-1] - fids[0] == pytest.approx(16 * 2.0**2, rel=0.1)


def test_fid_and_kid_grow_with_brightness_through_a_small_network(small_network):
    real = textured_images(200, seed=1)
    fake = textured_images(200, seed=2)
    real_feats = compute_features(real, small_network, batch_size=64)
    assert real_feats.shape == (200, 8) and real_feats.dtype == np.float64
    assert frechet_distance(real_feats, real_feats) == pytest.approx(0.0, abs=1e-9)
    fids, kids = [], []
    for offset in (0, 15, 30, 60):
        fake_feats = compute_features(fake + np.uint8(offset), small_network, batch_size=64)
        fids.append(frechet_distance(real_feats, fake_feats))
        kids.append(kernel_inception_distance(real_feats, fake_feats, subset_size=100)[0])
    assert fids == sorted(fids) and fids[0] < 0.1 * fids[1]
    assert kids == sorted(kids) and kids[0] < 0.1 * kids[1]


def test_compute_features_batches_give_the_same_rows_as_one_call(small_network):
    images = textured_images(10, seed=3)
    whole = np.asarray(small_network(images.astype("float32")))
    batched = compute_features(images, small_network, batch_size=3)
    assert np.allclose(batched, whole, atol=1e-6)
    # Any callable works, and feature maps are flattened per image.
    pixels = compute_features(images, lambda batch: batch / 255.0, batch_size=4)
    assert pixels.shape == (10, 16 * 16 * 3)


def test_fid_matches_the_closed_form_for_gaussians():
    dim = 5
    # ||1||^2 + Tr(I + 4I - 2 * 2I) = dim + dim.
    value = fid_from_statistics(np.zeros(dim), np.eye(dim), np.ones(dim), 4 * np.eye(dim))
    assert value == pytest.approx(2 * dim)


def test_fid_agrees_with_the_textbook_formula_through_scipy_sqrtm():
    rng = np.random.default_rng(3)
    feats_a = rng.normal(size=(300, 64)) @ rng.normal(size=(64, 64))
    feats_b = rng.normal(0.3, 1.0, size=(300, 64)) @ rng.normal(size=(64, 64))
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    textbook = (mu_a - mu_b) @ (mu_a - mu_b) + np.trace(cov_a + cov_b - 2 * covmean)
    assert frechet_distance(feats_a, feats_b) == pytest.approx(textbook, rel=1e-6)


def test_kid_matches_a_direct_computation_of_the_unbiased_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), rng.normal(0.5, 1.0, size=(6, 4))

    def k(a, b):
        return (a @ b / 4 + 1) ** 3

    m = len(x)
    expected = (
        sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        / (m * (m - 1))
        - 2 * sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    )
    kid, kid_std = kernel_inception_distance(x, y, num_subsets=3)
    assert kid == pytest.approx(expected)
    # The subset size is capped at the 6 samples, so every subset is the whole set.
    assert kid_std == pytest.approx(0.0, abs=1e-12)


def test_kid_subsets_are_seeded_and_spread(features):
    feats_a, feats_b = features
    first = kernel_inception_distance(feats_a, feats_b, subset_size=100, seed=5)
    again = kernel_inception_distance(feats_a, feats_b, subset_size=100, seed=5)
    assert first == again
    assert first[1] > 0


def test_fid_survives_fewer_samples_than_dimensions():
    rng = np.random.default_rng(2)
    few_a, few_b = rng.normal(size=(10, 32)), rng.normal(size=(12, 32))
    value = frechet_distance(few_a, few_b)
    assert np.isfinite(value) and value > 0
    assert frechet_distance(few_a, few_a) == pytest.approx(0.0, abs=1e-6)


def test_bad_feature_shapes_are_clear_errors(features):
    feats, _ = features
    with pytest.raises(ValueError, match="different widths"):
        frechet_distance(feats, feats[:, :8])
    with pytest.raises(ValueError, match="different widths"):
        kernel_inception_distance(feats, feats[:, :8])
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(feats[:1], feats)


def test_registry_shares_one_feature_pass_between_fid_and_kid():
    calls = []

    def extractor(batch):
        calls.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :6] / 255.0

    real, fake = textured_images(40, seed=4), textured_images(40, seed=5)
    result = compute_metrics(["fid", "kid", "swd"], fake, real, extractor=extractor, batch_size=20)
    assert {"fid", "kid", "kid_std", "swd_16", "swd_avg"} <= set(result)
    assert calls == [20, 20, 20, 20]


def test_missing_inception_weights_fail_fast_without_a_download(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("keras.utils.get_file was called: no download may be attempted")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(WganError, match="--inception-weights") as error:
        load_inception()
    assert time.perf_counter() - start < 2.0
    assert "\n" not in str(error.value)
    with pytest.raises(InceptionWeightsError, match="does-not-exist.h5"):
        load_inception(tmp_path / "does-not-exist.h5")


# Keras' own weight saving trips a NumPy 2 deprecation warning once per variable.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_inception_loads_a_local_weights_file_and_repeats_grey_to_rgb(tmp_path):
    keras.utils.set_random_seed(0)
    reference = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    )
    weights = tmp_path / "inception.weights.h5"
    reference.save_weights(weights)
    extractor = load_inception(weights)
    grey = textured_images(4, seed=6)[..., :1]
    feats = compute_features(grey, extractor, batch_size=4)
    assert feats.shape == (4, 2048)
    assert np.allclose(feats, compute_features(np.repeat(grey, 3, axis=-1), extractor, 4))
    resized = keras.ops.image.resize(np.repeat(grey, 3, axis=-1).astype("float32"), (299, 299))
    expected = reference(keras.applications.inception_v3.preprocess_input(resized))
    assert np.allclose(feats, np.asarray(expected), atol=1e-5)

    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an h5 file")
    with pytest.raises(InceptionWeightsError, match="corrupt.h5"):
        load_inception(corrupt)
