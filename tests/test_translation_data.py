"""Where image-to-image runs get their images: pairs side by side or matched by name, two domain
folders, a CelebA attribute split, edge maps and the demo tasks; and their batches."""

import warnings

import numpy as np
import pytest
from PIL import Image

from wgan.config import TrainConfig
from wgan.data import make_pair_dataset
from wgan.demo_faces import draw_faces
from wgan.errors import DataError
from wgan.pairs import Domains, edge_maps
from wgan.sources import load_training_data


def config(model="pix2pix", **values) -> TrainConfig:
    base = {"model": model, "image_size": 16, "n_samples": 0, "held_out": 0.25,
            "norm": "batch" if model == "pix2pix" else "instance"}  # fmt: skip
    return TrainConfig(**{**base, **values}).validate()


def load(cfg, folder):
    return load_training_data(cfg, str(folder), "unused", None).domains


def side_by_side(root, n=8, odd=0):
    root.mkdir(parents=True)
    for i in range(n):
        pair = np.zeros((20, 40, 3), np.uint8)
        pair[:, :20] = 50
        pair[:, 20:] = 200
        Image.fromarray(pair).save(root / f"{i:02d}.png")
    for i in range(odd):
        Image.new("RGB", (41, 20), 90).save(root / f"odd_{i}.png")
    return root


def test_side_by_side_pairs_split_into_input_and_target_and_swap_with_the_direction(tmp_path):
    folder = side_by_side(tmp_path / "pairs", odd=1)
    with pytest.warns(UserWarning, match="skipped 1 of 9"):
        domains = load(config(), folder)
    assert domains.paired and len(domains.train_a) == 6 and len(domains.test_a) == 2
    assert np.all(domains.train_a == 50) and np.all(domains.train_b == 200)
    with pytest.warns(UserWarning):
        swapped = load(config(direction="BtoA"), folder)
    assert np.all(swapped.train_a == 200) and np.all(swapped.test_b == 50)


def test_folders_matched_by_name_skip_lonely_names_and_size_mismatches_in_one_warning(tmp_path):
    for side, grey in (("A", 60), ("B", 180)):
        (tmp_path / side).mkdir()
        for i in range(6):
            Image.new("RGB", (20, 20), grey + i).save(tmp_path / side / f"{i}.png")
    Image.new("RGB", (20, 20), 1).save(tmp_path / "A" / "lonely.png")
    Image.new("RGB", (30, 20), 1).save(tmp_path / "B" / "5.png")  # its partner is 20x20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        domains = load(config(), tmp_path)
    messages = [str(w.message) for w in caught if "pairs in" in str(w.message)]
    assert len(messages) == 1
    assert "1 names without a partner, 1 pairs whose images differ in size" in messages[0]
    pairs = np.concatenate([domains.train_a, domains.test_a]), np.concatenate(
        [domains.train_b, domains.test_b])  # fmt: skip
    assert len(pairs[0]) == 5
    assert np.array_equal(pairs[0][..., 0] + 120, pairs[1][..., 0])  # each input with its target


def test_square_images_given_as_pairs_are_one_line(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (20, 20), 80).save(folder / f"{i}.png")
    with pytest.raises(DataError, match="not hold side-by-side pairs.*--pairs edges"):
        load(config(), folder)
    (tmp_path / "A").mkdir(), (tmp_path / "B").mkdir()
    Image.new("RGB", (20, 20), 80).save(tmp_path / "A" / "x.png")
    Image.new("RGB", (20, 20), 80).save(tmp_path / "B" / "y.png")
    with pytest.raises(DataError, match="no pairs in .*none of the 1 names"):
        load(config(), tmp_path)


def test_unpaired_domain_folders_and_an_empty_one(tmp_path):
    for side, n in (("trainA", 8), ("trainB", 12)):
        (tmp_path / side).mkdir()
        for i in range(n):
            Image.new("L", (20, 20), 30 if side == "trainA" else 220).save(
                tmp_path / side / f"{i}.png")  # fmt: skip
    domains = load(config("cyclegan"), tmp_path)
    assert not domains.paired
    assert (len(domains.train_a), len(domains.test_a)) == (6, 2)
    assert (len(domains.train_b), len(domains.test_b)) == (9, 3)
    assert np.all(domains.train_a < 40) and np.all(domains.train_b > 200)
    for path in (tmp_path / "trainB").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="trainB"):
        load(config("cyclegan"), tmp_path)


