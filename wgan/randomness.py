"""Seeds for stateless random ops: one place that draws them, replica-aware."""

from __future__ import annotations

import tensorflow as tf

# Added to the second seed word per replica, so replicas draw different numbers.
_REPLICA_STRIDE = 7919


def draw_seed(seed_generator) -> tf.Tensor:
    """The next seed of a ``keras.random.SeedGenerator`` as an int64 pair for stateless ops.

    Under ``tf.distribute`` with several replicas the replica id is folded in, so each
    replica draws different numbers from the same generator state.
    """
    seed = tf.cast(seed_generator.next(), "int64")
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        offset = tf.cast(replica.replica_id_in_sync_group, "int64") * _REPLICA_STRIDE + 1
        seed = seed + tf.stack([tf.constant(0, "int64"), offset])
    return seed
