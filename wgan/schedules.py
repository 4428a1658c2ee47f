"""Update schedules: how many critic and generator updates one training iteration makes.

A schedule drives the model's ``critic_update``/``generator_update`` (or, for the balanced rule,
its joint gradients) and returns the iteration's metric values. Schedules whose number of
updates depends on values computed in the step need graph control flow around the optimizer
steps; ``tf.distribute`` cannot aggregate gradients there (and zeroed gradients would still move
Adam's moments), so those refuse several replicas.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from wgan.errors import ConfigError
from wgan.parts import Part


class Schedule(Part):
    supports_replicas = True
    real_batches = 1  # fresh real batches one iteration takes from the data

    def run(self, model, real) -> dict:
        """One iteration on a batch dict whose images are (batch, groups, H, W, C) (see
        ``wgan.gan.GAN.group``); its metric values."""
        raise NotImplementedError


def _check_n_critic(n_critic: int) -> int:
    if int(n_critic) != n_critic or n_critic < 1:
        raise ConfigError(f"--n-critic must be at least 1, got {n_critic}")
    return int(n_critic)


def _critic_updates(model, real):
    """Body shared by the fixed and warm-up schedules: one critic update on group i % groups."""
    groups = model.groups(real)

    def update(i, sums):
        values = model.critic_update(model.group(real, i % groups))
        return i + 1, {name: sums[name] + values[name] for name in sums}

    return update


def _averages(model, sums, count, real) -> dict:
    values = {name: total / count for name, total in sums.items()}
    values.update(model.generator_update(model.group(real, 0)))
    return values


@keras.saving.register_keras_serializable(package="wgan")
class Fixed(Schedule):
    """``n_critic`` critic updates, each on its own fresh real batch, then one generator update
    (the WGAN paper's Algorithm 1; n_critic = 1 is the DCGAN alternation)."""

    name = "fixed"

    def __init__(self, n_critic: int = 5):
        self.n_critic = _check_n_critic(n_critic)
        self.real_batches = self.n_critic  # one fresh batch per critic update

    def run(self, model, real) -> dict:
        update = _critic_updates(model, real)
        state = (tf.constant(0), {name: tf.constant(0.0) for name in model.critic_metric_names})
        # Unrolled at trace time: still one compiled graph per iteration, no Python at run
        # time, and it runs under tf.distribute.
        for _ in range(self.n_critic):
            state = update(*state)
        return _averages(model, state[1], tf.cast(self.n_critic, "float32"), real)

    def get_config(self) -> dict:
        return {"n_critic": self.n_critic}


@keras.saving.register_keras_serializable(package="wgan")
class Warmup(Fixed):
    """The official WGAN code's schedule: 100 critic updates for the first 25 generator
    iterations and every 500th, ``n_critic`` otherwise, so the critic is close to optimal when
    the Wasserstein estimate matters most."""

    name = "warmup"
    supports_replicas = False
    updates, first, every = 100, 25, 500

    def run(self, model, real) -> dict:
        step = model.train_iterations
        heavy = tf.logical_or(step < self.first, step % self.every == 0)
        count = tf.where(heavy, self.updates, self.n_critic)
        update = _critic_updates(model, real)
        state = (tf.constant(0), {name: tf.constant(0.0) for name in model.critic_metric_names})
        _, sums = tf.while_loop(lambda i, _: i < count, update, state)
        return _averages(model, sums, tf.cast(count, "float32"), real)


@keras.saving.register_keras_serializable(package="wgan")
class LossMargin(Schedule):
    """Balanced training: keep |generator loss - critic loss| within a margin.

    Both losses are computed on the current batch before either update (the critic's as the
    mean of its real and fake terms, so it is on the scale of the generator's); when they
    differ by more than ``margin`` only the side whose loss is higher is updated, otherwise
    both. Both updates come from that one forward pass (the critic scores the fakes once; the
    generator's gradient goes through the critic as it was), as in TensorFlow's DCGAN
    tutorial, rather than the alternating updates of ``Fixed(1)``. The metrics
    ``critic_updated`` and ``generator_updated`` are the share of iterations that updated
    each side.
    """

    name = "margin"
    metrics = ("critic_updated", "generator_updated")
    labels = {
        "critic_updated": "share of iterations that updated the critic",
        "generator_updated": "share of iterations that updated the generator",
    }
    supports_replicas = False

    def __init__(self, margin: float = 1.0):
        if not margin > 0:
            raise ConfigError(f"--margin must be a positive number, got {margin}")
        self.margin = float(margin)

    def run(self, model, real) -> dict:
        # A side that waits keeps every weight, its BatchNorm statistics (which the shared
        # forward pass moves) included.
        kept = {net: [tf.identity(v.value) for v in net.non_trainable_variables]
                for net in (model.critic, model.generator)}  # fmt: skip
        values, terms, critic_grads, generator_grads = model.joint_gradients(model.group(real, 0))
        critic_side = 0.5 * (terms[0] + terms[1])
        gap = values["generator_loss"] - critic_side
        update_critic = gap <= self.margin  # the generator is not far behind
        update_generator = -gap <= self.margin  # the critic is not far behind
        for update, net, apply, grads in (
            (update_critic, model.critic, model.apply_critic, critic_grads),
            (update_generator, model.generator, model.apply_generator, generator_grads),
        ):
            _either(update, lambda a=apply, g=grads: a(g), lambda n=net: _restore(n, kept[n]))
        values["critic_updated"] = tf.cast(update_critic, "float32")
        values["generator_updated"] = tf.cast(update_generator, "float32")
        return values

    def get_config(self) -> dict:
        return {"margin": self.margin}


def _restore(network, values) -> None:
    for variable, value in zip(network.non_trainable_variables, values, strict=True):
        variable.assign(value)


def _either(condition, taken, otherwise) -> None:
    """Run ``taken`` (an optimizer step) when ``condition`` holds, else ``otherwise``, in the
    graph."""

    def run(branch):
        branch()
        return tf.constant(True)

    tf.cond(condition, lambda: run(taken), lambda: run(otherwise))


SCHEDULES = ("fixed", "warmup", "margin")


def make_schedule(name: str, n_critic: int = 5, margin: float = 1.0) -> Schedule:
    """The schedule called ``name`` on the command line (``--schedule``)."""
    if name == Fixed.name:
        return Fixed(n_critic)
    if name == Warmup.name:
        return Warmup(n_critic)
    if name == LossMargin.name:
        return LossMargin(margin)
    raise ConfigError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {name!r}")