def celeba(root, rows):
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    lines = [str(len(rows)), "Black_Hair Blond_Hair Smiling"]
    for i, (black, blond) in enumerate(rows, start=1):
        name = f"{i:06d}.jpg"
        Image.new("RGB", (89, 109), (200, 180, 90) if blond else (20, 20, 20)).save(images / name)
        lines.append(f"{name}  {1 if black else -1} {1 if blond else -1} -1")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def test_an_attribute_split_leaves_faces_with_both_attributes_out(tmp_path):
    rows = [(0, 1)] * 5 + [(1, 0)] * 7 + [(1, 1)] * 3 + [(0, 0)] * 2
    folder = celeba(tmp_path, rows)
    cfg = config("cyclegan", domain_a="Blond_Hair", domain_b="Black_Hair")
    loaded = load_training_data(cfg, str(folder), "unused", None)
    domains = loaded.domains
    assert len(domains.train_a) + len(domains.test_a) == 5
    assert len(domains.train_b) + len(domains.test_b) == 7
    assert any("3 with both belong to neither" in note for note in loaded.notes)
    with pytest.raises(DataError, match="'Blnd_Hair' in --domain-a/--domain-b"):
        load(config("cyclegan", domain_a="Blnd_Hair", domain_b="Black_Hair"), folder)


def test_edge_maps_are_dark_lines_on_white_and_keep_the_channels():
    faces = draw_faces(4, 64, 3, seed=0)
    edges = edge_maps(faces)
    assert edges.shape == faces.shape and edges.dtype == np.uint8
    share_dark = float(np.mean(edges[..., 0] == 0))
    assert 0.02 < share_dark < 0.4 and np.all((edges == 0) | (edges == 255))
    assert np.array_equal(edges[..., 0], edges[..., 2])


def test_demo_tasks_pair_edges_with_faces_and_split_hair_colours():
    pix = load_training_data(config(n_samples=40, image_size=32), None, "missing", None).domains
    assert pix.paired and np.array_equal(edge_maps(pix.train_b), pix.train_a)
    cyc = load_training_data(config("cyclegan", n_samples=40, image_size=32), None, "missing",
                             None).domains  # fmt: skip
    assert cyc.names == ("blond hair", "black hair")
    assert cyc.train_a.mean() > cyc.train_b.mean() + 5  # the blond faces are lighter


def test_pair_batches_keep_each_input_with_its_target_and_unpaired_epochs_span_the_larger():
    a = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * np.ones((1, 4, 4, 3), np.uint8)
    b = a + 100
    batches = list(make_pair_dataset(a, b, 2, n_critic=2, seed=0))
    assert len(batches) == 3
    for batch in batches:
        assert np.array_equal(batch["inputs"].numpy() + 100, batch["images"].numpy())
    unpaired = list(make_pair_dataset(a[:5], b, 2, seed=0, paired=False))
    assert len(unpaired) == 6  # 12 // 2: the larger domain sets the epoch
    seen_a = np.concatenate([x["inputs"].numpy()[:, 0, 0, 0, 0] for x in unpaired])
    assert set(seen_a) <= set(range(5)) and len(set(seen_a)) == 5


def test_with_no_data_celeba_faces_give_pix2pix_edges_and_cyclegan_the_demo_task(tmp_path):
    default = tmp_path / "celeba-dataset"
    default.mkdir()
    for i in range(8):
        Image.new("RGB", (20, 20), (40 * (i % 4), 90, 90)).save(default / f"{i}.png")
    cfg = config()
    loaded = load_training_data(cfg, None, default, None)
    assert cfg.pairs == "edges" and np.array_equal(edge_maps(loaded.domains.train_b),
                                                   loaded.domains.train_a)  # fmt: skip
    cyc = config("cyclegan", n_samples=8)
    loaded = load_training_data(cyc, None, default, None)
    assert loaded.source == "demo" and any("demo task" in note for note in loaded.notes)


def test_an_unpaired_epoch_is_a_pass_over_the_larger_domain(tmp_path):
    from wgan.run_folder import RunFolder
    from wgan.trainer import open_session

    cfg = config("cyclegan", image_size=16, filters=4, batch_size=2, n_critic=1)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8) for n in (12, 5))
    domains = Domains(a, b, a[:2], b[:2], paired=False, names=("A", "B"))
    session = open_session(cfg, b, RunFolder(tmp_path), domains=domains)
    assert session.plan.steps_per_epoch == 6
    assert len(list(session.dataset(first_epoch=0, epochs=1))) == 6
