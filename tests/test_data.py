import os
import warnings

import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401  (chooses the TensorFlow backend before anything imports Keras)
from wgan import data
from wgan.data import (
    ImageSet,
    find_images,
    load_images,
    make_dataset,
    steps_per_epoch,
    to_float,
    to_uint8,
)
from wgan.errors import ConfigError, DataError

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 40, 210)


def solid(path, colour=(128, 128, 128), size=(20, 24), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def numbered_folder(root, n, size=(20, 20)):
    """n PNGs whose red value is 10 * their number, so a pixel tells which file it came from."""
    for i in range(n):
        solid(root / f"img_{i:03d}.png", (10 * i, 50, 90), size)
    return root


def celeba_face(size=(178, 218)):
    """A CelebA-sized picture whose central 108x108 square is green inside a blue frame, on red."""
    im = Image.new("RGB", (178, 218), RED)
    im.paste(BLUE, (35, 55, 143, 163))
    im.paste(GREEN, (47, 67, 131, 151))  # a 12-pixel blue frame inside the square
    return im if size == (178, 218) else im.resize(size, Image.Resampling.BOX)


def skipped_warnings(record):
    return [w for w in record if "skipped" in str(w.message)]


# --- finding images ---------------------------------------------------------------------------


def test_celeba_layout_is_recognised(tmp_path):
    for name in ("000002.jpg", "000001.jpg"):
        solid(tmp_path / "img_align_celeba" / name)
    paths, layout = find_images(tmp_path)
    assert layout == "celeba"
    assert [p.name for p in paths] == ["000001.jpg", "000002.jpg"]


def test_nested_kaggle_layout_is_recognised(tmp_path):
    solid(tmp_path / "img_align_celeba" / "img_align_celeba" / "000001.jpg")
    (tmp_path / "list_attr_celeba.csv").write_text("image_id\n")
    paths, layout = find_images(tmp_path)
    assert layout == "celeba-nested"
    assert len(paths) == 1


def test_the_img_align_celeba_folder_itself_is_celeba(tmp_path):
    solid(tmp_path / "img_align_celeba" / "000001.jpg")
    paths, layout = find_images(tmp_path / "img_align_celeba")
    assert (len(paths), layout) == (1, "celeba")


def test_any_folder_is_searched_recursively_in_any_letter_case(tmp_path):
    for name in ("b.png", "A.JPG", "sub/deeper/c.Jpeg", "d.bmp", "e.webp", "sub/f.PNG"):
        solid(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    solid(tmp_path / "._resource_fork.jpg")  # hidden files (macOS debris) are not images
    solid(tmp_path / ".cache" / "thumb.png")
    paths, layout = find_images(tmp_path)
    assert layout == "folder"
    names = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert names == sorted(names)
    assert set(names) == {"b.png", "A.JPG", "sub/deeper/c.Jpeg", "d.bmp", "e.webp", "sub/f.PNG"}


def test_missing_folder_is_a_data_error_naming_it(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(DataError, match="no_such_folder") as error:
        find_images(missing)
    assert "README" in str(error.value) or "--data" in str(error.value)
    with pytest.raises(DataError, match="no_such_folder"):
        load_images(missing)


def test_a_file_instead_of_a_folder_is_a_data_error(tmp_path):
    path = solid(tmp_path / "one.png")
    with pytest.raises(DataError, match="not a folder"):
        find_images(path)


# --- loading ----------------------------------------------------------------------------------


def test_mixed_folder_loads_every_readable_image_and_warns_once(tmp_path):
    solid(tmp_path / "grey.png", 90, mode="L")
    solid(tmp_path / "rgba.png", (10, 200, 10, 128), mode="RGBA")
    palette = Image.new("P", (20, 24), 1)
    palette.putpalette([0, 0, 0, *BLUE])
    palette.save(tmp_path / "palette.png")
    solid(tmp_path / "nested" / "UPPER.JPG", GREEN)
    solid(tmp_path / "cmyk.jpg", (255, 0, 0, 0), mode="CMYK")  # cyan ink
    Image.fromarray(np.full((24, 20), 65535, np.uint16)).save(tmp_path / "deep16.png")
    solid(tmp_path / "bitmap.bmp", RED)
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "whole.jpg", quality=95)
    jpeg = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no jpeg")
    (tmp_path / "text.png").write_text("a text file with an image name")

    with pytest.warns(UserWarning) as record:
        loaded = load_images(tmp_path, n_samples=0, image_size=16)

    assert isinstance(loaded, ImageSet)
    assert loaded.images.shape == (8, 16, 16, 3)
    assert loaded.images.dtype == np.uint8
    assert (loaded.n_found, loaded.n_skipped, loaded.layout) == (11, 3, "folder")
    names = {p.name for p in loaded.paths}
    assert names.isdisjoint({"truncated.jpg", "corrupt.jpg", "text.png"})
    assert len(names) == 8
    skipped = skipped_warnings(record)
    assert len(skipped) == 1
    message = str(skipped[0].message)
    assert "3" in message and "corrupt.jpg" in message

    by_name = {p.name: img for p, img in zip(loaded.paths, loaded.images, strict=True)}
    assert (by_name["grey.png"] == 90).all()  # grey becomes three equal channels
    assert (by_name["deep16.png"] == 255).all()  # 16-bit white stays white, not clipped junk
    assert tuple(by_name["palette.png"][8, 8]) == BLUE
    cyan = by_name["cmyk.jpg"][8, 8]
    assert cyan[0] < 40 and cyan[1] > 200 and cyan[2] > 200


def test_alpha_is_composited_over_white_for_rgb_and_kept_for_rgba(tmp_path):
    solid(tmp_path / "clear.png", (0, 0, 0, 0), mode="RGBA")  # fully transparent black
    rgb = load_images(tmp_path, n_samples=0, image_size=8, channels=3).images
    assert (rgb == 255).all()
    rgba = load_images(tmp_path, n_samples=0, image_size=8, channels=4).images
    assert rgba.shape == (1, 8, 8, 4)
    assert (rgba[..., 3] == 0).all()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_are_converted_for_every_source_mode(tmp_path, channels):
    solid(tmp_path / "rgb.jpg", GREEN)
    solid(tmp_path / "grey.png", 200, mode="L")
    solid(tmp_path / "rgba.png", (*RED, 255), mode="RGBA")
    images = load_images(tmp_path, n_samples=0, image_size=16, channels=channels).images
    assert images.shape == (3, 16, 16, channels)
    if channels == 4:
        assert (images[..., 3] == 255).all()  # opaque sources stay opaque


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (32, 32), RED)
    im.paste(GREEN, (16, 0, 32, 32))  # stored: red left, green right
    exif = Image.Exif()
    exif[0x0112] = 3  # "rotate 180 to display"
    im.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = load_images(tmp_path, n_samples=0, image_size=16).images[0].astype(int)
    assert image[8, 2, 1] > 150 and image[8, 13, 0] > 150  # shown: green left, red right


def test_celeba_crop_is_the_central_108_square(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    celeba_face().save(folder / "000001.png")
    loaded = load_images(
        tmp_path, n_samples=0, image_size=27
    )  # 108 / 4: the blue frame becomes 3 pixels
    face = loaded.images[0].astype(int)
    assert loaded.layout == "celeba"
    assert (face[..., 0] < 100).all()  # no red background anywhere
    assert face[12:15, 12:15, 1].min() > 150  # green middle
    for edge in (face[0], face[-1], face[:, 0], face[:, -1]):
        assert edge[2:-2, 2].min() > 150  # the blue frame lines every edge


def test_celeba_crop_scales_with_the_image_resolution(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    celeba_face((89, 109)).save(folder / "000001.png")  # half resolution: a 54x54 square
    face = load_images(tmp_path, n_samples=0, image_size=27).images[0].astype(int)
    assert (face[..., 0] < 110).all()
    assert face[12:15, 12:15, 1].min() > 150
    assert face[0, 5:-5, 2].min() > 120 and face[-1, 5:-5, 2].min() > 120


def test_other_folders_get_the_centre_square(tmp_path):
    celeba_face().save(tmp_path / "portrait.png")  # same picture, not in a CelebA layout
    face = load_images(tmp_path, n_samples=0, image_size=178).images[0].astype(int)
    # the centre square of 178x218 is rows 20..198: red shows above and below the face square
    assert tuple(face[10, 89]) == RED and tuple(face[170, 89]) == RED
    assert tuple(face[89, 89]) == GREEN


def test_images_are_in_the_same_order_as_paths(tmp_path):
    numbered_folder(tmp_path, 12)
    loaded = load_images(tmp_path, n_samples=0, image_size=8)
    for path, image in zip(loaded.paths, loaded.images, strict=True):
        assert image[4, 4, 0] == 10 * int(path.stem.split("_")[1])


def test_n_samples_draws_a_seeded_random_subset(tmp_path):
    numbered_folder(tmp_path, 20)
    first = load_images(tmp_path, n_samples=6, image_size=8, seed=1)
    again = load_images(tmp_path, n_samples=6, image_size=8, seed=1)
    other = load_images(tmp_path, n_samples=6, image_size=8, seed=2)
    assert len(first.paths) == 6 and first.images.shape[0] == 6
    assert first.n_found == 20
    assert first.paths == again.paths
    np.testing.assert_array_equal(first.images, again.images)
    assert first.paths != other.paths
    assert first.paths == sorted(first.paths)


def test_asking_for_more_images_than_exist_warns_and_loads_them_all(tmp_path):
    numbered_folder(tmp_path, 5)
    with pytest.warns(UserWarning, match="only 5") as record:
        loaded = load_images(tmp_path, n_samples=50, image_size=8)
    assert "50" in str(record[0].message)
    assert loaded.images.shape[0] == 5


def test_n_samples_zero_loads_everything_silently(tmp_path):
    numbered_folder(tmp_path, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_images(tmp_path, n_samples=0, image_size=8)
    assert loaded.images.shape[0] == 7


def test_nothing_readable_is_a_data_error_naming_the_folder(tmp_path):
    folder = tmp_path / "broken_set"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"garbage")
    (folder / "b.png").write_text("text")
    with pytest.raises(DataError, match="broken_set"):
        load_images(folder, n_samples=0)


def test_a_folder_without_images_is_a_data_error_naming_it(tmp_path):
    folder = tmp_path / "empty_set"
    folder.mkdir()
    (folder / "img_align_celeba.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="empty_set") as error:
        load_images(folder, n_samples=0)
    assert "unzip" in str(error.value)


def test_progress_is_reported_up_to_the_total(tmp_path):
    numbered_folder(tmp_path, 70)
    calls = []
    load_images(
        tmp_path,
        n_samples=0,
        image_size=8,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (70, 70)
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and len(calls) > 1


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"n_samples": -1}, "n_samples"),
        ({"image_size": 0}, "image_size"),
        ({"channels": 2}, "channels"),
    ],
)
def test_bad_load_arguments_are_config_errors(tmp_path, kwargs, word):
    numbered_folder(tmp_path, 2)
    with pytest.raises(ConfigError, match=word):
        load_images(tmp_path, **{"n_samples": 0, **kwargs})


# --- the memmap cache -------------------------------------------------------------------------


def test_cache_is_a_memmap_reused_without_decoding(tmp_path, count_decodes):
    numbered_folder(tmp_path / "faces", 10)
    cache = tmp_path / "cache" / "faces.u8cache"
    first = load_images(tmp_path / "faces", n_samples=0, image_size=8, cache_path=cache)
    assert isinstance(first.images, np.memmap)
    assert cache.exists() and cache.with_name(cache.name + ".json").exists()
    assert len(count_decodes) == 10
    stamp = os.stat(cache).st_mtime_ns

    second = load_images(tmp_path / "faces", n_samples=0, image_size=8, cache_path=cache)
    assert len(count_decodes) == 10  # nothing decoded again
    assert os.stat(cache).st_mtime_ns == stamp
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(first.images, second.images)
    assert second.paths == first.paths
    assert sorted(p.name for p in cache.parent.iterdir()) == ["faces.u8cache", "faces.u8cache.json"]


def test_cache_gives_the_same_pixels_as_loading_into_memory(tmp_path):
    numbered_folder(tmp_path / "faces", 6)
    plain = load_images(tmp_path / "faces", n_samples=0, image_size=8)
    cached = load_images(
        tmp_path / "faces", n_samples=0, image_size=8, cache_path=tmp_path / "c.u8cache"
    )
    np.testing.assert_array_equal(plain.images, np.asarray(cached.images))


def test_cache_is_rebuilt_for_another_size_or_selection(tmp_path, count_decodes):
    numbered_folder(tmp_path / "faces", 10)
    cache = tmp_path / "faces.u8cache"
    load_images(tmp_path / "faces", n_samples=0, image_size=8, cache_path=cache)
    bigger = load_images(tmp_path / "faces", n_samples=0, image_size=12, cache_path=cache)
    assert bigger.images.shape == (10, 12, 12, 3)
    fewer = load_images(tmp_path / "faces", n_samples=4, seed=0, image_size=12, cache_path=cache)
    assert fewer.images.shape == (4, 12, 12, 3)
    assert len(count_decodes) == 10 + 10 + 4


def test_cache_remembers_unreadable_files(tmp_path, count_decodes):
    numbered_folder(tmp_path / "faces", 5)
    (tmp_path / "faces" / "img_002x.png").write_text("not a png")
    cache = tmp_path / "faces.u8cache"
    for _ in range(2):
        with pytest.warns(UserWarning, match="skipped 1 of 6"):
            loaded = load_images(tmp_path / "faces", n_samples=0, image_size=8, cache_path=cache)
        assert loaded.images.shape == (5, 8, 8, 3)
        assert loaded.n_skipped == 1
        assert "img_002x.png" not in {p.name for p in loaded.paths}
        for path, image in zip(loaded.paths, loaded.images, strict=True):
            assert image[4, 4, 0] == 10 * int(path.stem.split("_")[1])
    assert len(count_decodes) == 6


# --- pixel ranges -----------------------------------------------------------------------------


def test_to_float_maps_uint8_onto_minus_one_to_one_and_back():
    pixels = np.arange(256, dtype=np.uint8)
    scaled = to_float(pixels)
    assert scaled.dtype == np.float32
    assert scaled[0] == -1.0 and scaled[255] == 1.0
    np.testing.assert_array_equal(to_uint8(scaled), pixels)


def test_to_uint8_clips_values_outside_the_range():
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 0.0, 2.5])), [0, 128, 255])


