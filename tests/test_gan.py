"""The GAN core: one train_step that runs whatever parts it is given."""

import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.augment import DiffAugment
from wgan.ema import EMA
from wgan.errors import ConfigError
from wgan.gan import GAN
from wgan.losses import Hinge, NonSaturating
from wgan.models import build_critic, build_generator
from wgan.penalties import GradientPenalty, Penalty, WeightClip
from wgan.priors import Normal
from wgan.schedules import Fixed, LossMargin, Warmup

SIZE, LATENT, BATCH = 16, 8, 4


def make_gan(n_critic=3, norm="batch", **parts):
    critic = build_critic(SIZE, 3, filters=8, norm=norm)
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    parts.setdefault("schedule", Fixed(n_critic))
    model = GAN(critic, generator, seed=1, **parts)
    model.compile()
    return model


def real_groups(steps, n_critic, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (steps * BATCH, n_critic, SIZE, SIZE, 3), dtype=np.uint8)


def values(weights):
    return [w.numpy().copy() for w in weights]


def test_with_no_parts_given_it_is_the_wgan_papers_recipe():
    model = make_gan(schedule=None)
    assert type(model.penalty) is WeightClip and model.penalty.clip_value == 0.01
    assert model.schedule.n_critic == 5 and model.prior.name == "uniform"
    assert model.adversarial_loss.name == "wasserstein"
    assert isinstance(model.critic_optimizer, keras.optimizers.RMSprop)


def test_one_step_makes_n_critic_critic_updates_per_generator_update():
    model = make_gan(n_critic=3)
    data = tf.data.Dataset.from_tensor_slices(real_groups(2, 3)).batch(BATCH)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(model.generator_optimizer.iterations.numpy()) == 2
    assert int(model.critic_optimizer.iterations.numpy()) == 6
    assert int(model.train_iterations.numpy()) == 2


def test_wasserstein_step_reports_the_core_metrics_and_its_estimate_and_they_agree():
    model = make_gan(n_critic=2)
    logs = {k: float(v) for k, v in model.train_step(tf.constant(real_groups(1, 2))).items()}
    assert list(logs) == [
        "critic_loss", "critic_real", "critic_fake", "generator_loss", "wasserstein_estimate"
    ]  # fmt: skip
    assert all(np.isfinite(v) for v in logs.values())
    assert logs["wasserstein_estimate"] == pytest.approx(-logs["critic_loss"], abs=1e-7)
    assert logs["wasserstein_estimate"] == pytest.approx(
        logs["critic_real"] - logs["critic_fake"], abs=1e-7
    )


def test_metric_names_come_from_the_parts():
    gp = make_gan(norm="none", loss=NonSaturating(), penalty=GradientPenalty(), schedule=None)
    assert gp.metric_names == (
        "critic_loss", "critic_real", "critic_fake", "generator_loss", "gradient_penalty"
    )  # fmt: skip
    margin = make_gan(loss=Hinge(), penalty=Penalty(), schedule=LossMargin(1.0))
    assert margin.metric_names[-2:] == ("critic_updated", "generator_updated")
    logs = margin.train_step(tf.constant(real_groups(1, 1)))
    assert set(logs) == set(margin.metric_names)
    assert margin.headline_metrics[:2] == ("critic_loss", "generator_loss")
    assert margin.metric_labels["critic_updated"].startswith("share of iterations")


