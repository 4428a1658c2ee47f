"""CycleGAN's history of generated images (Shrivastava et al. 2017; Zhu et al. 2017, sec. 4).

The discriminators are updated on a mix of the newest fakes and fakes from earlier generators,
which damps the oscillation between the two players. The buffer lives in variables, so the
checkpoint keeps it and a resumed run goes on with the same history.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from wgan.errors import ConfigError
from wgan.parts import Part
from wgan.randomness import draw_seed


@keras.saving.register_keras_serializable(package="wgan")
class ImagePool(Part):
    """A pool of the last ``size`` generated images per translation direction.

    As the reference ``ImagePool.query``, image by image: while the pool fills, each new image
    is stored and returned; once it is full, each new image is, with probability 1/2, returned
    as it is, or else stored in place of a random stored image, which is returned instead.
    The draws are stateless, from a seed the checkpoint keeps. ``size`` 0 turns it off.
    """

    name = "pool"

    def __init__(self, size: int = 50):
        if int(size) != size or size < 0:
            raise ConfigError(f"--pool-size must be 0 (off) or a positive count, got {size}")
        self.size = int(size)
        self.images: list[keras.Variable] = []
        self.counts: list[keras.Variable] = []

    def build(self, model) -> None:
        seed = None if model.seed is None else model.seed + 2
        self.seed_generator = keras.random.SeedGenerator(seed, name="pool_seed")
        self.images, self.counts = [], []
        for i, direction in enumerate(model.directions):
            shape = tuple(direction.translator.outputs[0].shape[1:])
            empty = tf.zeros((max(self.size, 1), *shape))
            self.images.append(keras.Variable(empty, trainable=False, name=f"pool_{i}"))
            self.counts.append(keras.Variable(0, dtype="int32", trainable=False,
                                              name=f"pool_count_{i}"))  # fmt: skip

    def query(self, index: int, images: tf.Tensor) -> tf.Tensor:
        """The images the discriminator of direction ``index`` sees in place of ``images``."""
        if self.size == 0:
            return images
        pool, count = self.images[index], self.counts[index]
        n = tf.shape(images)[0]
        seed = draw_seed(self.seed_generator)
        coins = tf.random.stateless_uniform((n,), seed, 0.0, 1.0)
        slots = tf.random.stateless_uniform((n,), seed + 1, 0, self.size, dtype="int32")

        def one(i, out):
            image = images[i]
            filling = count < self.size
            swap = tf.logical_and(tf.logical_not(filling), coins[i] > 0.5)
            slot = tf.where(filling, count, slots[i])
            stored = tf.gather(pool.value, slot)
            returned = tf.where(swap, stored, image)
            keep = tf.logical_or(filling, swap)
            new = tf.where(keep, image, stored)
            pool.assign(tf.tensor_scatter_nd_update(pool.value, slot[None, None], new[None]))
            count.assign(tf.minimum(count + 1, self.size))
            return i + 1, out.write(i, returned)

        out = tf.TensorArray(images.dtype, size=n, element_shape=images.shape[1:])
        _, out = tf.while_loop(lambda i, _: i < n, one, (tf.constant(0), out))
        return tf.stop_gradient(out.stack())

    def state(self) -> dict:
        if self.size == 0:
            return {}
        items = {"pool_seed": self.seed_generator.state}
        for i, (images, count) in enumerate(zip(self.images, self.counts, strict=True)):
            items[f"pool_images_{i}"] = images
            items[f"pool_count_{i}"] = count
        return items

    def get_config(self) -> dict:
        return {"size": self.size}
