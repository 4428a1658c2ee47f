"""Seeds for stateless random ops: one place that draws them, replica-aware."""

from __future__ import annotations

import tensorflow as tf


def draw_seed(seed_generator) -> tf.Tensor:
    """The next seed of a ``keras.random.SeedGenerator`` as an int64 pair for stateless ops.

    Under ``tf.distribute`` with several replicas the replica id is folded in (a hash of seed
    and id, not an offset: an offset on the counter word would make one replica repeat another's
    draws some thousand steps later), so each replica draws its own numbers from the same state.
    """
    seed = tf.cast(seed_generator.next(), "int64")
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        folded = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        seed = tf.cast(folded, "int64")
    return seed
