"""Bad input, never a crash: every file of a hostile folder (tests/fuzz_corpus.py) is converted
or skipped with its reason, in one warning; and --n-samples N means N usable images."""

import warnings
from collections import Counter

import numpy as np
import pytest
from fuzz_corpus import BLUE, EXPECTED, GREEN, RED, VANISHING, make_corpus
from PIL import Image

import wgan  # noqa: F401  (chooses the TensorFlow backend before anything imports Keras)
from wgan import data
from wgan.data import SKIP_REASONS, load_images


def loaded_warned(*args, **kwargs):
    """(load_images' result, the text of every warning it gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_images(*args, **kwargs)
    return loaded, [str(w.message) for w in caught]


def vanish_after_listing(monkeypatch, name):
    """Delete ``name`` right after the folder is listed, before it is decoded."""
    real = data.find_images

    def listing_then_deleting(root):
        found = real(root)
        (root / name).unlink()
        return found

    monkeypatch.setattr(data, "find_images", listing_then_deleting)


def expected_outcomes(made):
    outcome = {name: EXPECTED[name] for name in made if name in EXPECTED}
    outcome[VANISHING] = "vanished"
    return outcome


def names_of(loaded):
    return {p.relative_to(loaded.root).as_posix() for p in loaded.paths}


@pytest.mark.parametrize("channels", [3, 1])
def test_every_corpus_file_is_converted_or_skipped_with_its_reason_in_one_warning(
    tmp_path, monkeypatch, channels
):
    outcome = expected_outcomes(make_corpus(tmp_path))
    vanish_after_listing(monkeypatch, VANISHING)

    loaded, said = loaded_warned(tmp_path, n_samples=0, image_size=16, channels=channels)

    converted = {name for name, what in outcome.items() if what == "ok"}
    assert names_of(loaded) == converted
    assert loaded.images.shape == (len(converted), 16, 16, channels)
    assert loaded.images.dtype == np.uint8
    skipped = Counter(what for what in outcome.values() if what != "ok")
    assert loaded.n_skipped == sum(skipped.values())
    assert len(said) == 1, said
    message = said[0]
    assert "\n" not in message  # a name with a newline is shown escaped
    assert message.startswith(f"skipped {sum(skipped.values())} of {len(outcome)} image files")
    summary = message.split(": ", 1)[1].split("; ", 1)[0]  # "2 empty, 2 truncated, ..."
    counted = (part.split(" ", 1) for part in summary.split(", "))
    assert {reason: int(n) for n, reason in counted} == dict(skipped)
    assert set(skipped) <= set(SKIP_REASONS)


def test_converted_corpus_images_keep_their_picture(tmp_path):
    make_corpus(tmp_path)
    loaded, _ = loaded_warned(tmp_path, n_samples=0, image_size=16)
    image = {p.name: im.astype(int) for p, im in zip(loaded.paths, loaded.images, strict=True)}

    upright = image["exif_rotated.jpg"]  # stored sideways: red on top; upright: red on the left
    assert upright[:, 2, 0].min() > 150 and upright[:, 2, 1].max() < 100
    assert upright[:, 13, 1].min() > 150 and upright[:, 13, 0].max() < 100
    for name in ("deep16.png", "float.tif"):  # ramps, neither saturated nor black
        row = image[name][8, :, 0]
        assert np.all(np.diff(row) > 0), (name, row)
        assert row[0] < 60 and row[-1] > 200, (name, row)
    for name in ("animated.gif", "animated.webp", "pages.tif"):  # the first frame: red
        assert np.abs(image[name][8, 8] - RED).max() < 8, name
    palette = image["palette_alpha.png"]  # red on the left, transparent (white) on the right
    assert np.abs(palette[8, 2] - RED).max() < 8 and palette[8, 13].min() > 245
    cyan = image["cmyk.jpg"][8, 8]
    assert cyan[0] < 40 and cyan[1] > 200 and cyan[2] > 200
    assert np.abs(image["one_pixel.png"] - GREEN).max() < 2  # 1x1: one colour everywhere
    bilevel = image["bilevel.png"]
    assert bilevel[:, :6].max() < 30 and bilevel[:, 10:].min() > 225


def test_images_above_pillows_pixel_limit_are_skipped_from_their_header(tmp_path, monkeypatch):
    # Pillow refuses above twice its limit and only warns between the two: both are skipped,
    # neither warning escapes, and nothing past the header is decoded.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.new("RGB", (40, 40), BLUE).save(tmp_path / "warned.png")  # 1,600 pixels
    Image.new("RGB", (50, 50), BLUE).save(tmp_path / "refused.png")  # 2,500 pixels
    Image.new("RGB", (20, 20), GREEN).save(tmp_path / "small.png")
    loaded, said = loaded_warned(tmp_path, n_samples=0, image_size=8)
    assert names_of(loaded) == {"small.png"}
    assert len(said) == 1 and "2 too large" in said[0] and "MAX_IMAGE_PIXELS" in said[0]


def test_the_corpus_bomb_is_skipped_as_too_large(tmp_path):
    made = make_corpus(tmp_path / "all")
    folder = tmp_path / "bombs"
    folder.mkdir()
    for name in ("bomb.png", "near_bomb.png", "good_1.png"):
        (folder / name).write_bytes((tmp_path / "all" / name).read_bytes())
    loaded, said = loaded_warned(folder, n_samples=0, image_size=16)
    assert "30000x30000" in made["bomb.png"]
    assert names_of(loaded) == {"good_1.png"}
    assert len(said) == 1 and "skipped 2 of 3" in said[0] and "2 too large" in said[0]
    assert "bomb.png (too large: 900,000,000 pixels" in said[0]


def test_a_file_deleted_between_listing_and_reading_is_skipped_as_vanished(tmp_path, monkeypatch):
    for i in range(3):
        Image.new("RGB", (20, 20), (10 * i, 0, 0)).save(tmp_path / f"{i}.png")
    vanish_after_listing(monkeypatch, "1.png")
    loaded, said = loaded_warned(tmp_path, n_samples=0, image_size=8)
    assert names_of(loaded) == {"0.png", "2.png"}
    assert len(said) == 1 and "1 vanished" in said[0] and "1.png (vanished" in said[0]


# --- --n-samples N: N usable images -------------------------------------------------------------


def numbered_with_broken(root, n_good, broken):
    """n_good PNGs whose red value is 5 * their number, and ``broken`` files that are not."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        Image.new("RGB", (12, 12), (5 * i, 50, 90)).save(root / f"img_{i:03d}.png")
    for name in broken:
        (root / name).write_text("not a picture")
    return root


