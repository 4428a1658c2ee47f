"""One training step for a family of GANs: the parts are passed in, the loop is written once.

A ``GAN`` holds a critic and a generator and five parts: the adversarial ``loss``, a ``penalty``
(weight clipping, gradient penalty, R1 or none), the latent ``prior``, an update ``schedule``
and optionally an ``ema`` of the generator and an ``augment`` (DiffAugment) for the critic's
inputs. WGAN, WGAN-GP, DCGAN, hinge and balanced training are combinations of these (see
``wgan.presets``). Each part names the metrics it reports, so what ``fit`` logs, ``metrics.csv``
holds, the plots draw and the sonification plays follows from the parts chosen.

Models that use labels are the same step with more parts: networks that take a label
(``wgan.conditioning``) and ``heads`` that add auxiliary losses on the critic's extra outputs
(``wgan.heads``: AC-GAN, InfoGAN, the semi-supervised GAN). A batch is then a dict: ``images``
and ``labels`` (one group per critic update), and for the semi-supervised GAN a batch from the
labelled set, ``labelled_images`` and ``labelled_labels``. Image-to-image models
(``wgan.translation``: Pix2Pix, CycleGAN) are a subclass whose generators take images; their
batches add ``inputs``, the source images.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from wgan.conditioning import SCORE
from wgan.distribute import is_multi_worker
from wgan.ema import EMA
from wgan.errors import ConfigError
from wgan.heads import Head
from wgan.losses import AdversarialLoss, Wasserstein
from wgan.penalties import Penalty, WeightClip
from wgan.priors import Prior, Uniform
from wgan.randomness import draw_seed
from wgan.schedules import Fixed, Schedule

# Metrics every GAN reports, in metrics.csv order (parts add theirs after these).
CRITIC_LOSS = "critic_loss"
CRITIC_METRICS = (CRITIC_LOSS, "critic_real", "critic_fake")
GENERATOR_METRICS = ("generator_loss",)
LABELS = {
    "critic_loss": "critic loss",
    "critic_real": "mean critic score on real images",
    "critic_fake": "mean critic score on generated images",
    "generator_loss": "generator loss",
}
# Batch entries with one group per critic update (axis 1); the others serve the whole iteration.
# ``inputs`` are the source images of an image-to-image model (``wgan.translation``).
GROUPED = ("images", "labels", "inputs")
IMAGE_KEYS = ("images", "labelled_images", "inputs")  # uint8 in the data, floats in the step
SEED_STATE = "seed_generator_state"  # the variable name keras.random.SeedGenerator gives its state
# Keras' normalisation layers stop the gradient through the batch mean (tf.nn.moments):
# their second derivatives, which a gradient penalty needs, are biased.
_MOMENT_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1]; float input is taken as already scaled."""
    if images.dtype == "uint8":
        return ops.cast(images, "float32") / 127.5 - 1.0
    return ops.cast(images, "float32")