def test_plain_image_batches_also_train_with_n_critic_updates():
    model = make_gan(n_critic=3)
    images = np.random.default_rng(0).integers(0, 256, (8, SIZE, SIZE, 3), dtype=np.uint8)
    model.fit(images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    assert int(model.generator_optimizer.iterations.numpy()) == 2
    assert int(model.critic_optimizer.iterations.numpy()) == 6


def test_each_critic_update_gets_its_own_fresh_real_batch():
    model = make_gan(n_critic=4)
    seen = []
    original = model.critic_update

    def spy(batch):
        seen.append(float(tf.reduce_mean(batch["images"])))
        return original(batch)

    model.critic_update = spy
    groups = np.zeros((BATCH, 4, SIZE, SIZE, 3), np.uint8)
    for k in range(4):
        groups[:, k] = 40 * (k + 1)  # group k is one flat grey level
    model.train_step(tf.constant(groups))  # eager: the spy sees every update
    assert seen == pytest.approx([40 * (k + 1) / 127.5 - 1 for k in range(4)], abs=1e-5)


def test_weight_clipping_keeps_every_critic_parameter_in_range_from_the_start():
    model = make_gan(n_critic=2)
    for w in model.critic.trainable_weights:  # clipped once before the first update
        assert np.abs(w.numpy()).max() <= 0.01 + 1e-7
    data = tf.data.Dataset.from_tensor_slices(real_groups(5, 2)).batch(BATCH)
    before = values(model.critic.trainable_weights)
    model.fit(data, epochs=2, verbose=0, shuffle=False)
    after = values(model.critic.trainable_weights)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    for w in after:
        assert np.abs(w).max() <= 0.01 + 1e-7


def test_generator_update_leaves_every_critic_weight_untouched():
    model = make_gan()
    critic_before = values(model.critic.weights)  # incl. BatchNorm statistics
    generator_before = values(model.generator.trainable_weights)
    tf.function(model.generator_update)(tf.zeros((BATCH, SIZE, SIZE, 3)))
    for before, w in zip(critic_before, model.critic.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy(), err_msg=w.path)
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(generator_before, model.generator.trainable_weights, strict=True)
    ]
    assert any(changed)
    assert int(model.critic_optimizer.iterations.numpy()) == 0


def test_warmup_schedule_runs_100_critic_updates_on_the_first_iteration():
    model = make_gan(schedule=Warmup(2))
    data = tf.data.Dataset.from_tensor_slices(real_groups(1, 2)).batch(BATCH)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(model.critic_optimizer.iterations.numpy()) == Warmup.updates


def test_latent_vectors_follow_the_chosen_prior():
    uniform = np.asarray(make_gan().sample_latent(2000))
    assert uniform.min() >= 0.0 and uniform.max() <= 1.0
    assert uniform.mean() == pytest.approx(0.5, abs=0.02)
    normal = np.asarray(make_gan(prior=Normal()).sample_latent(2000))
    assert normal.min() < 0 and normal.std() == pytest.approx(1.0, abs=0.05)


def test_a_penalty_that_needs_per_sample_gradients_refuses_batch_norm_in_the_critic():
    with pytest.raises(ConfigError, match="--penalty gp.*BatchNormalization"):
        make_gan(norm="batch", penalty=GradientPenalty())
    critic = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.LayerNormalization(),
                               keras.layers.Flatten(), keras.layers.Dense(1)])  # fmt: skip
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    with pytest.raises(ConfigError, match="LayerNormalization"):
        GAN(critic, generator, penalty=GradientPenalty())  # Keras' own: biased 2nd derivatives


def test_gradient_penalty_critic_trains_with_finite_values_and_reports_the_penalty():
    model = make_gan(n_critic=2, norm="layer", penalty=GradientPenalty(10.0))
    data = tf.data.Dataset.from_tensor_slices(real_groups(3, 2)).batch(BATCH)
    history = model.fit(data, epochs=1, verbose=0, shuffle=False).history
    assert history["gradient_penalty"][0] > 0
    assert all(np.isfinite(v[0]) for v in history.values())


def test_ema_samples_come_from_the_averaged_copy_which_follows_the_generator():
    model = make_gan(n_critic=1, ema=EMA(0.5))
    assert model.sampler is model.ema.average and model.sampler is not model.generator
    start = values(model.sampler.weights)
    model.train_step(tf.constant(real_groups(1, 1)))
    moved = values(model.sampler.weights)
    assert any(not np.array_equal(a, b) for a, b in zip(start, moved, strict=True))
    assert "ema_generator" in model.checkpoint_items()


class RecordingAugment(DiffAugment):
    """DiffAugment that keeps what it was given and what it returned."""

    def __init__(self, policy):
        super().__init__(policy)
        self.calls = []

    def __call__(self, images):
        out = super().__call__(images)
        self.calls.append((images.numpy(), out.numpy()))
        return out


def cut_mask(images, augmented):
    """Where cutout zeroed a pixel that was not zero before: one rectangle per sample."""
    return (augmented == 0) & (images != 0)


