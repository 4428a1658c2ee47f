"""The judge: learns a tiny labelled set, reports held-out accuracy, and is cached per data set."""

import json

import numpy as np
import pytest

from wgan.classifier import (
    FEATURE_DIM,
    Judge,
    label_digest,
    load_or_train_judge,
    split_held_out,
    train_judge,
)
from wgan.errors import DataError

SIZE = 16
CORNERS = ["top-left", "top-right", "bottom-left", "bottom-right"]
EPOCHS = 6  # 200 images: a few dozen steps are plenty for squares in corners


def squares(corners: list[list[int]], seed: int) -> np.ndarray:
    """16x16 noisy grey images with a bright 5x5 square somewhere in each listed corner."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (len(corners), SIZE, SIZE, 1)).astype(np.uint8)
    for image, where in zip(images, corners, strict=True):
        for corner in where:
            top = rng.integers(0, 3) + (SIZE // 2 if corner >= 2 else 0)
            left = rng.integers(0, 3) + (SIZE // 2 if corner % 2 else 0)
            image[top : top + 5, left : left + 5] = rng.integers(200, 256)
    return images


def corner_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.random.default_rng(seed).integers(0, 4, n)
    return squares([[c] for c in labels], seed), labels


@pytest.fixture(scope="module")
def corners():
    return corner_set(200, 1) + corner_set(100, 2)


def key_for(corners, **changes) -> dict:
    train_x, train_y, test_x, test_y = corners
    key = {"data": "corners", "n_train": len(train_x), "n_test": len(test_x), "size": SIZE,
           "names": CORNERS, "labels": label_digest(np.concatenate([train_y, test_y]))}  # fmt: skip
    return {**key, **changes}


@pytest.fixture(scope="module")
def cached(corners, tmp_path_factory):
    path = tmp_path_factory.mktemp("judge") / "judge.keras"
    judge, trained = load_or_train_judge(
        path, key_for(corners), *corners, CORNERS, epochs=EPOCHS, seed=0
    )
    return path, judge, trained


def test_a_judge_learns_which_corner_holds_the_square(cached, corners):
    _, judge, trained = cached
    _, _, test_x, test_y = corners
    assert trained and not judge.multi_label and judge.names == CORNERS
    assert judge.accuracy > 0.9
    predicted = judge.predict(test_x)
    assert predicted.shape == (100,) and np.mean(predicted == test_y) == judge.accuracy
    probabilities = judge.probabilities(test_x)
    assert probabilities.shape == (100, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), predicted)
    features = judge.features(test_x)
    assert features.shape == (100, FEATURE_DIM) and features.dtype == np.float32


def test_a_judge_wants_uint8_images_of_its_shape(cached):
    judge = cached[1]
    with pytest.raises(DataError, match="uint8"):
        judge.predict(np.zeros((2, SIZE, SIZE, 1), np.float32))
    with pytest.raises(DataError, match="uint8"):
        judge.predict(np.zeros((2, SIZE, SIZE, 3), np.uint8))


def test_a_multi_label_judge_learns_two_attributes():
    rng = np.random.default_rng(3)
    attributes = rng.integers(0, 2, (300, 2))  # square top-left?  square bottom-right?
    images = squares(
        [[c for c, on in zip((0, 3), row, strict=True) if on] for row in attributes], 3
    )
    judge = train_judge(
        images[:200], attributes[:200], images[200:], attributes[200:], ["tl", "br"],
        multi_label=True, epochs=EPOCHS,
    )  # fmt: skip
    assert judge.multi_label and len(judge.per_output_accuracy) == 2
    assert judge.accuracy == pytest.approx(np.mean(judge.per_output_accuracy))
    assert judge.accuracy > 0.9
    predicted = judge.predict(images[200:])
    assert predicted.shape == (100, 2) and set(np.unique(predicted)) <= {0, 1}
    assert np.all((judge.probabilities(images[200:]) > 0.5) == predicted)


def test_the_cached_judge_is_reused_for_the_same_key(cached, corners):
    path, judge, _ = cached
    stored = json.loads(path.with_suffix(".json").read_text())
    assert stored["key"] == key_for(corners) and stored["accuracy"] == judge.accuracy
    again, trained = load_or_train_judge(path, key_for(corners), *corners, CORNERS, epochs=EPOCHS)
    assert not trained and isinstance(again, Judge)
    assert again.accuracy == judge.accuracy and again.names == CORNERS
    test_x = corners[2]
    np.testing.assert_array_equal(again.predict(test_x), judge.predict(test_x))
    np.testing.assert_allclose(again.features(test_x), judge.features(test_x), rtol=1e-5)


def test_a_changed_key_or_a_corrupt_cache_retrains(cached, corners, tmp_path):
    path = tmp_path / "judge.keras"
    _, trained = load_or_train_judge(path, key_for(corners), *corners, CORNERS, epochs=1)
    assert trained
    changed = key_for(corners, n_train=123)
    _, trained = load_or_train_judge(path, changed, *corners, CORNERS, epochs=1)
    assert trained and json.loads(path.with_suffix(".json").read_text())["key"] == changed
    path.write_bytes(b"not a zip file")
    judge, trained = load_or_train_judge(path, changed, *corners, CORNERS, epochs=1)
    assert trained and judge.predict(corners[2]).shape == (100,)
    _, trained = load_or_train_judge(path, changed, *corners, CORNERS, epochs=1)
    assert not trained  # the retrained judge replaced the corrupt file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge.json", "judge.keras"]


def test_split_held_out_is_seeded_disjoint_and_complete():
    train, test = split_held_out(100, 0.2, seed=5)
    assert len(test) == 20 and len(train) == 80
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    again = split_held_out(100, 0.2, seed=5)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(split_held_out(100, 0.2, seed=6)[1], test)
    assert [len(part) for part in split_held_out(3, 0.01, seed=0)] == [2, 1]  # never empty