@keras.saving.register_keras_serializable(package="wgan")
class GAN(keras.Model):
    """Critic, generator and the parts that say how they train; with no parts given it is the
    WGAN paper's recipe (Wasserstein loss, clipping at 0.01, uniform noise, 5 critic updates).

    ``fit`` takes batches shaped ``(batch, groups, H, W, C)`` (see ``wgan.data.make_dataset``):
    critic update k uses group k, so each has its own fresh real batch as in the official WGAN
    code, and the batch axis comes first so that ``tf.distribute`` splits it across replicas.
    Plain ``(batch, H, W, C)`` batches are shared by all the critic updates of an iteration.

    A critic or generator built with a label input (``wgan.conditioning``) gets the batch's
    labels: in a critic update the fakes are made for the labels of the real batch (so the
    penalty's interpolates each have one label, and the labels' joint distribution is the
    data's, attributes included), in a generator update for those of the iteration's first
    group. ``heads`` add their auxiliary losses to both objectives.
    """

    def __init__(
        self,
        critic: keras.Model,
        generator: keras.Model,
        loss: AdversarialLoss | None = None,
        penalty: Penalty | None = None,
        prior: Prior | None = None,
        schedule: Schedule | None = None,
        ema: EMA | None = None,
        augment=None,
        seed: int | None = None,
        heads: list[Head] | tuple[Head, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.critic = critic
        self.generator = generator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.generator_takes_labels = len(generator.inputs) > 1
        self.critic_takes_labels = len(critic.inputs) > 1
        self.adversarial_loss = loss or Wasserstein()
        self.penalty = WeightClip(0.01) if penalty is None else penalty
        self.prior = prior or Uniform()
        self.schedule = schedule or Fixed(5)
        self.ema = ema
        self.augment = augment if augment is not None and augment.policy else None
        self.seed = seed
        self.heads = list(heads)
        if self.penalty.per_sample:
            _check_no_moment_layers(critic, self.penalty)
        self.seed_generator = keras.random.SeedGenerator(seed, name="latent_seed")
        # Iterations trained so far (a schedule may skip a side, so no optimizer counts them).
        self.train_iterations = keras.Variable(
            0, dtype="int64", trainable=False, name="train_iterations",
            aggregation="only_first_replica",
        )  # fmt: skip
        for part in self.parts:
            part.build(self)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        # Both networks are functional models, built already; the composite has no own weights.
        self.built = True

    # -- what the parts make of the model ------------------------------------------------------
    @property
    def parts(self) -> list:
        found = (self.adversarial_loss, self.penalty, self.prior, self.schedule, self.ema,
                 self.augment, *self.heads)  # fmt: skip
        return [part for part in found if part is not None]

    @property
    def critic_metric_names(self) -> tuple[str, ...]:
        """Values of one critic update, averaged over the iteration's critic updates."""
        heads = [name for head in self.heads for name in head.critic_metrics]
        return (*CRITIC_METRICS, *self.penalty.metrics, *heads)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric, in the order of metrics.csv's columns."""
        extra = [name for part in self.parts for name in part.metrics]
        core = (*CRITIC_METRICS, *GENERATOR_METRICS)
        return (*core, *[name for name in extra if name not in core])

    @property
    def headline_metrics(self) -> tuple[str, ...]:
        """The metrics worth hearing and plotting, most telling first: the critic loss, what
        the adversarial loss estimates, the generator loss, then what the other parts add."""
        adversarial = self.adversarial_loss.metrics
        core = (*CRITIC_METRICS, *GENERATOR_METRICS)
        rest = [name for name in self.metric_names if name not in (*core, *adversarial)]
        return (CRITIC_LOSS, *adversarial, *GENERATOR_METRICS, *rest)

    @property
    def metric_labels(self) -> dict[str, str]:
        labels = dict(LABELS)
        for part in self.parts:
            labels.update(part.labels)
        return {name: labels.get(name, name.replace("_", " ")) for name in self.metric_names}

    @property
    def sampler(self) -> keras.Model:
        """The generator to sample from: the moving average when ``ema`` is on."""
        return self.ema.average if self.ema is not None else self.generator

    def checkpoint_items(self) -> dict:
        """Everything an exact resume needs, by name: networks, optimizers, seeds, parts."""
        items = {
            "critic": self.critic,
            "generator": self.generator,
            "critic_optimizer": self.critic_optimizer,
            "generator_optimizer": self.generator_optimizer,
            "latent_seed": self.seed_generator.state,
            "train_iterations": self.train_iterations,
        }
        for part in self.parts:
            items.update(part.state())
        # Layers that draw random numbers (Dropout) keep their seed state in a variable that
        # tf.train.Checkpoint does not reach through the layer: name them here.
        networks = [item for item in items.values() if isinstance(item, keras.Model)]
        items["network_seeds"] = _seed_states(networks)
        # The epoch's running means, so a run resumed mid-epoch writes the same epoch row.
        items["metric_trackers"] = [v for t in self.trackers.values() for v in t.variables]
        return items

    # -- Keras ----------------------------------------------------------------------------------
    def compile(
        self,
        critic_optimizer: keras.optimizers.Optimizer | None = None,
        generator_optimizer: keras.optimizers.Optimizer | None = None,
        **kwargs,
    ) -> None:
        """Two optimizers, RMSprop(5e-5) each by default as in the WGAN paper.

        Both are built on their variables here: optimizers first built inside a
        ``tf.distribute`` replica step fail, so call ``compile`` inside the strategy scope.
        """
        super().compile(**kwargs)
        replicas = self.distribute_strategy.num_replicas_in_sync
        if replicas > 1 and not self.schedule.supports_replicas:
            raise ConfigError(
                f"--schedule {self.schedule.name} decides in the graph which updates to run, "
                f"which tf.distribute cannot do with {replicas} replicas: use --schedule fixed "
                "or --strategy one"
            )
        self.critic_optimizer = critic_optimizer or keras.optimizers.RMSprop(5e-5)
        self.generator_optimizer = generator_optimizer or keras.optimizers.RMSprop(5e-5)
        scaled = (self.critic_optimizer, self.generator_optimizer)
        if replicas > 1 and any(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in scaled):
            # Keras' LossScaleOptimizer decides whether a step overflowed from the first local
            # replica's gradients, before they are summed: another replica's overflow would be
            # applied (and workers could decide differently, then wait on each other).
            raise ConfigError(
                f"--precision fp16 cannot check {replicas} replicas' gradients for overflow "
                "together: use --precision bf16 or float32, or --strategy one"
            )
        self.critic_optimizer.build(self.critic.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, latent, training=False):
        return self.generator(latent, training=training)

    # -- batches and the networks' inputs and outputs -------------------------------------------
    @staticmethod
    def as_batch(data) -> dict:
        """A dict batch from what ``fit`` passes: a dict, an (images, ...) tuple or images."""
        if isinstance(data, dict):
            return dict(data)
        if isinstance(data, (tuple, list)):
            data = data[0]
        return {"images": data}

    @staticmethod
    def group(batch, index) -> dict:
        """The batch of one critic update: group ``index`` of the grouped entries."""
        batch = GAN.as_batch(batch)
        return {key: tf.gather(value, index, axis=1) if key in GROUPED else value
                for key, value in batch.items()}  # fmt: skip

    @staticmethod
    def groups(batch):
        return tf.shape(batch["images"])[1]

    def generator_inputs(self, latent, labels):
        return [latent, labels] if self.generator_takes_labels else latent

    def critic_inputs(self, images, labels):
        return [images, labels] if self.critic_takes_labels else images

    @staticmethod
    def as_outputs(outputs) -> dict:
        """The critic's outputs as a dict (a plain critic's score is ``score``)."""
        return outputs if isinstance(outputs, dict) else {SCORE: outputs}

    def critic_outputs(self, images, labels, training: bool) -> dict:
        return self.as_outputs(self.critic(self.critic_inputs(images, labels), training=training))

    # -- the pieces a schedule combines ---------------------------------------------------------
    def sample_latent(self, batch_size) -> tf.Tensor:
        """Fresh latent vectors from the prior: stateless draws from the model's seed
        generator, so a seeded run repeats exactly; replicas draw different noise."""
        return self.prior.sample((batch_size, self.latent_dim), draw_seed(self.seed_generator))

    def _augmented(self, images):
        return images if self.augment is None else self.augment(images)

    def _critic_objective(self, batch, fake, latent):
        """What the critic minimises with the heads' terms, the metric values of the penalty
        and the heads, its two adversarial terms and the outputs on (real, fake).

        ``critic_loss`` (the first value) is the adversarial terms plus the penalty; the
        heads' terms are added to the objective that is differentiated, not to it.
        """
        labels = batch.get("labels")
        real, fake = self._augmented(batch["images"]), self._augmented(fake)
        real_out = self.critic_outputs(real, labels, training=True)
        fake_out = self.critic_outputs(fake, labels, training=True)
        terms = self.adversarial_loss.critic_terms(real_out[SCORE], fake_out[SCORE])
        loss = terms[0] + terms[1]
        # Inference mode for the penalty's pass: a penalty critic has no batch statistics (they
        # are refused), and spectral norm's power iteration should not also step on the
        # interpolated images. A conditional critic scores each interpolate with its label.
        penalty, values = self.penalty.loss(
            lambda x: self.critic_outputs(x, labels, training=False)[SCORE], real, fake
        )
        if penalty is not None:
            loss = loss + penalty
        objective = loss
        for head in self.heads:
            term, head_values = head.critic_loss(
                real_out, fake_out, batch, latent,
                lambda x: self.critic_outputs(self._augmented(x), None, training=True),
            )  # fmt: skip
            objective = objective + term
            values = {**values, **head_values}
        return objective, loss, values, terms, (real_out, fake_out)

    @staticmethod
    def _critic_values(loss, values, outputs) -> dict:
        return {
            "critic_loss": loss,
            "critic_real": ops.mean(outputs[0][SCORE]),
            "critic_fake": ops.mean(outputs[1][SCORE]),
            **values,
        }

    def _generator_objective(self, fake_out, batch, latent):
        """(what the generator minimises, its metric values): adversarial plus heads' terms."""
        loss = self.adversarial_loss.generator(fake_out[SCORE])
        objective, values = loss, {"generator_loss": loss}
        for head in self.heads:
            term, head_values = head.generator_loss(fake_out, batch, latent)
            if term is not None:
                objective = objective + term
            values.update(head_values)
        return objective, values

    def apply_critic(self, grads) -> None:
        self.critic_optimizer.apply(grads, self.critic.trainable_variables)
        self.penalty.after_update(self.critic)

    def apply_generator(self, grads) -> None:
        self.generator_optimizer.apply(grads, self.generator.trainable_variables)
        if self.ema is not None:
            self.ema.update(self.generator)

    def critic_update(self, batch) -> dict:
        """One critic update on a real batch (images, or a dict with its labels) against
        fresh fakes made for the same labels; its metric values."""
        batch = self.as_batch(batch)
        labels = batch.get("labels")
        latent = self.sample_latent(tf.shape(batch["images"])[0])
        fake = self.generator(self.generator_inputs(latent, labels), training=True)
        with tf.GradientTape() as tape:
            objective, loss, values, _, outputs = self._critic_objective(batch, fake, latent)
            scaled = _scale_for_replicas(objective, self.critic_optimizer)
        self.apply_critic(tape.gradient(scaled, self.critic.trainable_variables))
        return self._critic_values(loss, values, outputs)

    def generator_update(self, batch) -> dict:
        """One generator update through a critic whose weights and statistics stay as they
        are, for as many fakes as ``batch`` has images (made for its labels, if any)."""
        batch = self.as_batch(batch)
        batch_size = tf.shape(batch["images"])[0]
        labels = batch.get("labels")
        critic_trainable = [v.value for v in self.critic.trainable_variables]
        critic_state = [v.value for v in self.critic.non_trainable_variables]
        with tf.GradientTape() as tape:
            latent = self.sample_latent(batch_size)
            fake = self.generator(self.generator_inputs(latent, labels), training=True)
            fake = self._augmented(fake)
            # stateless_call: the critic scores in training mode (batch statistics) but its
            # BatchNorm moving averages are left as they were, so no critic weight changes.
            outputs, _ = self.critic.stateless_call(
                critic_trainable, critic_state, self.critic_inputs(fake, labels), training=True
            )
            objective, values = self._generator_objective(self.as_outputs(outputs), batch, latent)
            scaled = _scale_for_replicas(objective, self.generator_optimizer)
        self.apply_generator(tape.gradient(scaled, self.generator.trainable_variables))
        return values

    def joint_gradients(self, batch):
        """Both sides' losses and gradients from one forward pass, before any update.

        Returns (metric values, the critic's (real, fake) terms, critic gradients, generator
        gradients); nothing is applied.
        """
        batch = self.as_batch(batch)
        labels = batch.get("labels")
        with tf.GradientTape(persistent=True) as tape:
            latent = self.sample_latent(tf.shape(batch["images"])[0])
            fake = self.generator(self.generator_inputs(latent, labels), training=True)
            objective, critic_loss, values, terms, outputs = self._critic_objective(
                batch, fake, latent
            )
            generator_objective, generator_values = self._generator_objective(
                outputs[1], batch, latent
            )
            critic_scaled = _scale_for_replicas(objective, self.critic_optimizer)
            generator_scaled = _scale_for_replicas(generator_objective, self.generator_optimizer)
        critic_grads = tape.gradient(critic_scaled, self.critic.trainable_variables)
        generator_grads = tape.gradient(generator_scaled, self.generator.trainable_variables)
        del tape
        values = {**self._critic_values(critic_loss, values, outputs), **generator_values}
        return values, terms, critic_grads, generator_grads

    def train_step(self, data):
        batch = self.as_batch(data)
        for key in IMAGE_KEYS:
            if key in batch:
                batch[key] = to_float(batch[key])
        if len(batch["images"].shape) == 4:  # plain batches: one shared by all the updates
            batch = {key: value[:, None] if key in GROUPED else value
                     for key, value in batch.items()}  # fmt: skip
        values = self.schedule.run(self, batch)
        values.update(self.adversarial_loss.summarize(values))
        self.train_iterations.assign_add(1)
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if self._multi_worker:
            # Keras reduces a multi-worker step's outputs with strategy.reduce(..., axis=0),
            # which refuses scalars (keras issue 20585): give it shape [1].
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    @property
    def _multi_worker(self) -> bool:
        return is_multi_worker(self.distribute_strategy)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skip Keras' first-batch symbolic build: the networks are built when the model is
        made and ``compile`` builds both optimizers, so it has nothing to build, and under
        ``MultiWorkerMirroredStrategy`` it all-reduces a data batch, which fails (uint8 and
        PerReplica values; keras issue 20585). Private Keras API:
        tests/test_distribute.py fails when ``fit`` stops calling it."""
        return None

    # -- saving ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "critic": serialize(self.critic),
                "generator": serialize(self.generator),
                "loss": serialize(self.adversarial_loss),
                "penalty": serialize(self.penalty),
                "prior": serialize(self.prior),
                "schedule": serialize(self.schedule),
                "ema": serialize(self.ema),
                "augment": serialize(self.augment),
                "seed": self.seed,
                "heads": [serialize(head) for head in self.heads],
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> GAN:
        config = dict(config)
        for key in ("critic", "generator", "loss", "penalty", "prior", "schedule", "ema",
                    "augment"):  # fmt: skip
            config[key] = keras.saving.deserialize_keras_object(config.get(key))
        config["heads"] = [keras.saving.deserialize_keras_object(head)
                           for head in config.get("heads", [])]  # fmt: skip
        return cls(**config)


def _check_no_moment_layers(critic: keras.Model, penalty: Penalty) -> None:
    for layer in _layers(critic):
        if isinstance(layer, _MOMENT_LAYERS):
            raise ConfigError(
                f"--penalty {penalty.name} differentiates each sample's score, which the "
                f"critic's {type(layer).__name__} ({layer.name}) mixes across the batch or "
                "differentiates twice with a bias: use --norm layer or --norm none"
            )


def _layers(model):
    """Every layer inside ``model``, nested models and wrapped layers included."""
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from _layers(layer)
        if hasattr(layer, "layer"):  # keras.layers.Wrapper
            yield layer.layer


def _seed_states(networks: list[keras.Model]) -> list:
    """The state variables of every ``keras.random.SeedGenerator`` inside ``networks``."""
    found, seen = [], set()
    for network in networks:
        for variable in network.variables:
            if variable.name == SEED_STATE and id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
    return found


def _scale_for_replicas(loss, optimizer: keras.optimizers.Optimizer):
    """Divide by the replica count (gradients are summed across replicas before the update),
    then apply ``optimizer.scale_loss``: a ``LossScaleOptimizer`` (``--precision fp16``)
    multiplies by its dynamic scale so that float16 gradients do not underflow, and its
    ``apply`` divides the gradients back and skips a step whose gradients are not finite."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    loss = loss / replicas if replicas > 1 else loss
    return optimizer.scale_loss(loss)
