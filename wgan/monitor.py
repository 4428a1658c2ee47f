"""Tell a failed run from a slow one: non-finite values stop it, a flat critic loss is reported.

A WGAN critic that has stopped learning shows it in its loss long before the samples make it
obvious: practitioners read a critic loss stuck at (or collapsed to) zero, or flat for several
epochs, as a failed run, not a slow one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import keras
import numpy as np

from wgan.checkpoint import TrainingState, last_checkpoints
from wgan.errors import WganError
from wgan.gan import CRITIC_LOSS

log = logging.getLogger(__name__)

FLAT_RELATIVE = 0.002  # "flat": spread under 0.2% of their size (healthy demo runs: >= 0.7%)
COLLAPSED_RELATIVE = 0.02  # "collapsed": |loss| below 2% of the largest |loss| before the window
ZERO_ABSOLUTE = 1e-8  # "stuck at zero": |loss| below this (float32 round-off around 0)


class NonFiniteLossError(WganError):
    """A metric (a loss, a penalty) or a weight became NaN or infinite; training stopped
    before saving it."""

    def __init__(self, epoch: int, what: str, value: float, last_good_epoch: int, where: str):
        self.epoch, self.what, self.value = epoch, what, value
        self.last_good_epoch = last_good_epoch
        if last_good_epoch:
            kept = f"the last good checkpoint (epoch {last_good_epoch}) is kept in {where}"
        else:
            kept = "no epoch finished cleanly, so there is no checkpoint to keep"
        super().__init__(
            f"training stopped at epoch {epoch}: {what} is {value}; {kept}. "
            "A lower --lr (or --clip, with weight clipping) usually prevents this"
        )


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the end of an epoch whose losses or weights are not finite.

    Listed before the callbacks that write, it raises before that epoch reaches
    metrics.csv, a grid or a checkpoint, so everything on disk stays from good epochs.
    """

    def __init__(self, state: TrainingState):
        super().__init__()
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        found = non_finite_state(self.model, logs or {})
        if found:
            what, value = found
            self.state.remove_partial()  # the run restarts from the last good epoch's end
            last = max(last_checkpoints(self.state.directory), default=0)
            raise NonFiniteLossError(epoch + 1, what, value, last, str(self.state.directory))


def non_finite_state(model, logs: dict) -> tuple[str, float] | None:
    """(what, a bad value) of the first NaN or infinite metric in ``logs`` or weight of the
    model's networks (the sampler included), else None."""
    networks = {id(m): m for m in (model.critic, model.generator, model.sampler)}.values()
    return non_finite_loss(logs, model.metric_names) or non_finite_weight(networks)


def non_finite_loss(logs: dict, names: Sequence[str]) -> tuple[str, float] | None:
    """(name, value) of the first NaN or infinite metric of ``names`` in ``logs`` (losses and
    penalties alike), else None."""
    for key in names:
        if key in logs and not math.isfinite(float(logs[key])):
            return key, float(logs[key])
    return None


def non_finite_weight(models: Sequence[keras.Model]) -> tuple[str, float] | None:
    """(description, a bad value) of the first weight with a NaN or infinity, else None.

    Losses are computed before the last update of an epoch, so they can be finite while
    that update has already broken the weights.
    """
    for model in models:
        for weight in model.weights:
            values = np.asarray(keras.ops.convert_to_numpy(weight))
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                bad = values[~np.isfinite(values)].flat[0]
                return f"{model.name} weight {weight.path}", float(bad)
    return None


def flat_critic_loss(
    losses: Sequence[float],
    patience: int = 5,
    *,
    flat: float = FLAT_RELATIVE,
    collapsed: float = COLLAPSED_RELATIVE,
    zero: float = ZERO_ABSOLUTE,
) -> str | None:
    """Why the last ``patience`` epoch-mean critic losses look like a failed run, or None.

    Three signs: all ~0; all near 0 next to what the critic reached before (it collapsed);
    or flat, spread over less than ``flat`` of their size. A critic that is still learning
    moves its loss from epoch to epoch.
    """
    values = np.asarray(losses, dtype=np.float64)
    if patience < 2 or len(values) < patience:
        return None
    window, before = values[-patience:], values[:-patience]
    if not np.isfinite(window).all():
        return None
    size = float(np.abs(window).max())
    if size <= zero:
        return f"the critic loss has stayed at 0 (|loss| <= {zero:g}) for {patience} epochs"
    before = before[np.isfinite(before)]
    peak = float(np.abs(before).max()) if before.size else 0.0
    if size <= collapsed * peak:
        return (
            f"the critic loss has stayed near 0 for {patience} epochs (|loss| <= {size:.3g}, "
            f"down from {peak:.3g})"
        )
    spread = float(window.max() - window.min())
    if spread <= flat * size:
        return (
            f"the critic loss has been flat at {float(window.mean()):.4g} for {patience} epochs "
            f"(spread {100 * spread / size:.2g}% of its size)"
        )
    return None


class FlatCriticWarning(keras.callbacks.Callback):
    """Log a warning (once per episode) when ``flat_critic_loss`` finds a likely failure.

    ``history`` holds the critic losses of epochs before this ``fit`` (a resumed run), so
    the window spans the resume.
    """

    def __init__(self, patience: int, history: Sequence[float] = ()):
        super().__init__()
        self.patience = patience
        self.losses = [float(v) for v in history]
        self.warned = False

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float((logs or {}).get(CRITIC_LOSS, math.nan)))
        reason = flat_critic_loss(self.losses, self.patience)
        if reason and not self.warned:
            log.warning(
                "epoch %d: %s: likely a failed run, not a slow one. Look at the newest sample "
                "grid; if it stopped changing, restart with another --lr or --preset",
                epoch + 1,
                reason,
            )
        self.warned = reason is not None
