import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import wgan  # noqa: F401
from wgan.errors import ConfigError
from wgan.gan import WARMUP_CRITIC_UPDATES, WGAN
from wgan.models import build_critic, build_generator

SIZE, LATENT, BATCH = 16, 8, 4


def make_wgan(n_critic=3, **kwargs):
    critic = build_critic(SIZE, 3, filters=8)
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    model = WGAN(critic, generator, latent_dim=LATENT, n_critic=n_critic, seed=1, **kwargs)
    model.compile()
    return model


def real_groups(steps, n_critic, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (steps * BATCH, n_critic, SIZE, SIZE, 3), dtype=np.uint8)


def snapshot(model):
    return [w.numpy().copy() for w in model.weights]


def test_one_step_makes_n_critic_critic_updates_per_generator_update():
    model = make_wgan(n_critic=3)
    data = tf.data.Dataset.from_tensor_slices(real_groups(2, 3)).batch(BATCH)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(model.generator_optimizer.iterations.numpy()) == 2
    assert int(model.critic_optimizer.iterations.numpy()) == 6


def test_train_step_returns_the_five_metrics_and_they_agree():
    model = make_wgan(n_critic=2)
    logs = model.train_step(tf.constant(real_groups(1, 2)))
    assert set(logs) == {
        "critic_loss",
        "critic_real",
        "critic_fake",
        "generator_loss",
        "wasserstein_estimate",
    }
    values = {k: float(v) for k, v in logs.items()}
    assert all(np.isfinite(v) for v in values.values())
    assert values["wasserstein_estimate"] == pytest.approx(-values["critic_loss"], abs=1e-7)
    assert values["wasserstein_estimate"] == pytest.approx(
        values["critic_real"] - values["critic_fake"], abs=1e-7
    )


def test_plain_image_batches_also_train_with_n_critic_updates():
    model = make_wgan(n_critic=3)
    images = np.random.default_rng(0).integers(0, 256, (8, SIZE, SIZE, 3), dtype=np.uint8)
    model.fit(images, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    assert int(model.generator_optimizer.iterations.numpy()) == 2
    assert int(model.critic_optimizer.iterations.numpy()) == 6


def test_each_critic_update_gets_its_own_fresh_real_batch():
    model = make_wgan(n_critic=4)
    seen = []
    original = model._critic_update

    def spy(real):
        seen.append(float(tf.reduce_mean(real)))
        return original(real)

    model._critic_update = spy
    groups = np.zeros((BATCH, 4, SIZE, SIZE, 3), np.uint8)
    for k in range(4):
        groups[:, k] = 40 * (k + 1)  # group k is one flat grey level
    model.train_step(tf.constant(groups))  # eager: the spy sees every update
    assert seen == pytest.approx([40 * (k + 1) / 127.5 - 1 for k in range(4)], abs=1e-5)


def test_critic_weights_stay_within_the_clip_range_after_updates():
    model = make_wgan(n_critic=2)
    data = tf.data.Dataset.from_tensor_slices(real_groups(5, 2)).batch(BATCH)
    before = [w.numpy().copy() for w in model.critic.trainable_weights]
    model.fit(data, epochs=2, verbose=0, shuffle=False)
    after = [w.numpy() for w in model.critic.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    for w in after:
        assert np.abs(w).max() <= 0.01 + 1e-7


def test_generator_update_leaves_every_critic_weight_untouched():
    model = make_wgan()
    critic_before = [w.numpy().copy() for w in model.critic.weights]  # incl. BatchNorm stats
    generator_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    tf.function(model._generator_update)(tf.constant(BATCH))
    for before, w in zip(critic_before, model.critic.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy(), err_msg=w.path)
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(generator_before, model.generator.trainable_weights, strict=True)
    ]
    assert any(changed)
    assert int(model.critic_optimizer.iterations.numpy()) == 0


def test_warmup_schedule_runs_100_critic_updates_on_the_first_iteration():
    model = make_wgan(n_critic=2, warmup=True)
    data = tf.data.Dataset.from_tensor_slices(real_groups(1, 2)).batch(BATCH)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert int(model.critic_optimizer.iterations.numpy()) == WARMUP_CRITIC_UPDATES


def test_latent_vectors_follow_the_chosen_distribution():
    uniform = np.asarray(make_wgan().sample_latent(2000))
    assert uniform.min() >= 0.0 and uniform.max() <= 1.0
    assert uniform.mean() == pytest.approx(0.5, abs=0.02)
    normal = np.asarray(make_wgan(latent_distribution="normal").sample_latent(2000))
    assert normal.min() < 0 and normal.std() == pytest.approx(1.0, abs=0.05)


def test_invalid_settings_are_rejected():
    critic = build_critic(SIZE, 3, filters=8)
    generator = build_generator(SIZE, 3, latent_dim=LATENT, filters=8)
    with pytest.raises(ConfigError, match="n_critic"):
        WGAN(critic, generator, latent_dim=LATENT, n_critic=0)
    with pytest.raises(ConfigError, match="latent distribution"):
        WGAN(critic, generator, latent_dim=LATENT, latent_distribution="cauchy")


MIRRORED = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import wgan
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from wgan.config import TrainConfig
    from wgan.trainer import build_wgan
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = TrainConfig(image_size=16, filters=8, latent_dim=8, n_critic=2, batch_size=8)
    with strategy.scope():
        model = build_wgan(config)
    x = np.random.default_rng(0).integers(0, 256, (24, 2, 16, 16, 3), dtype=np.uint8)
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)
    history = model.fit(data, epochs=2, verbose=0, shuffle=False)
    assert strategy.num_replicas_in_sync == 2
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert int(model.generator_optimizer.iterations.numpy()) == 6
    assert int(model.critic_optimizer.iterations.numpy()) == 12
    largest = max(float(np.abs(w.numpy()).max()) for w in model.critic.trainable_weights)
    assert largest <= 0.01 + 1e-7
    print("OK")
    """
)


def test_training_runs_unchanged_under_mirrored_strategy_on_two_cpu_devices():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(root)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
