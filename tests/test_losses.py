import numpy as np
import pytest

import wgan  # noqa: F401  (selects the TensorFlow backend)
from wgan.losses import FAKE_LABEL, REAL_LABEL, critic_loss, generator_loss, wasserstein_loss


def test_wasserstein_loss_is_mean_of_label_times_score():
    y_true = np.array([[-1.0], [-1.0], [1.0], [1.0]], np.float32)
    y_pred = np.array([[2.0], [4.0], [1.0], [-3.0]], np.float32)
    assert float(wasserstein_loss(y_true, y_pred)) == pytest.approx((-2 - 4 + 1 - 3) / 4)


def test_labels_are_minus_one_for_real_and_plus_one_for_fake():
    assert REAL_LABEL == -1.0
    assert FAKE_LABEL == 1.0


def test_critic_loss_is_fake_mean_minus_real_mean():
    real = np.array([[3.0], [5.0]], np.float32)
    fake = np.array([[1.0], [-1.0]], np.float32)
    assert float(critic_loss(real, fake)) == pytest.approx(0.0 - 4.0)


def test_critic_loss_is_negative_when_the_critic_scores_real_above_fake():
    assert float(critic_loss(np.ones((4, 1), np.float32), -np.ones((4, 1), np.float32))) < 0
    assert float(critic_loss(-np.ones((4, 1), np.float32), np.ones((4, 1), np.float32))) > 0


def test_generator_loss_falls_as_fake_scores_rise():
    low = float(generator_loss(np.full((4, 1), -2.0, np.float32)))
    high = float(generator_loss(np.full((4, 1), 3.0, np.float32)))
    assert low == pytest.approx(2.0)
    assert high == pytest.approx(-3.0)
