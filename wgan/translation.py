"""Image-to-image translation on the GAN's core: Pix2Pix (paired) and CycleGAN (unpaired).

A ``Translator`` is a ``wgan.gan.GAN`` whose generators take an image instead of noise. It
keeps the core's parts: the adversarial loss, the penalty (refused through instance or batch
normalisation, see ``wgan.gan``), the update schedule, the EMA, the train step, the metrics
and the checkpoint; it adds translation *terms* (Pix2Pix's L1 to the target, CycleGAN's cycle
and identity losses) and CycleGAN's image pool. A batch holds ``inputs`` (domain A) and
``images`` (domain B): the two halves of each pair for Pix2Pix, independent draws for
CycleGAN.

Scales, as the papers' reference code: the discriminator's objective is halved ("we divide the
objective by 2 while optimizing D", Isola et al. sec. 3.3; the same in CycleGAN's code). The
reference takes the least-squares terms as plain mean squared errors, while this package's
``LeastSquares`` carries Mao et al.'s 1/2: for it the adversarial terms are doubled here, so
that λ = 10 (cycle) and λ = 100 (L1) weigh the same terms as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import ops

from wgan.errors import ConfigError
from wgan.gan import GAN, _scale_for_replicas
from wgan.image_pool import ImagePool
from wgan.parts import Part

PIX2PIX, CYCLEGAN = "pix2pix", "cyclegan"
TRANSLATION_MODELS = (PIX2PIX, CYCLEGAN)
SOURCE, TARGET = "inputs", "images"  # batch keys: domain A, domain B
A_TO_B, B_TO_A = "a_to_b", "b_to_a"  # CycleGAN's generators, by name in the composite model
JUDGE_A, JUDGE_B = "judge_a", "judge_b"  # its discriminators (judge_b judges domain B)
DIRECTIONS = ("AtoB", "BtoA")
EDGES = "edges"
PAIRS = ("auto", EDGES)  # --pairs: the folder's own pairs, or edge maps made from its images
# Factor that turns a loss part's terms into the reference code's units (see the docstring).
REFERENCE_SCALE = {"least-squares": 2.0}


@dataclass(frozen=True)
class Direction:
    """One translation and the discriminator that judges its outputs."""

    name: str  # a_to_b or b_to_a
    source: str  # batch key of its inputs
    target: str  # batch key of the domain it translates into
    translator: keras.Model
    judge: keras.Model
    conditional: bool  # the judge sees [source, image] (Pix2Pix)
    inverse: int | None = None  # index of the opposite direction (CycleGAN)


def is_cycle(generator: keras.Model) -> bool:
    """Whether ``generator`` is CycleGAN's pair (a model holding a_to_b and b_to_a)."""
    names = {layer.name for layer in getattr(generator, "layers", ())}
    return {A_TO_B, B_TO_A} <= names


def translator_of(generator: keras.Model, direction: str = "AtoB") -> keras.Model:
    """The network that translates in ``direction`` (AtoB or BtoA) from a run's generator:
    Pix2Pix's U-Net itself (it has one direction), or one of CycleGAN's pair."""
    if not is_cycle(generator):
        return generator
    return generator.get_layer(A_TO_B if direction == "AtoB" else B_TO_A)


def cycle_pair(a_to_b: keras.Model, b_to_a: keras.Model, name: str) -> keras.Model:
    """Two networks as one model (one file, one set of weights): [A, B] -> [G(A), F(B)]."""
    size = a_to_b.inputs[0].shape[1:]
    a, b = keras.Input(size, name="a"), keras.Input(size, name="b")
    return keras.Model([a, b], [a_to_b(a), b_to_a(b)], name=name)


def directions_of(generator: keras.Model, critic: keras.Model) -> list[Direction]:
    if is_cycle(generator):
        g_ab, g_ba = generator.get_layer(A_TO_B), generator.get_layer(B_TO_A)
        d_a, d_b = critic.get_layer(JUDGE_A), critic.get_layer(JUDGE_B)
        return [Direction(A_TO_B, SOURCE, TARGET, g_ab, d_b, False, inverse=1),
                Direction(B_TO_A, TARGET, SOURCE, g_ba, d_a, False, inverse=0)]  # fmt: skip
    return [Direction(A_TO_B, SOURCE, TARGET, generator, critic, len(critic.inputs) > 1)]


