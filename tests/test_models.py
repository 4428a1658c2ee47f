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
    # Without normalisation, with zero biases and LeakyReLU, the critic is positively
    # homogeneous: scaling the input scales the score, which a sigmoid output could not do.
    plain = build_critic(16, 3, filters=8, norm="none")
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(plain(100 * x), 100 * plain(x), rtol=1e-3, atol=1e-6)


def test_critic_has_no_batchnorm_in_first_block_and_batchnorm_after():
    critic = build_critic(32, 3, filters=8)
    names = [layer.name for layer in critic.layers]
    assert names.index("conv_0") + 1 == names.index("lrelu_0")
    assert "bn_1" in names and "bn_2" in names and "bn_0" not in names


def test_no_weight_carries_a_constraint_clipping_is_a_penalty_part():
    critic = build_critic(32, 3, filters=8)
    assert all(w.constraint is None for w in critic.trainable_weights)


@pytest.mark.parametrize("norm,layer", [("batch", "FusedBatchNormalization"),
                                        ("layer", "LayerNormalization"), ("none", None)])
def test_critic_normalisation_is_a_choice(norm, layer):
    critic = build_critic(32, 3, filters=8, norm=norm)
    kinds = {type(lyr).__name__ for lyr in critic.layers}
    norms = kinds & {"FusedBatchNormalization", "LayerNormalization", "BatchNormalization"}
    assert norms == ({layer} if layer else set())


def test_spectral_norm_puts_a_power_iteration_vector_on_every_critic_kernel():
    critic = build_critic(16, 3, filters=8, norm="none", spectral_norm=True)
    kernels = [lyr for lyr in critic.layers if hasattr(lyr, "kernel")]
    assert kernels and all(getattr(lyr, "spectral_norm", False) for lyr in kernels)
    assert all(any("sn_u" in w.path for w in lyr.weights) for lyr in kernels)
    loaded = keras.models.clone_model(critic)  # rebuilt from its config
    assert all(getattr(lyr, "spectral_norm", False) for lyr in loaded.layers
               if hasattr(lyr, "kernel"))  # fmt: skip


def test_unknown_normalisation_is_rejected():
    with pytest.raises(ConfigError, match="--norm"):
        build_critic(16, 3, norm="group")


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


def test_critics_saved_with_clip_constraints_by_earlier_versions_still_load(tmp_path):
    # Before clipping became a penalty part, every critic layer carried a ClipConstraint.
    critic = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        1, kernel_constraint=ClipConstraint(0.03), bias_constraint=ClipConstraint(0.03))])
    path = tmp_path / "critic.keras"
    critic.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    constraints = [w.constraint for w in loaded.trainable_weights]
    assert [type(c) for c in constraints] == [ClipConstraint, ClipConstraint]
    assert {c.clip_value for c in constraints} == {0.03}


def test_clip_constraint_clips_and_round_trips_its_config():
    clip = ClipConstraint(0.05)
    out = np.asarray(clip(np.array([-1.0, -0.01, 0.0, 0.2], np.float32)))
    np.testing.assert_allclose(out, [-0.05, -0.01, 0.0, 0.05])
    assert ClipConstraint.from_config(clip.get_config()).clip_value == 0.05
    with pytest.raises(ValueError):
        ClipConstraint(0)
