import keras
import numpy as np
import pytest

import wgan  # noqa: F401
from wgan.constraints import ClipConstraint
from wgan.errors import ConfigError
from wgan.models import build_critic, build_generator
from wgan.shapes import base_size, n_blocks


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3)])
def test_output_shapes(size, channels):
    critic = build_critic(size, channels, filters=8)
    generator = build_generator(size, channels, latent_dim=10, filters=8)
    images = generator(np.random.rand(2, 10).astype("float32"))
    assert tuple(images.shape) == (2, size, size, channels)
    assert tuple(critic(images).shape) == (2, 1)


def test_generator_output_is_tanh_range():
    generator = build_generator(16, 3, latent_dim=4, filters=8)
    images = np.asarray(generator(np.random.rand(8, 4).astype("float32") * 50))
    assert images.min() >= -1.0 and images.max() <= 1.0


def test_critic_output_is_linear_not_sigmoid():
    critic = build_critic(16, 3, filters=8)
    assert critic.layers[-1].activation is keras.activations.linear
    scores = np.asarray(critic(np.random.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")))
    # With clipped (tiny) weights a linear score is near 0; a sigmoid would sit near 0.5.
    assert np.abs(scores).max() < 0.1


def test_critic_has_no_batchnorm_in_first_block_and_batchnorm_after():
    critic = build_critic(32, 3, filters=8)
    names = [layer.name for layer in critic.layers]
    assert names.index("conv_0") + 1 == names.index("lrelu_0")
    assert "bn_1" in names and "bn_2" in names and "bn_0" not in names


def test_every_critic_weight_carries_the_clip_constraint():
    critic = build_critic(32, 3, clip_value=0.02, filters=8)
    assert critic.trainable_weights
    for w in critic.trainable_weights:
        assert isinstance(w.constraint, ClipConstraint), w.path
        assert w.constraint.clip_value == 0.02
        assert np.abs(w.numpy()).max() <= 0.02 + 1e-7


def test_weights_are_initialised_with_stddev_002():
    generator = build_generator(64, 3, latent_dim=100)
    kernel = generator.get_layer("conv_0").kernel.numpy()
    assert kernel.std() == pytest.approx(0.02, rel=0.05)
    assert abs(kernel.mean()) < 0.002


@pytest.mark.parametrize("size,base,blocks", [(16, 4, 2), (28, 7, 2), (64, 4, 4), (128, 4, 5)])
def test_supported_sizes(size, base, blocks):
    assert base_size(size) == base
    assert n_blocks(size) == blocks


@pytest.mark.parametrize("size", [30, 0, 4, 7, 100, 48])
def test_unsupported_sizes_raise_a_clear_error(size):
    with pytest.raises(ConfigError, match="4\\*2\\^k or 7\\*2\\^k"):
        build_critic(size, 3)


def test_bad_channel_count_is_rejected():
    with pytest.raises(ConfigError, match="channels"):
        build_generator(16, 2)


def test_clip_constraint_survives_keras_save_and_load(tmp_path):
    critic = build_critic(16, 3, clip_value=0.03, filters=8)
    path = tmp_path / "critic.keras"
    critic.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    constraints = [w.constraint for w in loaded.trainable_weights]
    assert all(isinstance(c, ClipConstraint) for c in constraints)
    assert {c.clip_value for c in constraints} == {0.03}
    x = np.random.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x), critic(x), rtol=1e-5, atol=1e-7)


def test_clip_constraint_clips_and_round_trips_its_config():
    clip = ClipConstraint(0.05)
    out = np.asarray(clip(np.array([-1.0, -0.01, 0.0, 0.2], np.float32)))
    np.testing.assert_allclose(out, [-0.05, -0.01, 0.0, 0.05])
    assert ClipConstraint.from_config(clip.get_config()).clip_value == 0.05
    with pytest.raises(ValueError):
        ClipConstraint(0)