def seed_drawing(root, name, n):
    """A seed whose first draw of n files takes ``name``: the case replacements are for."""
    found, _ = data.find_images(root)
    return next(s for s in range(100) if root / name in data.select_files(found, n, s))


def assert_rows_match_files(loaded):
    assert len(set(loaded.paths)) == len(loaded.paths)
    for path, image in zip(loaded.paths, np.asarray(loaded.images), strict=True):
        assert image[4, 4, 0] == 5 * int(path.stem.split("_")[1])


def test_n_samples_draws_replacements_for_unreadable_files(tmp_path):
    root = numbered_with_broken(tmp_path / "faces", 45, ["img_020x.png"])
    seed = seed_drawing(root, "img_020x.png", 40)
    loaded, said = loaded_warned(root, n_samples=40, image_size=8, seed=seed)
    assert loaded.images.shape == (40, 8, 8, 3)
    assert root / "img_020x.png" not in loaded.paths
    assert_rows_match_files(loaded)
    assert len(said) == 1 and "skipped 1 of 41" in said[0]
    assert "1 not an image" in said[0] and "1 others drawn in their place" in said[0]
    again, _ = loaded_warned(root, n_samples=40, image_size=8, seed=seed)
    assert again.paths == loaded.paths  # the replacements are seeded too
    np.testing.assert_array_equal(again.images, loaded.images)


def test_a_sample_of_readable_files_is_the_one_select_files_draws(tmp_path):
    root = numbered_with_broken(tmp_path / "faces", 30, [])
    found, _ = data.find_images(root)
    loaded, said = loaded_warned(root, n_samples=12, image_size=8, seed=3)
    assert said == [] and loaded.paths == data.select_files(found, 12, 3)


def test_n_samples_says_so_when_too_few_files_can_be_read(tmp_path):
    broken = ["img_000x.png", "img_001x.png", "img_002x.png"]
    root = numbered_with_broken(tmp_path / "faces", 39, broken)
    loaded, said = loaded_warned(root, n_samples=40, image_size=8, seed=0)
    assert loaded.images.shape[0] == 39
    assert_rows_match_files(loaded)
    assert len(said) == 1 and "only 39 of the 40 asked for could be read" in said[0]


def test_replacements_go_through_the_cache_and_come_back_from_it(tmp_path, count_decodes):
    root = numbered_with_broken(tmp_path / "faces", 45, ["img_020x.png"])
    seed = seed_drawing(root, "img_020x.png", 40)
    decoded = count_decodes
    cache = tmp_path / "cache" / "faces.u8cache"
    plain, _ = loaded_warned(root, n_samples=40, image_size=8, seed=seed)
    first, said_first = loaded_warned(root, n_samples=40, image_size=8, seed=seed,
                                      cache_path=cache)  # fmt: skip
    assert len(decoded) == 2 * 41
    second, said_second = loaded_warned(root, n_samples=40, image_size=8, seed=seed,
                                        cache_path=cache)  # fmt: skip
    assert len(decoded) == 2 * 41  # nothing decoded again
    assert isinstance(second.images, np.memmap) and second.images.shape == (40, 8, 8, 3)
    assert first.paths == second.paths == plain.paths
    np.testing.assert_array_equal(np.asarray(second.images), plain.images)
    assert_rows_match_files(second)
    assert said_first == said_second and len(said_first) == 1  # the cache remembers why
    assert second.n_skipped == 1


# --- the whole way through scripts/train.py -----------------------------------------------------


def test_train_script_trains_on_the_corpus_with_one_warning(tmp_path, run):
    make_corpus(tmp_path / "corpus")
    result = run("train.py", "--data", tmp_path / "corpus", "--n-samples", 0,
                 "--image-size", 16, "--filters", 8, "--latent-dim", 8, "--batch-size", 4,
                 "--n-critic", 1, "--epochs", 1, "--eval-every", 0, "--seed", 0, "--no-cache",
                 "--run-dir", tmp_path / "run")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    said = result.stdout + result.stderr
    lines = [line for line in said.splitlines() if "skipped" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: skipped"), lines