# --- the tf.data pipeline ---------------------------------------------------------------------


def id_images(n, size=4):
    """Image i is filled with the value i, so a batch tells which images it holds."""
    return np.repeat(np.arange(n, dtype=np.uint8), size * size).reshape(n, size, size, 1)


def ids_of(element):
    return np.asarray(element)[:, :, 0, 0, 0]


def test_steps_per_epoch_counts_whole_generator_iterations():
    assert steps_per_epoch(100, batch_size=8, n_critic=5) == 2
    assert steps_per_epoch(39, batch_size=8, n_critic=5) == 1  # too few: one, reusing images
    assert steps_per_epoch(0, batch_size=8, n_critic=5) == 0
    with pytest.raises(ConfigError):
        steps_per_epoch(100, batch_size=0, n_critic=5)


def test_fewer_images_than_one_iteration_fill_it_by_reuse_with_one_warning():
    with pytest.warns(UserWarning, match="only 10 images for the 12 one iteration takes"):
        dataset = make_dataset(id_images(10, size=6), batch_size=4, n_critic=3, seed=0)
    elements = list(dataset)
    assert len(elements) == 1 and elements[0].shape == (4, 3, 6, 6, 1)
    ids = ids_of(elements[0]).ravel()
    assert set(ids) == set(range(10))  # every image, two of them twice
    with pytest.raises(ConfigError, match="no images"):
        make_dataset(id_images(10, size=6)[:0], batch_size=4)


