import numpy as np
import pytest

from wgan.demo_faces import draw_faces
from wgan.errors import ConfigError


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_faces_have_the_requested_shape_and_uint8_pixels(size, channels):
    faces = draw_faces(5, image_size=size, channels=channels)
    assert faces.shape == (5, size, size, channels)
    assert faces.dtype == np.uint8


def test_odd_sizes_work():
    assert draw_faces(2, image_size=23).shape == (2, 23, 23, 3)


def test_rgba_is_the_rgb_faces_with_an_opaque_alpha():
    rgb = draw_faces(4, image_size=32, channels=3, seed=5)
    rgba = draw_faces(4, image_size=32, channels=4, seed=5)
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    assert (rgba[..., 3] == 255).all()


def test_grey_faces_are_the_luminance_of_the_colour_faces():
    rgb = draw_faces(4, image_size=32, channels=3, seed=5).astype(np.float64)
    grey = draw_faces(4, image_size=32, channels=1, seed=5)[..., 0].astype(np.float64)
    luminance = rgb @ [0.299, 0.587, 0.114]
    assert np.abs(grey - luminance).max() <= 1.0


def test_same_seed_draws_the_same_faces_and_another_seed_does_not():
    first = draw_faces(8, image_size=32, seed=3)
    np.testing.assert_array_equal(first, draw_faces(8, image_size=32, seed=3))
    assert not np.array_equal(first, draw_faces(8, image_size=32, seed=4))


def test_faces_differ_from_each_other():
    faces = draw_faces(24, image_size=32, seed=0).astype(np.float32)
    flat = faces.reshape(len(faces), -1)
    distances = np.abs(flat[:, None, :] - flat[None, :, :]).mean(axis=2)
    off_diagonal = distances[~np.eye(len(faces), dtype=bool)]
    assert off_diagonal.min() > 10.0  # no two faces are near copies
    skin = faces[:, 14:18, 14:18].mean(axis=(1, 2))  # between the eyes: skin tone
    assert skin.std(axis=0).mean() > 20.0  # skin tones vary


def test_faces_stand_out_from_their_background():
    faces = draw_faces(200, image_size=32, seed=1).astype(np.float32)
    centre = faces[:, 12:20, 12:20].mean(axis=(1, 2))
    corner = faces[:, :4, :4].mean(axis=(1, 2))
    assert np.abs(centre - corner).sum(axis=1).mean() > 80.0


def test_the_average_face_is_left_right_symmetric_with_two_dark_eyes():
    size = 64
    mean = draw_faces(300, image_size=size, channels=1, seed=2)[..., 0].mean(axis=0)
    assert np.abs(mean - mean[:, ::-1]).mean() < 4.0  # mirror image of itself
    assert np.abs(mean - mean[::-1, :]).mean() > 10.0  # but not upside-down symmetric
    eye_rows = mean[int(size * 0.40) : int(size * 0.52)]
    left_eye = eye_rows[:, int(size * 0.22) : int(size * 0.45)].min()
    right_eye = eye_rows[:, int(size * 0.55) : int(size * 0.78)].min()
    bridge = eye_rows[:, int(size * 0.48) : int(size * 0.52)].mean()
    assert left_eye < bridge - 30 and right_eye < bridge - 30


def test_zero_faces_is_an_empty_batch():
    assert draw_faces(0, image_size=16).shape == (0, 16, 16, 3)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"image_size": 8}, "image_size"), ({"channels": 2}, "channels"), ({"n": -1}, "faces")],
)
def test_bad_arguments_raise_a_config_error_naming_them(kwargs, word):
    args = {"n": 2, **kwargs}
    with pytest.raises(ConfigError, match=word):
        draw_faces(**args)
