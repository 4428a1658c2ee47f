"""Models that use labels: cGAN, AC-GAN, InfoGAN and SGAN through train.py, generate.py and
evaluate.py, and the label path through the loader, the cache and the batches."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import wgan  # noqa: F401
from wgan.build import build_gan
from wgan.config import TrainConfig
from wgan.data import make_dataset
from wgan.heads import MutualInformation
from wgan.presets import resolve
from wgan.run_folder import SAMPLE_LABELS, RunFolder, sample_labels
from wgan.sources import load_training_data
from wgan.trainer import training_rows

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = ["--n-samples", "128", "--image-size", "16", "--filters", "8", "--latent-dim", "8",
        "--batch-size", "16", "--epochs", "2", "--eval-every", "2", "--eval-samples", "32",
        "--precision", "float32", "--no-cache"]  # fmt: skip


def class_folder(root: Path, counts=(12, 12), size=20, broken: str | None = None) -> Path:
    """Class k's images are flat grey k * 100 + 20, so a label can be checked from pixels."""
    for k, n in enumerate(counts):
        folder = root / f"class_{'ab'[k]}"
        folder.mkdir(parents=True)
        for i in range(n):
            Image.new("L", (size, size), k * 100 + 20).save(folder / f"{i:03d}.png")
    if broken:
        (root / broken).write_bytes(b"not an image")
    return root


def celeba_folder(root: Path, n=12) -> Path:
    """img_align_celeba/ plus the official attribute file: Smiling on odd images."""
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    lines = [str(n), "Eyeglasses Smiling"]
    for i in range(1, n + 1):
        name = f"{i:06d}.jpg"
        Image.new("RGB", (89, 109), (200 if i % 2 else 40, 90, 90)).save(images / name)
        lines.append(f"{name}  -1 {1 if i % 2 else -1}")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def label_config(model="cgan", **values) -> TrainConfig:
    base = {"model": model, "image_size": 16, "channels": 1, "filters": 8, "latent_dim": 8,
            "n_samples": 0, "batch_size": 4, "loss": "nonsaturating", "penalty": "none",
            "n_critic": 1, "norm": "layer", "optimizer": "adam", "lr": 2e-4}  # fmt: skip
    return TrainConfig(**{**base, **values}).validate()


# -- the label path through the loader, the cache and the batches ----------------------------------
def test_class_folder_labels_survive_the_cache_and_a_skipped_file(tmp_path):
    data = class_folder(tmp_path / "data", broken="class_b/zz_broken.png")
    config = label_config(data=str(data))
    for _ in range(2):  # decode into the cache, then read it back
        with pytest.warns(UserWarning, match="skipped 1"):
            loaded = load_training_data(config, None, tmp_path, cache_dir=tmp_path / "cache")
        assert loaded.labels.names == ["class_a", "class_b"]
        grey = np.asarray(loaded.images)[:, 0, 0, 0]
        np.testing.assert_array_equal(grey, loaded.labels.values * 100 + 20)
    assert len(loaded.images) == 24


def test_celeba_attributes_follow_their_file(tmp_path):
    data = celeba_folder(tmp_path / "celeba")
    config = label_config(data=str(data), attributes="Smiling", channels=3)
    loaded = load_training_data(config, None, tmp_path, cache_dir=tmp_path / "cache")
    red = np.asarray(loaded.images)[:, 8, 8, 0]
    assert loaded.labels.kind == "attributes" and loaded.labels.names == ["Smiling"]
    np.testing.assert_array_equal(loaded.labels.values[:, 0] == 1, red > 120)
    loaded.describe_labels(config)
    assert config.label_frequencies == [0.5]


def test_digits_come_with_their_classes_and_honour_n_samples():
    config = label_config(data="digits", n_samples=100, image_size=28)
    loaded = load_training_data(config, None, ".")
    assert loaded.images.shape == (100, 28, 28, 1) and len(loaded.labels) == 100
    assert set(np.unique(loaded.labels.values)) <= set(range(10))


