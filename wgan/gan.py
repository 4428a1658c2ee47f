"""The composite model: one ``train_step`` is one generator iteration of Algorithm 1 (WGAN)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from wgan.config import LATENT_DISTRIBUTIONS
from wgan.errors import ConfigError
from wgan.losses import critic_loss, generator_loss

METRIC_NAMES = (
    "critic_loss",
    "critic_real",
    "critic_fake",
    "generator_loss",
    "wasserstein_estimate",
)
# The official code's schedule: 100 critic updates early on and now and then, so that the critic
# is close to optimal when the Wasserstein estimate matters most.
WARMUP_CRITIC_UPDATES = 100
WARMUP_ITERATIONS = 25
WARMUP_EVERY = 500


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1]; float input is taken as already scaled."""
    if images.dtype == "uint8":
        return ops.cast(images, "float32") / 127.5 - 1.0
    return ops.cast(images, "float32")


@keras.saving.register_keras_serializable(package="wgan")
class WGAN(keras.Model):
    """Critic and generator trained with weight clipping (Arjovsky et al., 2017).

    ``fit`` takes batches shaped ``(batch, n_critic, H, W, C)`` (see ``wgan.data.make_dataset``):
    each critic update uses its own fresh real batch, as the official code does, and the batch
    axis comes first so that ``tf.distribute`` splits it across replicas.
    """

    def __init__(
        self,
        critic: keras.Model,
        generator: keras.Model,
        latent_dim: int = 100,
        n_critic: int = 5,
        latent_distribution: str = "uniform",
        warmup: bool = False,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if n_critic < 1:
            raise ConfigError(f"n_critic must be at least 1, got {n_critic}")
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ConfigError(
                f"latent distribution must be one of {LATENT_DISTRIBUTIONS}, "
                f"got {latent_distribution!r}"
            )
        self.critic = critic
        self.generator = generator
        self.latent_dim = int(latent_dim)
        self.n_critic = int(n_critic)
        self.latent_distribution = latent_distribution
        self.warmup = bool(warmup)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="latent_seed")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        # Both networks are functional models, built already; the composite has no own weights.
        self.built = True

    def compile(
        self,
        critic_optimizer: keras.optimizers.Optimizer | None = None,
        generator_optimizer: keras.optimizers.Optimizer | None = None,
        **kwargs,
    ) -> None:
        """Two optimizers, RMSprop(5e-5) each by default as in the paper.

        Both are built on their variables here: optimizers first built inside a
        ``tf.distribute`` replica step fail, so call ``compile`` inside the strategy scope.
        """
        super().compile(**kwargs)
        if self.warmup and self.distribute_strategy.num_replicas_in_sync > 1:
            raise ConfigError(
                "the 100-critic-update warm-up schedule cannot run under tf.distribute with more "
                "than one replica: turn warmup off or train on one device"
            )
        self.critic_optimizer = critic_optimizer or keras.optimizers.RMSprop(5e-5)
        self.generator_optimizer = generator_optimizer or keras.optimizers.RMSprop(5e-5)
        self.critic_optimizer.build(self.critic.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, latent, training=False):
        return self.generator(latent, training=training)

    def sample_latent(self, batch_size) -> tf.Tensor:
        """Fresh latent vectors: uniform in [0, 1] (the original design) or standard normal.

        Stateless draws from the model's seed generator, so a seeded run repeats exactly; under
        ``tf.distribute`` the replica id is folded into the seed so replicas draw different noise.
        """
        seed = tf.cast(self.seed_generator.next(), "int64")
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            offset = tf.cast(replica.replica_id_in_sync_group, "int64") * 7919 + 1
            seed = seed + tf.stack([tf.constant(0, "int64"), offset])
        shape = (batch_size, self.latent_dim)
        if self.latent_distribution == "uniform":
            return tf.random.stateless_uniform(shape, seed, 0.0, 1.0)
        return tf.random.stateless_normal(shape, seed)

    def _warmup_updates(self):
        """100 critic updates for the first 25 generator iterations and every 500th."""
        step = self.generator_optimizer.iterations
        heavy = tf.logical_or(step < WARMUP_ITERATIONS, step % WARMUP_EVERY == 0)
        return tf.where(heavy, WARMUP_CRITIC_UPDATES, self.n_critic)

    def _critic_update(self, real):
        batch_size = tf.shape(real)[0]
        fake = self.generator(self.sample_latent(batch_size), training=True)
        with tf.GradientTape() as tape:
            real_scores = self.critic(real, training=True)
            fake_scores = self.critic(fake, training=True)
            loss = critic_loss(real_scores, fake_scores)
            scaled = _scale_for_replicas(loss)
        grads = tape.gradient(scaled, self.critic.trainable_variables)
        # Keras optimizers apply each variable's ClipConstraint right after the update.
        self.critic_optimizer.apply(grads, self.critic.trainable_variables)
        return loss, ops.mean(real_scores), ops.mean(fake_scores)

    def _generator_update(self, batch_size):
        critic_trainable = [v.value for v in self.critic.trainable_variables]
        critic_state = [v.value for v in self.critic.non_trainable_variables]
        with tf.GradientTape() as tape:
            fake = self.generator(self.sample_latent(batch_size), training=True)
            # stateless_call: the critic scores in training mode (batch statistics) but its
            # BatchNorm moving averages are left as they were, so no critic weight changes.
            scores, _ = self.critic.stateless_call(
                critic_trainable, critic_state, fake, training=True
            )
            loss = generator_loss(scores)
            scaled = _scale_for_replicas(loss)
        grads = tape.gradient(scaled, self.generator.trainable_variables)
        self.generator_optimizer.apply(grads, self.generator.trainable_variables)
        return loss

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = to_float(real)
        if len(real.shape) == 4:  # plain image batches: one real batch shared by all updates
            real = real[:, None]
        groups = tf.shape(real)[1]
        batch_size = tf.shape(real)[0]

        def update(i, loss_sum, real_sum, fake_sum):
            loss, real_mean, fake_mean = self._critic_update(tf.gather(real, i % groups, axis=1))
            return i + 1, loss_sum + loss, real_sum + real_mean, fake_sum + fake_mean

        zero = tf.constant(0.0)
        state = (tf.constant(0), zero, zero, zero)
        if self.warmup:
            # A graph loop, as the update count depends on the step. tf.distribute cannot
            # aggregate gradients inside graph control flow, hence the check in compile().
            n_updates = self._warmup_updates()
            state = tf.while_loop(lambda i, *_: i < n_updates, update, state)
        else:
            # Unrolled at trace time: still one compiled graph per iteration, no Python at
            # run time, and it runs under tf.distribute.
            n_updates = self.n_critic
            for _ in range(self.n_critic):
                state = update(*state)
        _, *totals = state
        count = tf.cast(n_updates, "float32")
        c_loss, c_real, c_fake = (t / count for t in totals)
        g_loss = self._generator_update(batch_size)
        values = {
            "critic_loss": c_loss,
            "critic_real": c_real,
            "critic_fake": c_fake,
            "generator_loss": g_loss,
            "wasserstein_estimate": c_real - c_fake,
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "critic": keras.saving.serialize_keras_object(self.critic),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "latent_dim": self.latent_dim,
                "n_critic": self.n_critic,
                "latent_distribution": self.latent_distribution,
                "warmup": self.warmup,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> WGAN:
        config = dict(config)
        config["critic"] = keras.saving.deserialize_keras_object(config["critic"])
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        return cls(**config)


def _scale_for_replicas(loss):
    """Divide by the replica count: gradients are summed across replicas before the update."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss
