import numpy as np
import pytest
from PIL import Image

import wgan  # noqa: F401  (chooses the TensorFlow backend before anything imports Keras)
from wgan.data import find_images
from wgan.errors import ConfigError, DataError
from wgan.labels import (
    ATTRIBUTE_FILE,
    LabelSet,
    attribute_labels,
    balanced_subset,
    class_folders,
    class_labels,
    find_attribute_file,
    parse_attribute_list,
    parse_attribute_values,
    read_attributes,
)

NAMES = ["5_o_Clock_Shadow", "Eyeglasses", "Male", "Smiling"]
ROWS = {  # the official file's +-1 per attribute, in NAMES order
    "000001.jpg": [-1, -1, -1, 1],
    "000002.jpg": [-1, 1, 1, -1],
    "000003.jpg": [1, -1, 1, 1],
}


def image(path, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 90, 90)).save(path)
    return path


def attribute_file(folder, rows=ROWS, names=NAMES, count=None):
    """list_attr_celeba.txt in the official layout, with its irregular double spaces."""
    lines = [str(len(rows) if count is None else count), " ".join(names) + " "]
    for name, values in rows.items():
        lines.append(name + " " + "".join(f"{v:3d}" for v in values))  # " -1  1": two spaces
    path = folder / ATTRIBUTE_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def celeba(tmp_path):
    root = tmp_path / "img_align_celeba"
    for name in ROWS:
        image(root / name)
    return root


# --- classes ----------------------------------------------------------------------------------


def test_class_folders_follow_the_keras_layout(tmp_path):
    image(tmp_path / "sandals" / "a.png")
    image(tmp_path / "boots" / "deep" / "b.jpg")  # found recursively
    (tmp_path / "notes").mkdir()  # no images: not a class
    image(tmp_path / ".thumbs" / "c.png")  # hidden: not a class
    assert class_folders(tmp_path) == ["boots", "sandals"]


def test_flat_folders_and_loose_images_have_no_classes(tmp_path):
    image(tmp_path / "flat" / "a.png")
    image(tmp_path / "flat" / "b.png")
    assert class_folders(tmp_path / "flat") is None
    image(tmp_path / "mixed" / "top.png")  # loose image in root: not the class layout
    image(tmp_path / "mixed" / "cats" / "a.png")
    image(tmp_path / "mixed" / "dogs" / "b.png")
    assert class_folders(tmp_path / "mixed") is None
    image(tmp_path / "one" / "cats" / "a.png")  # a single class folder is no classification
    assert class_folders(tmp_path / "one") is None
    assert class_folders(tmp_path / "missing") is None


def test_class_labels_follow_each_path(tmp_path):
    for rel in ("cats/a.png", "dogs/x/b.png", "cats/c.png", "emus/d.png"):
        image(tmp_path / rel)
    paths, _ = find_images(tmp_path)
    labels = class_labels(paths, tmp_path)
    assert labels.kind == "class" and labels.names == ["cats", "dogs", "emus"]
    by_file = dict(zip((p.name for p in paths), labels.values.tolist(), strict=True))
    assert by_file == {"a.png": 0, "c.png": 0, "b.png": 1, "d.png": 2}
    assert labels.values.dtype == np.int32
    assert labels.frequencies() == pytest.approx([0.5, 0.25, 0.25])
    sub = labels.subset([0, 3])
    assert sub.values.tolist() == [labels.values[0], labels.values[3]]
    assert sub.names == labels.names and len(sub) == 2


