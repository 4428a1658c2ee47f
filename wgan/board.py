"""TensorBoard for a run (``RUN/tensorboard/``), so ``tensorboard --logdir runs`` compares runs.

Keras' own ``TensorBoard`` callback writes the scalars into ``tensorboard/train/``, set up for a
GAN: ``epoch_<name>`` for every metric of the model, the SWD and both learning rates on the
epoch axis (counted from 1, as metrics.csv and the grids count), and ``batch_<name>`` every
``tensorboard_every`` iterations on the model's own iteration axis (``train_iterations``,
metrics.csv's ``step``), each the epoch's running mean so far, as Keras logs it. A resumed run
goes on along both axes from its checkpoint. The grid of a sample epoch is logged as an image,
and the run's hyperparameters go into ``tensorboard/`` itself once, for the HParams plugin.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from wgan.callbacks import is_due
from wgan.config import TrainConfig, resolve_precision
from wgan.errors import ConfigError
from wgan.gan import GAN
from wgan.run_folder import TENSORBOARD_TRAIN, RunFolder

SIDES = ("critic", "generator")  # the optimizers a GAN holds: critic_optimizer, ...
GRID_TAG = "samples"  # the grid of a sample epoch, in the Images tab
SWD = "swd"  # what EvaluateSWD puts into the epoch's logs


class RunBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback on the run's own axes, with its grids and hyperparameters.

    List it after ``EvaluateSWD`` and ``SampleGrid`` (it logs the SWD and reads the grid they
    write) and before ``SaveCheckpoint``: an epoch killed before its save is then logged again
    on resume, with the same values, rather than missing.
    """

    def __init__(self, folder: RunFolder, config: TrainConfig, last_epoch: int):
        try:
            import tensorboard  # noqa: F401  (tf.summary's scalars and the HParams plugin)
        except ImportError:
            raise ConfigError("TensorBoard logging needs the tensorboard package: pip install "
                              "-r requirements.txt, or add --no-tensorboard") from None  # fmt: skip
        super().__init__(log_dir=folder.tensorboard, write_graph=False)
        self.folder, self.config, self.last_epoch = folder, config, last_epoch
        self.every = config.tensorboard_every

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Keras counts from 0 in every fit; the run's axis goes on from the checkpoint, and a
        # session's fit calls share one on_train_begin (trainer._Segments).
        self._global_train_batch = int(self.model.train_iterations.numpy())
        if not any(self.folder.tensorboard.glob("events.out.tfevents.*")):
            write_hparams(self.folder, self.config, self.model)

    def on_train_batch_end(self, batch, logs=None):
        # Not Keras' update_freq: its writer and record_if contexts stay entered between
        # batches, so a run stopped by an exception (Ctrl-C's Interrupted) would leave them
        # behind in the process, and an epoch ending off the beat would drop its scalars.
        step = self._global_train_batch  # counted in on_train_batch_begin: iterations done
        if not (self.every and step % self.every == 0 and logs):
            return
        with self._train_writer.as_default(step):
            for name, value in logs.items():
                self.summary.scalar(f"batch_{name}", value)
        self._train_writer.flush()  # a stopped run keeps every point it logged

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1  # the epoch axis counts as metrics.csv and the grids do, from 1
        super().on_epoch_end(done, logs)
        grid = self.folder.epoch_grid(done)
        if is_due(done, self.config.sample_every, self.last_epoch) and grid.is_file():
            image = tf.io.decode_png(tf.io.read_file(str(grid)))  # as SampleGrid just wrote it
            with self._train_writer.as_default():
                self.summary.image(GRID_TAG, image[None], step=done)
        self._train_writer.flush()

    def _collect_learning_rate(self, logs):
        """Both networks' learning rates: Keras would read ``model.optimizer``, which the GAN
        leaves unused (its optimizers are ``critic_optimizer`` and ``generator_optimizer``)."""
        for side in SIDES:
            optimizer = getattr(self.model, f"{side}_optimizer", None)
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # loss scaling (fp16)
            if optimizer is not None:
                rate = tf.convert_to_tensor(optimizer.learning_rate)  # a variable or a schedule's
                logs[f"learning_rate_{side}"] = float(rate)
        return logs


def hyperparameters(config: TrainConfig) -> dict[str, bool | int | float | str]:
    """The run's resolved settings that are one value each (config.json's, lists aside)."""
    values = config.to_dict()
    values["precision"] = resolve_precision(config.precision)
    return {name: value for name, value in values.items()
            if isinstance(value, bool | int | float | str)}  # fmt: skip


def write_hparams(folder: RunFolder, config: TrainConfig, model: GAN) -> None:
    """The run's hyperparameters as an HParams session of its own (named after the run folder),
    with the model's headline metrics (and the SWD) as the metrics its table compares.

    The hyperparameters carry no domain: the plugin shows the config of one run folder for
    all, and a domain would hide the runs whose values lie outside it.
    """
    from tensorboard.plugins.hparams import api as hp

    values = hyperparameters(config)
    labels = model.metric_labels
    metrics = [hp.Metric(f"epoch_{name}", group=TENSORBOARD_TRAIN, display_name=labels[name])
               for name in model.headline_metrics]  # fmt: skip
    if config.eval_every:
        metrics.append(hp.Metric(f"epoch_{SWD}", group=TENSORBOARD_TRAIN, display_name="SWD"))
    writer = tf.summary.create_file_writer(str(folder.tensorboard))
    with writer.as_default():
        hp.hparams_config(hparams=[hp.HParam(name) for name in values], metrics=metrics)
        hp.hparams(values, trial_id=folder.path.name)
    writer.close()