class Term(Part):
    """A term of the generators' objective besides the adversarial one."""

    def __init__(self, weight: float):
        if not weight >= 0:
            raise ConfigError(f"the weight of the {self.name} term must be 0 or more, got {weight}")
        self.weight = float(weight)

    def value(self, model: Translator, batch: dict, fakes: list) -> tf.Tensor:
        raise NotImplementedError

    def generator_loss(self, model: Translator, batch: dict, fakes: list):
        """(weighted term, {metric: unweighted value})."""
        value = self.value(model, batch, fakes)
        return self.weight * value, {self.metrics[0]: value}

    def get_config(self) -> dict:
        return {"weight": self.weight}


def _l1(x, y):
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


@keras.saving.register_keras_serializable(package="wgan")
class PairedL1(Term):
    """Pix2Pix's L_L1 = E‖y − G(x)‖₁ (λ = 100): the output stays near the paired target."""

    name = "l1"
    metrics = ("l1",)
    labels = {"l1": "L1 distance to the target"}

    def value(self, model, batch, fakes):
        return sum(_l1(fake, batch[d.target]) for d, fake in zip(model.directions, fakes,
                                                                  strict=True))  # fmt: skip


@keras.saving.register_keras_serializable(package="wgan")
class CycleConsistency(Term):
    """CycleGAN's L_cyc = E‖F(G(x)) − x‖₁ + E‖G(F(y)) − y‖₁ (λ = 10)."""

    name = "cycle"
    metrics = ("cycle_loss",)
    labels = {"cycle_loss": "cycle loss (L1 of the round trips)"}

    def value(self, model, batch, fakes):
        total = 0.0
        for d, fake in zip(model.directions, fakes, strict=True):
            back = model.directions[d.inverse].translator(fake, training=True)
            total = total + _l1(back, batch[d.source])
        return total


@keras.saving.register_keras_serializable(package="wgan")
class Identity(Term):
    """CycleGAN's identity loss E‖G(y) − y‖₁ + E‖F(x) − x‖₁ (sec. 5.2), weighted 0.5·λ as the
    reference code: a generator given an image of its target domain should leave it alone."""

    name = "identity"
    metrics = ("identity_loss",)
    labels = {"identity_loss": "identity loss"}

    def value(self, model, batch, fakes):
        total = 0.0
        for d in model.directions:
            same = d.translator(batch[d.target], training=True)
            total = total + _l1(same, batch[d.target])
        return total