def test_class_labels_need_class_folders(tmp_path):
    paths = [image(tmp_path / "a.png"), image(tmp_path / "b.png")]
    with pytest.raises(DataError, match="one sub-folder per class") as info:
        class_labels(paths, tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "data/boots/*.jpg" in message and "\n" not in message


# --- attributes -------------------------------------------------------------------------------


def test_read_attributes_parses_the_official_format(tmp_path):
    names, table = read_attributes(attribute_file(tmp_path))
    assert names == NAMES
    assert set(table) == set(ROWS)
    assert table["000002.jpg"].tolist() == [-1, 1, 1, -1]
    assert table["000001.jpg"].dtype == np.int8


@pytest.mark.parametrize(
    "edit, line",
    [
        (lambda lines: lines.__setitem__(3, "000002.jpg  -1  1  1"), 4),  # a value short
        (lambda lines: lines.__setitem__(4, "000003.jpg   1  0  1  1"), 5),  # 0 is not +-1
        (lambda lines: lines.__setitem__(2, "000001.jpg  -1  x  1  1"), 3),
        (lambda lines: lines.__setitem__(0, "many"), 1),
        (lambda lines: lines.pop(), 1),  # truncated: fewer rows than line 1 announces
    ],
)
def test_malformed_attribute_files_name_the_line(tmp_path, edit, line):
    path = attribute_file(tmp_path)
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        read_attributes(path)
    assert f"{path} line {line}" in str(info.value)


def test_attribute_file_is_found_beside_img_align_celeba(tmp_path):
    root = celeba(tmp_path)
    assert find_attribute_file(root) is None
    attribute_file(tmp_path)
    assert find_attribute_file(root) == tmp_path / ATTRIBUTE_FILE  # root is img_align_celeba
    assert find_attribute_file(tmp_path) == tmp_path / ATTRIBUTE_FILE  # root holds it
    other = tmp_path / "faces"
    other.mkdir()
    assert find_attribute_file(other) is None  # only img_align_celeba looks one level up


def test_kaggle_csv_in_the_nested_layout(tmp_path):
    root = tmp_path / "img_align_celeba" / "img_align_celeba"
    for name in ROWS:
        image(root / name)
    lines = ["image_id," + ",".join(NAMES)]
    lines += [name + "," + ",".join(map(str, values)) for name, values in ROWS.items()]
    (tmp_path / "list_attr_celeba.csv").write_text("\r\n".join(lines) + "\r\n")
    assert find_attribute_file(root) == tmp_path / "list_attr_celeba.csv"
    paths, _ = find_images(tmp_path)
    labels = attribute_labels(paths, tmp_path, ["Eyeglasses"])
    assert labels.values.tolist() == [[0], [1], [0]]


def test_attribute_labels_in_the_wanted_order(tmp_path):
    root = celeba(tmp_path)
    attribute_file(tmp_path)
    paths, _ = find_images(root)
    labels = attribute_labels(paths, root, ["Smiling", "Male"])
    assert labels.kind == "attributes" and labels.names == ["Smiling", "Male"]
    assert labels.values.dtype == np.float32
    assert labels.values.tolist() == [[1, 0], [0, 1], [1, 1]]
    assert labels.frequencies() == pytest.approx([2 / 3, 2 / 3])
    assert labels.subset([2]).values.tolist() == [[1, 1]]


def test_attribute_labels_explain_what_is_wrong(tmp_path):
    root = celeba(tmp_path)
    paths, _ = find_images(root)
    with pytest.raises(DataError, match=ATTRIBUTE_FILE) as info:
        attribute_labels(paths, root, ["Smiling"])
    assert str(root) in str(info.value) and "img_align_celeba/" in str(info.value)

    attribute_file(tmp_path)
    with pytest.raises(DataError) as info:
        attribute_labels(paths, root, ["Smilling"])
    message = str(info.value)
    assert "Smilling" in message and ", ".join(NAMES) in message and "Smiling?" in message

    image(root / "999999.jpg")
    paths, _ = find_images(root)
    with pytest.raises(DataError, match=r"1 of 4 images .*999999\.jpg"):
        attribute_labels(paths, root, ["Smiling"])


def test_parse_attribute_list():
    assert parse_attribute_list("Smiling, Male") == ["Smiling", "Male"]
    assert parse_attribute_list("Eyeglasses") == ["Eyeglasses"]
    for bad in ("", "  ", "Smiling,,Male", "Smiling, Smiling", "Smiling Male"):
        with pytest.raises(ConfigError, match="--attributes"):
            parse_attribute_list(bad)


def test_parse_attribute_values():
    parse = parse_attribute_values
    assert parse("Smiling=1,Eyeglasses=0", NAMES) == {"Smiling": 1.0, "Eyeglasses": 0.0}
    assert parse("Male = yes, Smiling=-1, Eyeglasses=Off", NAMES) == {
        "Male": 1.0,
        "Smiling": 0.0,
        "Eyeglasses": 0.0,
    }
    assert parse("Male=true,Smiling=on,Eyeglasses=false", NAMES) == {
        "Male": 1.0,
        "Smiling": 1.0,
        "Eyeglasses": 0.0,
    }
    with pytest.raises(ConfigError) as info:
        parse("Beard=1", NAMES)
    assert "Beard" in str(info.value) and ", ".join(NAMES) in str(info.value)
    for bad in ("Smiling", "Smiling=2", "=1", "Smiling=1,", ""):
        with pytest.raises(ConfigError, match="--attributes") as info:
            parse(bad, NAMES)
        assert "NAME=1|0" in str(info.value)


# --- labelled subsets -------------------------------------------------------------------------


def test_balanced_subset_is_balanced_and_seeded():
    values = np.repeat(np.arange(4), [30, 20, 25, 40]).astype(np.int32)
    picked = balanced_subset(values, 10, seed=1)
    assert picked.dtype == np.int64 and len(picked) == 10 and len(set(picked.tolist())) == 10
    assert (np.diff(picked) > 0).all()
    counts = np.bincount(values[picked], minlength=4)
    assert sorted(counts.tolist()) == [2, 2, 3, 3]  # 10 // 4 each, the 2 left over spread
    assert np.array_equal(picked, balanced_subset(values, 10, seed=1))
    assert not np.array_equal(picked, balanced_subset(values, 10, seed=2))
    assert np.bincount(values[balanced_subset(values, 80, 0)]).tolist() == [20, 20, 20, 20]


def test_balanced_subset_refuses_what_it_cannot_balance():
    values = np.repeat(np.arange(3), [5, 2, 5])
    for n, words in ((2, "fewer than the 3 classes"), (13, "more than the 12"), (9, "class 1")):
        with pytest.raises(ConfigError, match="--labelled") as info:
            balanced_subset(values, n, seed=0)
        assert words in str(info.value)
    assert len(balanced_subset(values, 6, seed=0)) == 6


def test_label_set_frequencies_of_an_empty_set():
    empty = LabelSet(np.zeros(0, np.int32), ["a", "b"], "class")
    assert empty.frequencies() == [0.0, 0.0]
    with pytest.raises(ConfigError):
        LabelSet(np.zeros(0, np.int32), [], "colour")