def test_dataset_elements_hold_n_critic_uint8_batches():
    dataset = make_dataset(id_images(50, size=6), batch_size=4, n_critic=3, seed=0)
    elements = list(dataset)
    assert len(elements) == steps_per_epoch(50, 4, 3) == 4
    assert dataset.cardinality().numpy() == 4
    for element in elements:
        assert element.shape == (4, 3, 6, 6, 1)
        assert element.dtype == np.uint8


def test_each_epoch_uses_an_image_at_most_once_in_its_own_order():
    dataset = make_dataset(id_images(50), batch_size=4, n_critic=3, seed=0, epochs=2)
    ids = np.concatenate([ids_of(e).ravel() for e in dataset])
    passes = ids.reshape(2, 48)
    for ids_in_pass in passes:
        assert len(set(ids_in_pass.tolist())) == 48
    assert not np.array_equal(passes[0], passes[1])
    # Iterating again replays the same epochs: the order is the data set's, not an iterator's.
    again = np.concatenate([ids_of(e).ravel() for e in dataset])
    np.testing.assert_array_equal(ids, again)


def test_a_resumed_data_set_reads_on_exactly_where_the_run_stopped():
    images, labels = id_images(50), np.arange(50) % 3
    labelled = (id_images(9), np.arange(9))

    def stream(**kwargs):
        found = make_dataset(images, 4, n_critic=3, seed=5, labels=labels, labelled=labelled,
                             **kwargs)  # fmt: skip
        return [{k: v.numpy() for k, v in e.items()} for e in found]

    whole = stream(epochs=3)  # 4 elements per epoch
    resumed = stream(first_epoch=1, epochs=2, skip=3)  # stopped in epoch 2 after 3 iterations
    assert len(whole) == 12 and len(resumed) == 5
    for a, b in zip(whole[7:], resumed, strict=True):
        assert a.keys() == b.keys() == {"images", "labels", "labelled_images", "labelled_labels"}
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(whole[0]["labels"], ids_of(whole[0]["images"]) % 3)


