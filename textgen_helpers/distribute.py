"""Distribution: training on several devices or machines with TensorFlow's own ``tf.distribute``.

A strategy is a one-line change; everything else stays the same::

    strategy = tg.make_strategy("mirrored")          # every GPU of this machine (or "multiworker", "tpu")
    model = tg.build_model(len(vocab), "512,512,512", strategy=strategy)   # variables made in its scope
    run = tg.train(model, vocab, text, strategy=strategy, batch_size=512)  # the global batch

``batch_size`` stays the *global* batch: every step, the replicas split one global batch between
them (:func:`distributed_windows`), so a run on N replicas sees exactly the windows, and takes
exactly the steps, of a run on one device with the same batch size and seed. Several machines
(``MultiWorkerMirroredStrategy``) are not offered: Keras 3's ``fit`` fails under that strategy
(keras-team/keras#20585). The data pipeline and :func:`is_chief` (only the chief writes
checkpoints and bundles) are ready for it once Keras supports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from .runtime import import_tensorflow

tf, keras = import_tensorflow()

STRATEGIES = ("none", "mirrored", "multiworker", "tpu")  # multiworker: refused with the reason, see make_strategy


def make_strategy(name: str = "none"):
    """``"none"`` (None: the default device), ``"mirrored"`` (every local GPU, or the CPU) or
    ``"tpu"`` (a Colab or Cloud TPU; untested here). ``"multiworker"`` raises ValueError with the
    reason: Keras 3's ``fit`` does not support ``MultiWorkerMirroredStrategy``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"distribution strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "none":
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        # Keras 3's fit() cannot train under MultiWorkerMirroredStrategy: it averages the first batch
        # and every step's logs with strategy.reduce, which that strategy cannot do for them
        # (keras-team/keras#20585; TensorFlow's own multi-worker Keras tutorial fails the same way).
        raise ValueError("multi-worker training is not available: Keras 3's fit() does not work with "
                         "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585). Use --distribute "
                         "mirrored for every GPU of one machine, or tpu on a TPU runtime")
    try:  # a TPU: connect through the cluster resolver (Colab's TPU runtime sets it up)
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as err:
        raise ValueError(f"no TPU found ({str(err).splitlines()[0]}); --distribute tpu runs on a TPU runtime, such "
                         f"as Colab's (Runtime > Change runtime type > TPU)") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy=None) -> bool:
    """True unless this process is a non-chief worker of a multi-worker strategy (those write nothing)."""
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster") or {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def check_model_in_scope(model: keras.Model, strategy) -> None:
    """Raise ValueError unless ``model``'s variables were made under ``strategy.scope()``."""
    variables = [v.value if hasattr(v, "value") else v for v in model.trainable_variables]
    if variables and not strategy.extended.variable_created_in_scope(variables[0]):
        raise ValueError("the model was not built under this strategy's scope; build it with "
                         "tg.build_model(..., strategy=strategy) (or inside `with strategy.scope():`)")


def distributed_windows(strategy, make_dataset: Callable, global_batch: int):
    """Split every global batch of ``make_dataset()`` between the replicas, in replica order.

    Each worker builds the same stream of global batches (batch ``k`` depends only on the seed and
    ``k``) and hands its replicas their slices of it, so the replicas together see each global
    batch exactly once, as one device would.
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"batch_size {global_batch} does not split evenly between {replicas} replicas; use a "
                         f"multiple of {replicas}, such as {replicas * max(1, round(global_batch / replicas))}")

    def per_worker(context):
        local = context.num_replicas_in_sync // context.num_input_pipelines
        per_replica = global_batch // context.num_replicas_in_sync
        first = context.input_pipeline_id * local * per_replica

        def slices(x, y):
            cut = lambda a: tf.reshape(a[first:first + local * per_replica], [local, per_replica, *a.shape[1:]])  # noqa: E731
            return tf.data.Dataset.from_tensor_slices((cut(x), cut(y)))

        return make_dataset().flat_map(slices)

    return strategy.distribute_datasets_from_function(per_worker)

