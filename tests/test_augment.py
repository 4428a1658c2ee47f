from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401  (selects the TensorFlow backend, registers the custom objects)
from wgan.augment import (
    POLICIES,
    DiffAugment,
    diff_augment,
    parse_policy,
    rand_brightness,
    rand_contrast,
    rand_cutout,
    rand_saturation,
    rand_translation,
)
from wgan.errors import ConfigError

SEED = tf.constant([12, 34], tf.int64)
OTHER_SEED = tf.constant([12, 35], tf.int64)
SINGLE_WORDS = [(word,) for word in POLICIES]


def images(n=6, h=16, w=16, c=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, c)).astype(np.float32)


def distinct_positive(n, h, w, c):
    """Every pixel value different and nonzero, so each output pixel names its source."""
    return np.arange(1, n * h * w * c + 1, dtype=np.float32).reshape(n, h, w, c)


def shifted(image, dy, dx):
    """Numpy reference of the official translation: out[i, j] = image[i + dy, j + dx] or 0."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[i, j] = image[i + dy, j + dx]
    return out


def spread_factors(x, out, axis):
    """Per sample, the least-squares k in out - mean = k (x - mean), mean over ``axis``."""
    mean = x.mean(axis=axis, keepdims=True)
    deviation = (x - mean).reshape(len(x), -1)
    return np.sum((out - mean).reshape(len(x), -1) * deviation, 1) / np.sum(deviation**2, 1)


def recover_shift(image, out, s_y, s_x):
    matches = [
        (dy, dx)
        for dy in range(-s_y, s_y + 1)
        for dx in range(-s_x, s_x + 1)
        if np.array_equal(shifted(image, dy, dx), out)
    ]
    assert len(matches) == 1, f"output is not one integer shift within [-s, s]: {matches}"
    return matches[0]


# --- parse_policy ---------------------------------------------------------------------------


def test_parse_policy_splits_commas_and_tolerates_whitespace():
    assert parse_policy("color,translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy(" color ,  translation,cutout ") == POLICIES


@pytest.mark.parametrize("off", ["", "off", "none", " Off ", " , "])
def test_parse_policy_off_words_mean_no_augmentation(off):
    assert parse_policy(off) == ()


def test_parse_policy_normalises_order_and_drops_duplicates():
    assert parse_policy("cutout,color,cutout") == ("color", "cutout")
    assert parse_policy("translation,color") == ("color", "translation")


def test_parse_policy_rejects_an_unknown_word_in_one_line_naming_it_and_the_choices():
    with pytest.raises(ConfigError) as info:
        parse_policy("color,blur")
    message = str(info.value)
    assert "\n" not in message
    assert "'blur'" in message
    assert all(word in message for word in POLICIES)
    assert "off" in message


def test_parse_policy_rejects_off_combined_with_a_transform():
    with pytest.raises(ConfigError, match="'off'"):
        parse_policy("off,color")


def test_diff_augment_rejects_an_unknown_word():
    with pytest.raises(ConfigError, match="blur"):
        diff_augment(images(), ("blur",), SEED)


# --- randomness -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", SINGLE_WORDS + [POLICIES])
def test_a_fixed_seed_repeats_the_output_exactly(policy):
    x = images()
    first = diff_augment(x, policy, SEED).numpy()
    np.testing.assert_array_equal(first, diff_augment(x, policy, SEED).numpy())
    np.testing.assert_array_equal(first, diff_augment(x, policy, SEED.numpy().tolist()).numpy())


@pytest.mark.parametrize("policy", SINGLE_WORDS + [POLICIES])
def test_different_seeds_give_different_outputs(policy):
    x = images(n=8)
    first = diff_augment(x, policy, SEED).numpy()
    assert not np.array_equal(first, diff_augment(x, policy, OTHER_SEED).numpy())


def test_samples_of_one_batch_get_different_draws():
    x = np.ones((16, 16, 16, 3), np.float32)
    moved = rand_translation(tf.constant(x), SEED).numpy()
    # On a constant image the translation shows as the extent of the zero border.
    zero_patterns = {tuple((moved[i, :, :, 0] == 0).ravel()) for i in range(len(x))}
    assert len(zero_patterns) > 1
    offsets = (rand_brightness(tf.constant(x), SEED).numpy() - x)[:, 0, 0, 0]
    assert len(np.unique(offsets)) == len(x)


def test_the_transforms_of_one_seed_draw_independently():
    # Each transform folds its own tag into the seed: equal draws would give u_b == u_s == u_c.
    x = images(n=32)
    u_brightness = (rand_brightness(tf.constant(x), SEED).numpy() - x)[:, 0, 0, 0] + 0.5
    u_saturation = spread_factors(x, rand_saturation(tf.constant(x), SEED).numpy(), 3) / 2
    u_contrast = spread_factors(x, rand_contrast(tf.constant(x), SEED).numpy(), (1, 2, 3)) - 0.5
    assert not np.allclose(u_brightness, u_saturation, atol=1e-3)
    assert not np.allclose(u_brightness, u_contrast, atol=1e-3)
    assert not np.allclose(u_saturation, u_contrast, atol=1e-3)


# --- colour ---------------------------------------------------------------------------------


def test_brightness_adds_one_offset_per_sample_within_minus_half_to_half():
    x = images(n=32)
    difference = rand_brightness(tf.constant(x), SEED).numpy() - x
    offsets = difference[:, :1, :1, :1]
    np.testing.assert_allclose(difference, np.broadcast_to(offsets, x.shape), atol=1e-6)
    assert np.all(offsets >= -0.5 - 1e-6) and np.all(offsets < 0.5)


def test_saturation_keeps_each_pixels_channel_mean_and_scales_its_spread_by_one_factor():
    x = images(n=32)
    out = rand_saturation(tf.constant(x), SEED).numpy()
    mean = x.mean(axis=3, keepdims=True)
    np.testing.assert_allclose(out.mean(axis=3, keepdims=True), mean, atol=1e-5)
    # (out - mean) = k (x - mean) with one k per sample, k in [0, 2).
    factors = spread_factors(x, out, 3)
    np.testing.assert_allclose(out, mean + factors[:, None, None, None] * (x - mean), atol=1e-5)
    assert np.all(factors >= -1e-6) and np.all(factors < 2.0)
    assert np.ptp(factors) > 0.5


def test_contrast_keeps_each_samples_mean_and_scales_its_spread_by_one_factor():
    x = images(n=32)
    out = rand_contrast(tf.constant(x), SEED).numpy()
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3), keepdims=True), mean, atol=1e-5)
    factors = spread_factors(x, out, (1, 2, 3))
    np.testing.assert_allclose(out, mean + factors[:, None, None, None] * (x - mean), atol=1e-5)
    assert np.all(factors >= 0.5 - 1e-6) and np.all(factors < 1.5)


def test_colour_is_brightness_saturation_and_contrast_each_with_its_own_draw():
    x = tf.constant(images())
    expected = rand_contrast(rand_saturation(rand_brightness(x, SEED), SEED), SEED)
    np.testing.assert_allclose(diff_augment(x, ("color",), SEED), expected, atol=1e-6)


def test_saturation_leaves_a_one_channel_image_unchanged():
    x = images(c=1)
    np.testing.assert_allclose(rand_saturation(tf.constant(x), SEED), x, atol=1e-6)


# --- translation ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(48, 16, 16, 3), (48, 8, 24, 1)])
def test_translation_shifts_each_sample_by_integers_within_an_eighth_with_zeros_moving_in(shape):
    n, h, w, c = shape
    x = distinct_positive(*shape)
    out = rand_translation(tf.constant(x), SEED).numpy()
    s_y, s_x = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    shifts = np.array([recover_shift(x[i], out[i], s_y, s_x) for i in range(n)])
    # Both bounds of [-s, s] are drawn, on each axis independently.
    assert set(shifts[:, 0]) == set(range(-s_y, s_y + 1))
    assert set(shifts[:, 1]) == set(range(-s_x, s_x + 1))


# --- cutout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(200, 16, 16, 3), (200, 15, 13, 1)])
def test_cutout_zeroes_exactly_one_clipped_square_and_keeps_every_other_pixel(shape):
    n, h, w, c = shape
    x = distinct_positive(*shape)
    out = rand_cutout(tf.constant(x), SEED).numpy()
    size_y, size_x = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    tops, bottoms, heights, widths = [], [], [], []
    for i in range(n):
        zero = out[i] == 0
        assert np.all(zero == zero[:, :, :1]), "cutout must zero all channels of a pixel"
        rows = np.flatnonzero(zero[:, :, 0].any(axis=1))
        cols = np.flatnonzero(zero[:, :, 0].any(axis=0))
        rectangle = np.zeros((h, w), bool)
        rectangle[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
        np.testing.assert_array_equal(zero[:, :, 0], rectangle)
        np.testing.assert_array_equal(out[i][~zero], x[i][~zero])
        tops.append(rows[0])
        bottoms.append(rows[-1])
        heights.append(len(rows))
        widths.append(len(cols))
    heights, widths = np.array(heights), np.array(widths)
    assert heights.max() == size_y and widths.max() == size_x
    # The centre is uniform over the image, so the square is clipped down to half at the edges.
    assert heights.min() == size_y - size_y // 2 and widths.min() == size_x - size_x // 2
    # Symmetric, as in the official offset range [0, H + 1 - size % 2): half at either edge.
    tops, bottoms = np.array(tops), np.array(bottoms)
    assert heights[tops == 0].min() == size_y - size_y // 2
    assert heights[bottoms == h - 1].min() == size_y - size_y // 2
    unclipped = (tops > 0) & (bottoms < h - 1)
    assert np.all(heights[unclipped] == size_y)


# --- gradients ------------------------------------------------------------------------------


def input_gradient(x, policy, weights):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(diff_augment(x, policy, SEED) * weights)
    return tape.gradient(loss, x)


@pytest.mark.parametrize("policy", SINGLE_WORDS + [POLICIES])
def test_gradients_flow_to_the_images(policy):
    x = images()
    weights = tf.constant(images(seed=1))
    gradient = input_gradient(x, policy, weights)
    assert gradient is not None
    gradient = tf.convert_to_tensor(gradient).numpy()
    assert np.all(np.isfinite(gradient))
    assert np.count_nonzero(gradient) > gradient.size // 4


def test_translation_gradient_is_one_on_pixels_that_stay_in_the_image_and_zero_elsewhere():
    x = distinct_positive(8, 16, 16, 3)
    out = rand_translation(tf.constant(x), SEED).numpy()
    gradient = tf.convert_to_tensor(input_gradient(x, ("translation",), 1.0)).numpy()
    survives = np.stack([np.isin(x[i], out[i]) for i in range(len(x))])
    assert not survives.all()
    np.testing.assert_array_equal(gradient, survives.astype(np.float32))


def test_cutout_gradient_is_the_mask():
    x = distinct_positive(8, 16, 16, 3)
    out = diff_augment(x, ("cutout",), SEED).numpy()
    gradient = tf.convert_to_tensor(input_gradient(x, ("cutout",), 1.0)).numpy()
    np.testing.assert_array_equal(gradient, (out != 0).astype(np.float32))
    assert 0 < np.count_nonzero(gradient == 0)


# --- dtypes, shapes, graphs -----------------------------------------------------------------


def test_bfloat16_images_come_back_as_finite_bfloat16():
    x = tf.cast(images(), tf.bfloat16)
    out = diff_augment(x, POLICIES, SEED)
    assert out.dtype == tf.bfloat16
    assert np.all(np.isfinite(tf.cast(out, tf.float32).numpy()))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.cast(diff_augment(x, POLICIES, SEED), tf.float32))
    assert tape.gradient(loss, x).dtype == tf.bfloat16


@pytest.mark.parametrize("shape", [(4, 16, 16, 3), (5, 28, 28, 1), (3, 8, 8, 4), (1, 9, 7, 3)])
def test_every_policy_keeps_shape_and_dtype(shape):
    x = images(*shape)
    for policy in SINGLE_WORDS + [POLICIES]:
        out = diff_augment(x, policy, SEED)
        assert out.shape == shape and out.dtype == tf.float32
        assert np.all(np.isfinite(out.numpy()))


def test_runs_in_a_tf_function_with_an_unknown_batch_size():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 16, 16, 3], tf.float32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def augment(x, seed):
        return diff_augment(x, POLICIES, seed)

    for n in (3, 5):
        x = images(n=n)
        np.testing.assert_allclose(augment(x, SEED), diff_augment(x, POLICIES, SEED), atol=1e-6)


def test_an_empty_policy_returns_the_images_untouched():
    x = images()
    np.testing.assert_array_equal(diff_augment(x, (), SEED).numpy(), x)


# --- the part the GAN holds -----------------------------------------------------------------


def built_part(seed=7, policy="color,translation,cutout"):
    part = DiffAugment(policy)
    part.build(SimpleNamespace(seed=seed))  # build reads the GAN's seed
    return part


def test_part_defaults_to_the_full_policy_and_reports_no_metrics():
    part = DiffAugment()
    assert part.policy == POLICIES
    assert part.metrics == () and part.labels == {}


def test_part_draws_fresh_transforms_on_every_call():
    part = built_part()
    x = images()
    assert not np.array_equal(part(x).numpy(), part(x).numpy())


def test_part_rebuilt_with_the_same_seed_repeats_its_sequence():
    x = images()
    first, second = built_part(seed=3), built_part(seed=3)
    for _ in range(2):
        np.testing.assert_array_equal(first(x).numpy(), second(x).numpy())
    assert not np.array_equal(built_part(seed=4)(x).numpy(), built_part(seed=3)(x).numpy())


def test_part_draws_fresh_transforms_inside_a_tf_function():
    part = built_part()

    @tf.function
    def augment(x):
        return part(x)

    x = tf.constant(images())
    first, second = augment(x).numpy(), augment(x).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, built_part()(x).numpy())


@pytest.mark.parametrize("policy", ["", "off"])
def test_part_with_an_empty_policy_is_the_identity(policy):
    part = built_part(policy=policy)
    x = tf.constant(images())
    assert part.policy == ()
    assert part(x) is x


def test_part_config_round_trips():
    part = DiffAugment("cutout, color")
    assert part.get_config() == {"policy": "color,cutout"}
    assert DiffAugment.from_config(part.get_config()).policy == ("color", "cutout")
    assert keras.saving.get_registered_name(DiffAugment) == "wgan>DiffAugment"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(part))
    assert isinstance(restored, DiffAugment) and restored.policy == ("color", "cutout")


def test_part_state_is_the_seed_generator_variable_and_advances_per_call():
    part = built_part()
    state = part.state()
    assert list(state) == ["augment_seed"]
    assert state["augment_seed"] is part.seed_generator.state
    before = state["augment_seed"].numpy().copy()
    part(images())
    assert not np.array_equal(before, state["augment_seed"].numpy())