def test_repeated_dataset_reshuffles_every_pass():
    dataset = make_dataset(id_images(24), batch_size=4, n_critic=2, seed=0, repeat=True)
    ids = np.stack([ids_of(e) for e in dataset.take(9)])  # 3 steps per pass, 3 passes
    per_pass = ids.reshape(3, -1)
    for ids_in_pass in per_pass:
        assert sorted(ids_in_pass.tolist()) == list(range(24))
    assert not np.array_equal(per_pass[0], per_pass[1])
    assert not np.array_equal(per_pass[1], per_pass[2])


def test_same_seed_gives_the_same_order_and_another_seed_does_not():
    def first_pass(seed):
        return np.concatenate([ids_of(e) for e in make_dataset(id_images(40), 4, seed=seed)])

    np.testing.assert_array_equal(first_pass(7), first_pass(7))
    assert not np.array_equal(first_pass(7), first_pass(8))


def test_unshuffled_dataset_keeps_file_order_with_critic_batches_on_axis_one():
    dataset = make_dataset(id_images(12), batch_size=2, n_critic=3, shuffle=False)
    first = ids_of(next(iter(dataset)))
    np.testing.assert_array_equal(first, [[0, 1, 2], [3, 4, 5]])


def test_dataset_reads_a_memmap_without_putting_images_in_the_graph(tmp_path):
    images = np.memmap(tmp_path / "m.u8", dtype=np.uint8, mode="w+", shape=(200, 32, 32, 3))
    images[:] = id_images(200, size=32)
    dataset = make_dataset(images, batch_size=8, n_critic=5, seed=1)
    assert len(list(dataset)) == 5
    graph_bytes = len(dataset._as_serialized_graph().numpy())  # the pipeline's GraphDef
    assert graph_bytes < images.nbytes / 100


