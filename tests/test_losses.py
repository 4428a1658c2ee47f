"""The adversarial losses: each one's critic terms and generator loss, against their formulas."""

import numpy as np
import pytest

import wgan  # noqa: F401  (selects the TensorFlow backend)
from wgan.errors import ConfigError
from wgan.losses import (
    FAKE_LABEL,
    LOSSES,
    REAL_LABEL,
    Hinge,
    LeastSquares,
    NonSaturating,
    Wasserstein,
    make_loss,
    wasserstein_loss,
)

REAL = np.array([[3.0], [-1.0], [0.5], [2.0]], np.float32)
FAKE = np.array([[-2.0], [0.25], [1.5], [-0.5]], np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def terms(loss):
    real, fake = loss.critic_terms(REAL, FAKE)
    return float(real), float(fake), float(loss.generator(FAKE))


def test_wasserstein_loss_is_mean_of_label_times_score():
    y_true = np.array([[-1.0], [-1.0], [1.0], [1.0]], np.float32)
    y_pred = np.array([[2.0], [4.0], [1.0], [-3.0]], np.float32)
    assert float(wasserstein_loss(y_true, y_pred)) == pytest.approx((-2 - 4 + 1 - 3) / 4)
    assert REAL_LABEL == -1.0 and FAKE_LABEL == 1.0


def test_wasserstein_critic_minimises_fake_mean_minus_real_mean():
    real, fake, gen = terms(Wasserstein())
    assert real + fake == pytest.approx(FAKE.mean() - REAL.mean())
    assert gen == pytest.approx(-FAKE.mean())
    summary = Wasserstein().summarize({"critic_real": 1.25, "critic_fake": 0.5})
    assert summary == {"wasserstein_estimate": pytest.approx(0.75)}


def test_nonsaturating_loss_is_binary_cross_entropy_from_logits():
    real, fake, gen = terms(NonSaturating())
    assert real == pytest.approx(np.mean(-np.log(1 / (1 + np.exp(-REAL)))), rel=1e-5)
    assert fake == pytest.approx(np.mean(-np.log(1 - 1 / (1 + np.exp(-FAKE)))), rel=1e-5)
    assert gen == pytest.approx(np.mean(softplus(-FAKE)), rel=1e-5)  # -log D(G(z))
    huge = np.array([[200.0]], np.float32)  # a sigmoid would round to 1 and log to -inf
    assert np.isfinite(float(NonSaturating().generator(-huge)))


def test_hinge_loss_pushes_real_above_one_and_fake_below_minus_one():
    real, fake, gen = terms(Hinge())
    assert real == pytest.approx(np.mean(np.maximum(0, 1 - REAL)))
    assert fake == pytest.approx(np.mean(np.maximum(0, 1 + FAKE)))
    assert gen == pytest.approx(-FAKE.mean())


def test_least_squares_loss_regresses_real_to_one_and_fake_to_zero():
    real, fake, gen = terms(LeastSquares())
    assert real == pytest.approx(0.5 * np.mean((REAL - 1) ** 2))
    assert fake == pytest.approx(0.5 * np.mean(FAKE**2))
    assert gen == pytest.approx(0.5 * np.mean((FAKE - 1) ** 2))


def test_only_the_wasserstein_loss_reports_an_estimate():
    assert Wasserstein().metrics == ("wasserstein_estimate",)
    for name in ("nonsaturating", "hinge", "least-squares"):
        assert make_loss(name).metrics == ()


def test_losses_are_made_by_their_command_line_names_and_a_wrong_one_lists_them():
    assert {name: type(make_loss(name)) for name in LOSSES} == LOSSES
    with pytest.raises(ConfigError, match="--loss must be one of wasserstein, nonsaturating"):
        make_loss("bce")
