"""The parts of image-to-image translation: U-Net, ResNet generator, PatchGAN, instance norm,
the image pool, the translation terms, the learning-rate decay and the refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.build import build_gan
from wgan.checkpoint import TrainingState
from wgan.config import TrainConfig
from wgan.errors import ConfigError
from wgan.image_pool import ImagePool
from wgan.losses import LeastSquares, NonSaturating
from wgan.penalties import GradientPenalty, Penalty
from wgan.presets import resolve
from wgan.schedules import Fixed
from wgan.translation import (
    A_TO_B,
    B_TO_A,
    JUDGE_A,
    JUDGE_B,
    CycleConsistency,
    Identity,
    LinearDecay,
    PairedL1,
    Translator,
    cycle_pair,
)
from wgan.translators import (
    build_patch_critic,
    build_resnet_generator,
    build_unet,
    patch_layers,
    receptive_field,
    unet_depth,
)

SIZES = (16, 28, 32, 56, 64, 128, 256)


@pytest.mark.parametrize("size", SIZES)
def test_unet_skips_join_maps_of_one_size_at_every_supported_size(size):
    unet = build_unet(size, 3, filters=4)
    assert unet.output_shape == (None, size, size, 3)
    skips = [layer for layer in unet.layers if layer.name.startswith("skip_")]
    assert len(skips) == unet_depth(size) - 1
    for layer in skips:
        decoder, encoder = (tuple(t.shape[1:3]) for t in layer.input)
        assert decoder == encoder
    bottleneck = unet.get_layer(f"down_{unet_depth(size) - 1}").output.shape[1:3]
    smallest = size // 2 ** unet_depth(size)
    assert tuple(bottleneck) == (smallest, smallest)
    if size & (size - 1) == 0:  # 2^k sizes go down to 1x1, as unet_256
        assert smallest == 1
    dropouts = [layer for layer in unet.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == min(3, unet_depth(size) - 1)


def test_unet_256_has_the_papers_eight_levels():
    assert unet_depth(256) == 8 and unet_depth(64) == 6 and unet_depth(28) == 2


def test_patchgan_receptive_field_is_70_at_256_and_scaled_below():
    assert receptive_field(patch_layers(256)) == 70
    assert receptive_field(patch_layers(128)) == 34
    assert receptive_field(patch_layers(64)) == 16


def test_patchgan_score_sees_exactly_its_receptive_field():
    critic = build_patch_critic(32, 1, filters=4, norm="none", n_layers=1)
    x = tf.random.normal((1, 32, 32, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = critic(x)
        centre = scores[0, scores.shape[1] // 2, scores.shape[2] // 2, 0]
    grad = tape.gradient(centre, x)[0, :, :, 0].numpy()
    rows = np.flatnonzero(np.abs(grad).sum(axis=1) > 0)
    assert rows.max() - rows.min() + 1 <= receptive_field(1) == 16
    assert rows.max() - rows.min() + 1 >= 14  # padding may cut nothing in the middle


def test_conditional_patchgan_sees_input_and_output_together():
    critic = build_patch_critic(32, 3, filters=4, conditional=True)
    assert [tuple(t.shape[1:]) for t in critic.inputs] == [(32, 32, 3)] * 2
    assert critic.get_layer("pair").output.shape[-1] == 6


def test_instance_norm_is_the_references_no_affine_epsilon_1e5():
    generator = build_resnet_generator(32, 3, filters=4, blocks=1)
    norms = [layer for layer in generator.layers
             if isinstance(layer, keras.layers.GroupNormalization)]  # fmt: skip
    assert norms and all(
        n.groups == n.input.shape[-1] and n.epsilon == 1e-5
        and not (n.center or n.scale or n.weights)
        for n in norms
    )
    assert generator.output_shape == (None, 32, 32, 3)


def tiny_cycle(pool=0, identity=True, **kw):
    g = [build_resnet_generator(16, 3, filters=4, blocks=1, name=n) for n in (A_TO_B, B_TO_A)]
    d = [build_patch_critic(16, 3, filters=4, norm="instance", name=n) for n in (JUDGE_A, JUDGE_B)]
    terms = [CycleConsistency(10.0)] + ([Identity(5.0)] if identity else [])
    model = Translator(cycle_pair(*d, name="critic"), cycle_pair(*g, name="generator"),
                       loss=LeastSquares(), penalty=Penalty(), schedule=Fixed(1), seed=0,
                       terms=terms, pool=ImagePool(pool), **kw)  # fmt: skip
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return model


def identity_translator(name):
    image = keras.Input((16, 16, 3))
    return keras.Model(image, keras.layers.Activation("linear")(image), name=name)


def test_cycle_identity_and_l1_terms_are_zero_for_identity_generators():
    d = [build_patch_critic(16, 3, filters=4, norm="none", name=n) for n in (JUDGE_A, JUDGE_B)]
    generator = cycle_pair(identity_translator(A_TO_B), identity_translator(B_TO_A), "generator")
    model = Translator(cycle_pair(*d, name="critic"), generator, loss=LeastSquares(),
                       penalty=Penalty(), schedule=Fixed(1), seed=0)  # fmt: skip
    images = tf.random.uniform((4, 16, 16, 3), -1, 1)
    other = tf.random.uniform((4, 16, 16, 3), -1, 1)
    batch = {"inputs": images, "images": other}
    fakes = [d.translator(batch[d.source]) for d in model.directions]
    assert float(CycleConsistency(10).value(model, batch, fakes)) == 0.0
    assert float(Identity(5).value(model, batch, fakes)) == 0.0
    assert float(CycleConsistency(10).value(model, batch, fakes[::-1])) > 0.1  # it can fail
    same = {"inputs": images, "images": images}
    single = model.directions[:1]
    model.directions = single
    assert float(PairedL1(100).value(model, same, [images])) == 0.0


def test_least_squares_terms_are_in_the_reference_units():
    model = tiny_cycle()
    assert model.units == 2.0  # 2 x (1/2 MSE): the reference's plain MSE for G
    assert NonSaturating().name not in ("least-squares",)


def test_pool_returns_fresh_images_while_filling_then_half_stored_half_fresh():
    model = tiny_cycle(pool=50)
    pool = model.pool
    seen = []
    fresh_after_full, stored_after_full = 0, 0
    for step in range(60):
        images = tf.fill((8, 16, 16, 3), float(step * 8) / 1000.0) + tf.reshape(
            tf.range(8, dtype=tf.float32) / 1000.0, (8, 1, 1, 1))  # fmt: skip
        out = pool.query(0, images).numpy()[:, 0, 0, 0]
        values = images.numpy()[:, 0, 0, 0]
        for i, (got, new) in enumerate(zip(out, values, strict=True)):
            filling = step * 8 + i < 50
            if filling:
                assert got == new
            elif np.isclose(got, new):
                fresh_after_full += 1
            else:
                stored_after_full += 1
                earlier = [*seen, *values[:i]]  # the reference goes image by image
                assert any(np.isclose(got, v) for v in earlier)  # an earlier image, not noise
        seen.extend(values)
    total = fresh_after_full + stored_after_full
    assert total == 60 * 8 - 50
    assert 0.42 < stored_after_full / total < 0.58  # p = 1/2, 430 draws: ~4 sigma


def test_pool_draws_repeat_with_the_seed_and_the_checkpoint_keeps_the_pool(tmp_path):
    def run_steps(model, steps, start=0):
        outs = []
        for step in range(start, start + steps):
            images = tf.fill((4, 16, 16, 3), float(step) / 100.0)
            outs.append(model.pool.query(1, images).numpy())
        return outs

    first = tiny_cycle(pool=6)
    early = run_steps(first, 3)
    state = TrainingState(first, np.zeros((1, 1), np.float32), tmp_path)
    state.save(1)
    later = run_steps(first, 3, start=3)
    resumed = tiny_cycle(pool=6)
    TrainingState(resumed, np.zeros((1, 1), np.float32), tmp_path).restore()
    assert all(np.array_equal(a, b) for a, b in zip(later, run_steps(resumed, 3, 3), strict=True))
    again = run_steps(tiny_cycle(pool=6), 3)
    assert all(np.array_equal(a, b) for a, b in zip(early, again, strict=True))


def test_pool_size_zero_passes_images_through():
    model = tiny_cycle(pool=0)
    images = tf.random.uniform((3, 16, 16, 3))
    assert np.array_equal(model.pool.query(0, images).numpy(), images.numpy())


def test_linear_decay_is_constant_then_falls_to_zero_counted_in_updates():
    schedule = LinearDecay(2e-4, total_steps=100, decay_start=50)
    values = [float(schedule(step)) for step in (0, 49, 50, 75, 100, 120)]
    assert values[:3] == pytest.approx([2e-4] * 3)
    assert values[3] == pytest.approx(1e-4)
    assert values[4:] == [0.0, 0.0]


def test_the_lr_schedule_position_survives_a_checkpoint(tmp_path):
    config = resolve({}, "cyclegan", {"image_size": 16, "filters": 4, "batch_size": 2})
    model = build_gan(config, total_iterations=10)
    model.generator_optimizer.iterations.assign(7)
    TrainingState(model, np.zeros((1, 1), np.float32), tmp_path).save(1)
    resumed = build_gan(config, total_iterations=10)
    TrainingState(resumed, np.zeros((1, 1), np.float32), tmp_path).restore()
    lr = resumed.generator_optimizer.learning_rate
    assert int(resumed.generator_optimizer.iterations.numpy()) == 7
    assert float(lr) == pytest.approx(2e-4 * (1 - (7 - 5) / 5))


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_a_gradient_penalty_through_moment_norms_is_refused(norm):
    with pytest.raises(ConfigError, match="--norm layer"):
        resolve({}, "cyclegan", {"penalty": "gp", "norm": norm, "loss": "wasserstein"})
    critic = build_patch_critic(16, 3, filters=4, norm=norm, conditional=True)
    with pytest.raises(ConfigError, match="--norm layer"):
        Translator(critic, build_unet(16, 3, filters=4), penalty=GradientPenalty(10.0))


def test_translators_take_the_cores_loss_and_penalty_parts():
    values = {"image_size": 16, "filters": 4, "batch_size": 2, "loss": "wasserstein",
              "penalty": "gp", "norm": "layer"}  # fmt: skip
    config = resolve({}, "pix2pix", values)
    model = build_gan(config)
    assert "gradient_penalty" in model.metric_names and "l1" in model.metric_names
    images = tf.random.uniform((2, 1, 16, 16, 3), 0, 255)
    values = model.train_step({"inputs": tf.cast(images, "uint8"),
                               "images": tf.cast(images, "uint8")})  # fmt: skip
    assert np.isfinite(float(values["gradient_penalty"]))


@pytest.mark.parametrize("values,flag", [
    ({"schedule": "margin"}, "--schedule"), ({"augment": "color"}, "--augment"),
    ({"held_out": 1.0}, "--held-out"), ({"pool_size": -1}, "--pool-size"),
    ({"direction": "up"}, "--direction"), ({"pairs": "sketch"}, "--pairs"),
    ({"decay_after": 0.0}, "--decay-after"),
])  # fmt: skip
def test_translation_settings_are_checked_with_the_flag_named(values, flag):
    with pytest.raises(ConfigError, match=flag):
        TrainConfig(**{"model": "cyclegan", "norm": "instance", **values}).validate()


@pytest.mark.parametrize("model", ["cyclegan"])  # the pair: pix2pix's one network is simpler
def test_the_ema_part_averages_the_translators_and_grids_sample_from_it(model):
    from wgan.data import make_pair_dataset
    from wgan.translation_grids import translate

    config = resolve({}, model, {"image_size": 16, "filters": 4, "batch_size": 2, "ema": 0.9})
    gan = build_gan(config, total_iterations=4)
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    gan.fit(make_pair_dataset(images, images, 2, seed=0), epochs=1, verbose=0)
    assert gan.sampler is not gan.generator
    averaged, trained = gan.sampler.get_weights()[0], gan.generator.get_weights()[0]
    assert not np.array_equal(averaged, trained)
    assert translate(gan.sampler, images[:2], "BtoA").shape == (2, 16, 16, 3)