def resident_kib(path) -> int:
    """Resident size of this process's mapping of path, from /proc/self/smaps."""
    with open("/proc/self/smaps") as smaps:
        inside = False
        for line in smaps:
            if "-" in line.split(" ", 1)[0]:  # a mapping's header line
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                return int(line.split()[1])
    return 0


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc")
@pytest.mark.parametrize("release_every", [1, 2**62])
def test_an_epoch_over_a_memmap_does_not_keep_its_pages_resident(
    tmp_path, monkeypatch, release_every
):
    path = tmp_path / "m.u8"
    written = np.memmap(path, dtype=np.uint8, mode="w+", shape=(400, 32, 32, 3))
    written[:] = id_images(400, size=32)
    written.flush()
    del written
    images = np.memmap(path, dtype=np.uint8, mode="r", shape=(400, 32, 32, 3))
    monkeypatch.setattr(data, "_RELEASE_EVERY", release_every)
    batches = list(make_dataset(images, batch_size=8, n_critic=5, seed=1))
    assert len(batches) == 10
    resident = resident_kib(path)
    if release_every == 1:  # released after every batch: at most the last one stays mapped
        assert resident <= 8 * 5 * 32 * 32 * 3 / 1024 + 8
    else:  # never released: the whole file read once stays mapped
        assert resident >= 0.9 * images.nbytes / 1024


def test_copy_on_write_memmaps_keep_their_pages(tmp_path):
    path = tmp_path / "m.u8"
    np.memmap(path, dtype=np.uint8, mode="w+", shape=(4, 2)).flush()
    private = np.memmap(path, dtype=np.uint8, mode="c", shape=(4, 2))
    assert data._PageRelease(private).map is None  # DONTNEED would drop in-memory edits
    shared = np.memmap(path, dtype=np.uint8, mode="r", shape=(4, 2))
    assert data._PageRelease(shared).map is not None


def test_dataset_rejects_float_images():
    with pytest.raises(ConfigError, match="uint8"):
        make_dataset(np.zeros((20, 4, 4, 3), np.float32), batch_size=2)