def test_labels_travel_with_their_images_through_grouped_batches():
    images = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None, None], 4, axis=1)
    images = np.broadcast_to(images.reshape(40, 2, 2, 1), (40, 2, 2, 1)).copy()
    labels = np.arange(40, dtype=np.int32)
    for element in make_dataset(images, 4, n_critic=2, seed=1, labels=labels):
        assert element["labels"].shape == (4, 2)
        np.testing.assert_array_equal(element["images"][:, :, 0, 0, 0], element["labels"])


def test_the_labelled_stream_of_sgan_keeps_image_and_label_together():
    images = np.arange(30, dtype=np.uint8).reshape(30, 1, 1, 1)
    labels = np.arange(30, dtype=np.int32) % 10
    chosen = np.arange(10)
    dataset = make_dataset(images, 4, seed=0, indices=np.arange(10, 30),
                           labelled=(images[chosen], labels[chosen]))  # fmt: skip
    seen = set()
    for element in dataset:
        assert np.all(element["images"].numpy() >= 10)  # the unlabelled rest only
        np.testing.assert_array_equal(element["labelled_images"][:, 0, 0, 0] % 10,
                                      element["labelled_labels"])  # fmt: skip
        seen.update(element["labelled_images"][:, 0, 0, 0].numpy().tolist())
    assert seen <= set(range(10))


def test_sgan_labelled_subset_is_class_balanced_disjoint_and_seeded():
    config = label_config("sgan", data="digits", labelled=20, n_samples=200)
    loaded = load_training_data(config, None, ".")
    rows = training_rows(config, len(loaded.images), loaded.labels)
    counts = np.bincount(loaded.labels.values[rows.labelled], minlength=10)
    assert counts.tolist() == [2] * 10
    assert not set(rows.labelled) & set(rows.unlabelled)
    assert len(rows.labelled) + len(rows.unlabelled) == 200
    again = training_rows(config, len(loaded.images), loaded.labels)
    np.testing.assert_array_equal(rows.labelled, again.labelled)
    config.seed = 1
    other = training_rows(config, len(loaded.images), loaded.labels)
    assert not np.array_equal(rows.labelled, other.labelled)


# -- the parts -----------------------------------------------------------------------------------
def test_infogan_mutual_information_loss_moves_generator_and_q():
    config = label_config("infogan", categories=4, continuous_codes=2)
    model = build_gan(config)
    head = next(h for h in model.heads if isinstance(h, MutualInformation))
    latent = model.sample_latent(8)
    with tf.GradientTape(persistent=True) as tape:
        fake = model.generator(latent, training=True)
        outputs = model.critic_outputs(fake, None, training=True)
        loss, _ = head.critic_loss({}, outputs, {}, latent, None)
    generator_grads = tape.gradient(loss, model.generator.trainable_variables)
    q = [v for v in model.critic.trainable_variables if v.path.startswith(("q_", "codes"))]
    q_grads = tape.gradient(loss, q)
    assert q and all(float(tf.reduce_max(tf.abs(g))) > 0 for g in q_grads)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in generator_grads if g is not None)


def test_a_conditional_wgan_gp_is_flags_away_from_the_cgan_preset():
    config = resolve({}, "cgan", {"loss": "wasserstein", "penalty": "gp", "data": "digits"})
    config.label_kind, config.classes = "class", [str(d) for d in range(10)]
    config.image_size, config.filters, config.batch_size = 16, 8, 4
    model = build_gan(config)
    assert model.critic_takes_labels and model.generator_takes_labels
    batch = {"images": np.zeros((4, 1, 16, 16, 1), np.uint8),
             "labels": np.zeros((4, 1), np.int32)}  # fmt: skip
    values = model.train_step(batch)
    assert np.isfinite(float(values["gradient_penalty"]))


@pytest.mark.parametrize("model,loss", [("sgan", "hinge"), ("infogan", "wasserstein")])
def test_models_defined_with_one_loss_refuse_the_others(model, loss):
    with pytest.raises(wgan.errors.ConfigError, match=f"--loss {loss}"):
        resolve({}, model, {"loss": loss})