def test_diffaugment_sees_real_and_fake_batches_with_independent_draws_in_both_updates():
    augment = RecordingAugment("cutout")
    model = make_gan(n_critic=1, augment=augment)
    real = tf.constant(real_groups(1, 1)[:, 0], "float32") / 127.5 - 1
    model.critic_update(real)  # eager: the recorder sees every batch
    assert len(augment.calls) == 2  # the real batch, then the fake batch
    np.testing.assert_allclose(augment.calls[0][0], real.numpy())
    model.generator_update(real)
    assert len(augment.calls) == 3  # the generator's fakes too
    masks = [cut_mask(given, out) for given, out in augment.calls]
    assert all(mask.any() for mask in masks)  # the same policy cut every batch ...
    assert not np.array_equal(masks[0], masks[1])  # ... real and fake with their own draws
    assert not np.array_equal(masks[1], masks[2])


class BlockedAugment(DiffAugment):
    """The same transforms with the gradient stopped: what a non-differentiable one would do."""

    def __call__(self, images):
        return tf.stop_gradient(super().__call__(images)) + 0.0 * images  # zero, not None


@pytest.mark.parametrize("augment,learns", [(DiffAugment, True), (BlockedAugment, False)])
def test_the_generator_learns_through_diffaugment(augment, learns):
    model = make_gan(n_critic=1, augment=augment("color,translation,cutout"))
    before = values(model.generator.trainable_weights)
    # RMSprop: a zero gradient moves no weight
    model.generator_update(tf.zeros((BATCH, SIZE, SIZE, 3)))
    moved = [not np.array_equal(b, w.numpy())
             for b, w in zip(before, model.generator.trainable_weights, strict=True)]  # fmt: skip
    assert any(moved) is learns


def test_the_composite_round_trips_through_its_config():
    model = make_gan(norm="layer", loss=Hinge(), penalty=GradientPenalty(5.0), schedule=Fixed(2),
                     prior=Normal(), ema=EMA(0.99), augment=DiffAugment("color"))  # fmt: skip
    clone = GAN.from_config(model.get_config())
    assert clone.penalty.weight == 5.0 and clone.schedule.n_critic == 2
    assert clone.ema.decay == 0.99 and clone.augment.policy == ("color",)
    assert clone.metric_names == model.metric_names


MIRRORED = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import wgan
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from wgan.build import build_gan
    from wgan.config import TrainConfig
    from wgan.errors import ConfigError
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    tiny = dict(image_size=16, filters=8, latent_dim=8, n_critic=2, batch_size=8)
    config = TrainConfig(**tiny, ema=0.9, augment="translation")
    with strategy.scope():
        model = build_gan(config)
    x = np.random.default_rng(0).integers(0, 256, (24, 2, 16, 16, 3), dtype=np.uint8)
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    history = model.fit(data, epochs=2, verbose=0, shuffle=False)
    assert strategy.num_replicas_in_sync == 2
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert int(model.generator_optimizer.iterations.numpy()) == 6
    assert int(model.critic_optimizer.iterations.numpy()) == 12
    assert int(model.train_iterations.numpy()) == 6
    largest = max(float(np.abs(w.numpy()).max()) for w in model.critic.trainable_weights)
    assert largest <= 0.01 + 1e-7
    from wgan.randomness import draw_seed

    class Counter:  # a seed generator at a chosen draw count
        def __init__(self, count):
            self.count = count

        def next(self):
            return tf.constant([5, self.count], "int64")

    def seeds_of(count):
        per_replica = strategy.run(tf.function(lambda: draw_seed(Counter(count))))
        return [tuple(s.numpy()) for s in strategy.experimental_local_results(per_replica)]

    # No replica ever meets another's seed, not even thousands of draws later (an offset on
    # the counter word would make replica 1's first draw replica 0's 7920th).
    early, late = seeds_of(0), seeds_of(7919)
    assert len(set(early + late)) == 4, (early, late)
    for schedule in ("warmup", "margin"):
        try:
            with strategy.scope():
                build_gan(TrainConfig(**tiny, schedule=schedule))
        except ConfigError as err:
            assert f"--schedule {schedule}" in str(err) and "\\n" not in str(err), err
        else:
            raise AssertionError(f"{schedule} ran on 2 replicas")
    try:
        with strategy.scope():
            build_gan(TrainConfig(**tiny, precision="fp16"))
    except ConfigError as err:
        assert "--precision fp16" in str(err) and "--strategy one" in str(err), err
    else:
        raise AssertionError("fp16 ran on 2 replicas")
    print("OK")
    """
)


def test_training_runs_under_mirrored_strategy_and_conditional_schedules_refuse_it():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(root)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