@keras.saving.register_keras_serializable(package="wgan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant, then linearly to 0: CycleGAN's schedule (100 epochs at 2e-4, 100 decaying),
    counted here in optimizer updates, so a run given in iterations decays the same way. The
    position is the optimizer's update count, which the checkpoint keeps. Under ``--precision
    fp16`` a step that loss scaling skips (gradients not finite) is not counted, so the decay
    ends that many updates late: one per halving of the loss scale, which tries to double
    every 2,000 finite updates."""

    def __init__(self, learning_rate: float, total_steps: int, decay_start: int):
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.decay_start = int(decay_start)

    def __call__(self, step):
        span = max(self.total_steps - self.decay_start, 1)
        done = ops.clip((ops.cast(step, "float32") - self.decay_start) / span, 0.0, 1.0)
        return self.learning_rate * (1.0 - done)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                "decay_start": self.decay_start}  # fmt: skip


@keras.saving.register_keras_serializable(package="wgan")
class Translator(GAN):
    """Generators from image to image, judged by PatchGANs; see the module docstring.

    ``generator`` is Pix2Pix's U-Net, or CycleGAN's pair (``cycle_pair``: a_to_b, b_to_a);
    ``critic`` likewise the one conditional PatchGAN, or the pair judge_a, judge_b.
    ``adversarial_weight`` 0 trains the generator on its terms alone (the L1-only U-Net
    baseline of the paper's table 1).
    """

    def __init__(
        self,
        critic: keras.Model,
        generator: keras.Model,
        loss=None,
        penalty=None,
        schedule=None,
        ema=None,
        seed: int | None = None,
        terms: list[Term] | tuple[Term, ...] = (),
        pool: ImagePool | None = None,
        adversarial_weight: float = 1.0,
        **kwargs,
    ):
        for unused in ("prior", "augment", "heads"):  # parts of the noise-driven GAN only
            kwargs.pop(unused, None)
        super().__init__(critic, generator, loss=loss, penalty=penalty, schedule=schedule,
                         ema=ema, seed=seed, **kwargs)  # fmt: skip
        self.directions = directions_of(generator, critic)
        self.terms = list(terms)
        self.pool = pool or ImagePool(0)
        self.adversarial_weight = float(adversarial_weight)
        self.units = REFERENCE_SCALE.get(self.adversarial_loss.name, 1.0)
        for part in (*self.terms, self.pool):
            part.build(self)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}

    @property
    def parts(self) -> list:
        found = (self.adversarial_loss, self.penalty, self.schedule, self.ema,
                 *getattr(self, "terms", ()), getattr(self, "pool", None))  # fmt: skip
        return [part for part in found if part is not None]

    def compile(self, *args, **kwargs) -> None:
        super().compile(*args, **kwargs)
        replicas = self.distribute_strategy.num_replicas_in_sync
        if replicas > 1 and self.pool.size:
            raise ConfigError(
                f"the image pool keeps one history, which {replicas} replicas cannot share: "
                "use --pool-size 0 or --strategy one"
            )

    def _judge_inputs(self, direction: Direction, batch: dict, images):
        return [batch[direction.source], images] if direction.conditional else images

    def critic_update(self, batch) -> dict:
        """One update of the discriminators: each on real images of its domain against the
        translations into it (drawn through the image pool, when there is one)."""
        batch = self.as_batch(batch)
        fakes = [self.pool.query(i, d.translator(batch[d.source], training=True))
                 for i, d in enumerate(self.directions)]  # fmt: skip
        with tf.GradientTape() as tape:
            objective, real, fake, extra = 0.0, 0.0, 0.0, {}
            for d, fake_images in zip(self.directions, fakes, strict=True):
                real_scores = d.judge(self._judge_inputs(d, batch, batch[d.target]),
                                      training=True)  # fmt: skip
                fake_scores = d.judge(self._judge_inputs(d, batch, fake_images), training=True)
                terms = self.adversarial_loss.critic_terms(real_scores, fake_scores)
                objective = objective + 0.5 * self.units * (terms[0] + terms[1])
                penalty, values = self.penalty.loss(
                    lambda x, d=d: d.judge(self._judge_inputs(d, batch, x), training=False),
                    batch[d.target], fake_images,
                )  # fmt: skip
                if penalty is not None:
                    objective = objective + penalty
                for name, value in values.items():
                    extra[name] = extra.get(name, 0.0) + value / len(self.directions)
                real = real + ops.mean(real_scores) / len(self.directions)
                fake = fake + ops.mean(fake_scores) / len(self.directions)
            scaled = _scale_for_replicas(objective, self.critic_optimizer)
        self.apply_critic(tape.gradient(scaled, self.critic.trainable_variables))
        return {"critic_loss": objective, "critic_real": real, "critic_fake": fake, **extra}

    def generator_update(self, batch) -> dict:
        """One update of the generators: the adversarial term through discriminators whose
        weights and statistics stay as they are, plus the translation terms."""
        batch = self.as_batch(batch)
        with tf.GradientTape() as tape:
            fakes = [d.translator(batch[d.source], training=True) for d in self.directions]
            adversarial = 0.0
            for d, fake in zip(self.directions, fakes, strict=True):
                scores, _ = d.judge.stateless_call(
                    [v.value for v in d.judge.trainable_variables],
                    [v.value for v in d.judge.non_trainable_variables],
                    self._judge_inputs(d, batch, fake), training=True,
                )  # fmt: skip
                adversarial = adversarial + self.units * self.adversarial_loss.generator(scores)
            objective = self.adversarial_weight * adversarial
            values = {"generator_loss": adversarial}
            for term in self.terms:
                weighted, term_values = term.generator_loss(self, batch, fakes)
                objective = objective + weighted
                values.update(term_values)
            scaled = _scale_for_replicas(objective, self.generator_optimizer)
        self.apply_generator(tape.gradient(scaled, self.generator.trainable_variables))
        return values

    def joint_gradients(self, batch):
        raise ConfigError("--schedule margin is not available for image-to-image models")

    def get_config(self) -> dict:
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        for unused in ("prior", "augment", "heads"):
            config.pop(unused, None)
        config.update({"terms": [serialize(term) for term in self.terms],
                       "pool": serialize(self.pool),
                       "adversarial_weight": self.adversarial_weight})  # fmt: skip
        return config

    @classmethod
    def from_config(cls, config: dict) -> Translator:
        config = dict(config)
        deserialize = keras.saving.deserialize_keras_object
        for key in ("critic", "generator", "loss", "penalty", "schedule", "ema", "pool"):
            config[key] = deserialize(config.get(key))
        config["terms"] = [deserialize(term) for term in config.get("terms", [])]
        return cls(**config)