# -- the scripts -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, run):
    """One tiny run per model on the built-in digits, through train.py."""
    root = tmp_path_factory.mktemp("label-runs")
    runs = {}
    for model in ("cgan", "acgan", "infogan", "sgan"):
        extra = ["--labelled", "20", "--categories", "4"]
        result = run("train.py", "--preset", model, "--run-dir", root / model, *TINY, *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        runs[model] = root / model
    return runs


@pytest.mark.parametrize("model", ["cgan", "acgan", "infogan", "sgan"])
def test_each_label_model_trains_two_epochs_through_train_py(trained, model):
    folder = RunFolder(trained[model])
    config = json.loads(folder.config.read_text())
    assert config["model"] == model and config["classes"] == [str(d) for d in range(10)]
    rows = folder.metrics.read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    header = rows[0].split(",")
    wanted = {"cgan": [], "acgan": ["class_loss_real", "generator_class_loss"],
              "infogan": ["info_loss", "generator_info_loss"],
              "sgan": ["supervised_loss", "supervised_accuracy"]}[model]  # fmt: skip
    assert all(name in header for name in wanted)
    assert folder.generator_model.is_file()
    assert folder.classifier_model.is_file() == (model == "sgan")


def test_grids_of_a_conditional_run_have_a_row_per_class_with_labels(trained):
    samples = RunFolder(trained["cgan"]).epoch_samples(2)
    labels = sample_labels(samples)
    assert (samples / SAMPLE_LABELS).is_file()
    # 64 grid samples over 10 classes: 6 columns, one row per class
    assert list(labels.values()) == [str(k) for k in range(10) for _ in range(6)]


def test_generate_with_a_label_writes_that_class_reproducibly(trained, tmp_path, run):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        result = run("generate.py", trained["cgan"], "--label", "7", "--num", "10", "--seed", "1",
                     "--out", out)  # fmt: skip
        assert result.returncode == 0, result.stderr
    labels = json.loads((outs[0] / "labels.json").read_text())
    assert len(labels) == 10 and set(labels.values()) == {"7"}
    for name in labels:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


def test_infogan_traverse_writes_a_grid_per_continuous_code(trained, tmp_path, run):
    result = run("generate.py", trained["infogan"], "--traverse", "--seed", "0", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    grid = np.asarray(Image.open(tmp_path / "traverse_code2.png"))
    assert grid.shape[0] == 4 * 18 + 2 and grid.shape[1] == 9 * 18 + 2  # 4 categories x 9 values


@pytest.mark.parametrize(
    "args,mentions",
    [
        (["--label", "eleven"], "classes: 0, 1"),
        (["--attributes", "Smiling=1"], "CelebA attributes"),
        (["--traverse"], "InfoGAN"),
    ],
)
def test_generate_bad_labels_are_one_line(trained, tmp_path, args, mentions, run):
    result = run("generate.py", trained["cgan"], "--out", tmp_path, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0], result.stderr


def test_bad_label_input_to_train_is_one_line(tmp_path, run):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(8):
        Image.new("L", (20, 20), i).save(flat / f"{i}.png")
    celeba = celeba_folder(tmp_path / "celeba")
    cases = [
        (["--preset", "cgan", "--data", flat], "no class folders"),
        (["--preset", "cgan", "--data", celeba, "--attributes", "Smilling"], "did you mean"),
        (["--preset", "sgan", "--n-samples", "50", "--labelled", "100"], "--labelled 100"),
        (["--preset", "sgan", "--loss", "hinge"], "--loss nonsaturating"),
        (["--preset", "infogan", "--attributes", "Smiling"], "--attributes"),
    ]
    for args, mentions in cases:
        result = run("train.py", *args, "--run-dir", tmp_path / "run", "--no-cache")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (args, result.stderr[-1500:])
        assert mentions in lines[0], (args, lines[0])
        assert not (tmp_path / "run").exists()


def test_sonify_says_the_label_of_each_sample(trained, load_script):
    sonify = load_script("sonify")
    samples = RunFolder(trained["cgan"]).epoch_samples(2)
    labels = sample_labels(samples)
    assert sonify.said_label(labels, samples / "sample_07.png") == "label 1, "
    assert sonify.said_label({}, samples / "sample_07.png") == ""


def noisy_class_folder(root: Path, per_class=20) -> Path:
    """Two classes a judge tells apart (dark or bright), with noise so each class varies."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(("dark", "bright")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(60 + 130 * k, 25, (16, 16)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / name / f"{i:03d}.png")
    return root


@pytest.mark.parametrize("model", ["cgan", "sgan"])
def test_evaluate_judges_a_label_run_with_an_independent_classifier(tmp_path, run, model):
    data = noisy_class_folder(tmp_path / "data")
    small = ["--data", data, "--n-samples", "0", "--image-size", "16", "--channels", "1",
             "--filters", "8", "--latent-dim", "8", "--batch-size", "8", "--epochs", "1",
             "--eval-every", "0", "--labelled", "4", "--no-cache"]  # fmt: skip
    result = run("train.py", "--preset", model, *small, "--run-dir", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-2000:]
    result = run("evaluate.py", tmp_path / "run", "--per-class", "8",
                 "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "held-out accuracy" in result.stdout
    figures = json.loads((tmp_path / "run" / "conditioning.json").read_text())
    assert 0.5 <= figures["judge"]["accuracy"] <= 1.0
    if model == "cgan":
        assert figures["generated"] == 16 and 0 <= figures["label_accuracy"] <= 1
        assert set(figures["per_class_accuracy"]) == {"bright", "dark"}
        assert figures["diversity_ratio_min"] >= 0
    else:
        assert 0 <= figures["classifier_accuracy"] <= 1 and figures["labelled"] == 4
        assert 0 <= figures["labelled_only_accuracy"] <= 1
    again = run("evaluate.py", tmp_path / "run", "--per-class", "8",
                "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert "cached classifier" in again.stdout  # one judge per data set, trained once


def test_attribute_runs_train_resume_and_generate_what_is_asked(tmp_path, run):
    data = celeba_folder(tmp_path / "celeba", n=16)
    small = ["--data", data, "--attributes", "Smiling,Eyeglasses", "--n-samples", "0",
             "--image-size", "16", "--channels", "3", "--filters", "8", "--latent-dim", "8",
             "--batch-size", "8", "--eval-every", "0", "--no-cache"]  # fmt: skip
    result = run("train.py", "--preset", "acgan", *small, "--epochs", "1",
                 "--run-dir", tmp_path / "run")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    result = run("train.py", "--resume", tmp_path / "run", "--epochs", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    folder = RunFolder(tmp_path / "run")
    assert [line.split(",")[0] for line in folder.metrics.read_text().splitlines()[1:]] == [
        "1", "2"]  # fmt: skip
    config = json.loads(folder.config.read_text())
    assert config["classes"] == ["Smiling", "Eyeglasses"] and config["label_frequencies"][0] == 0.5
    grid_labels = list(sample_labels(folder.epoch_samples(2)).values())
    assert grid_labels[0] == "Smiling off" and "Eyeglasses on" in grid_labels
    result = run("generate.py", tmp_path / "run", "--attributes", "Smiling=1,Eyeglasses=no",
                 "--num", "6", "--seed", "0", "--out", tmp_path / "out")  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out" / "labels.json").read_text())
    assert list(written.values()) == ["Smiling"] * 6


def test_generate_finds_the_last_checkpoint_of_a_run_given_by_a_relative_path(
    trained, tmp_path, monkeypatch, run
):
    monkeypatch.chdir(trained["cgan"].parent)
    result = run("generate.py", "cgan", "--label", "3", "--num", "2", "--seed", "0",
                 "--out", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "checkpoint last (epoch 2)" in result.stdout  # not the generator.keras fallback
