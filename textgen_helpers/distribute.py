"""Distribution: training on several devices or machines with TensorFlow's own ``tf.distribute``.

A strategy is a one-line change; everything else stays the same::

    strategy = tg.make_strategy("mirrored")          # every GPU of this machine (or "multiworker", "tpu")
    model = tg.build_model(len(vocab), "512,512,512", strategy=strategy)   # variables made in its scope
    run = tg.train(model, vocab, text, strategy=strategy, batch_size=512)  # the global batch

``batch_size`` stays the *global* batch: every step, the replicas split one global batch between
them (:func:`distributed_windows`), so a run on N replicas sees exactly the windows, and takes
exactly the steps, of a run on one device with the same batch size and seed. Several machines
(``MultiWorkerMirroredStrategy``: one process a machine, each told the cluster by ``TF_CONFIG``)
train the same way; there Keras 3's ``fit`` fails (keras-team/keras#20585), so ``train`` runs
Keras's own ``train_step`` on every replica in a short loop of its own (:func:`fit_multi_worker`),
and only the chief (:func:`is_chief`) writes checkpoints and bundles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from .runtime import configured_backend, import_keras, import_tensorflow

STRATEGIES = ("none", "mirrored", "multiworker", "tpu")


def make_strategy(name: str = "none"):
    """``"none"`` (None: the default device), ``"mirrored"`` (every local GPU, or the CPU),
    ``"multiworker"`` (every machine of the cluster that ``TF_CONFIG`` names; without it, this
    machine alone) or ``"tpu"`` (a Colab or Cloud TPU; untested here).
    """
    if name not in STRATEGIES:
        raise ValueError(f"distribution strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "none":
        return None
    tf = _tf(f"--distribute {name}")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" in os.environ:
            try:
                json.loads(os.environ["TF_CONFIG"])
            except ValueError as err:
                raise ValueError(f"TF_CONFIG is not valid JSON ({err}); set it like "
                                 '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                                 '"task": {"type": "worker", "index": 0}}') from None
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except ValueError as err:  # TensorFlow's words name the field, not the fix
            raise ValueError(f"TF_CONFIG does not describe this worker's place in a cluster ({err}); set it on every "
                             'machine like {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": '
                             '"worker", "index": 0}}, with index 0, 1, ... a different one on each') from None
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


def is_multi_worker(strategy) -> bool:
    """True for a ``MultiWorkerMirroredStrategy`` (which :func:`fit_multi_worker` trains, in a loop of its own)."""
    return strategy is not None and isinstance(strategy, _tf().distribute.MultiWorkerMirroredStrategy)


def values_on_every_replica(strategy, value: float) -> list[float]:
    """``value`` as each replica of a multi-worker ``strategy`` holds it, in replica order (a collective:
    every worker must call it at the same point)."""
    tf = _tf()
    gather = tf.function(lambda v: strategy.gather(strategy.run(lambda: tf.reshape(v, [1])), axis=0))
    return [float(x) for x in gather(tf.constant(float(value)))]


def check_workers_resume_alike(strategy, epoch: int, checkpoint_dir) -> None:
    """Raise ValueError on every worker unless all of them start from the same ``epoch``.

    A worker that did not see the chief's checkpoint would start from epoch 0 and wait forever for
    the others at its first step, so they all stop here with a message instead.
    """
    epochs = [int(e) for e in values_on_every_replica(strategy, epoch)]
    if len(set(epochs)) > 1:
        shown = ", ".join(f"replica {i}: {'from the start' if e == 0 else f'after epoch {e}'}"
                          for i, e in enumerate(epochs))
        raise ValueError(f"the workers would not resume from the same epoch ({shown}); every worker must read "
                         f"the chief's checkpoint folder ({checkpoint_dir}): put it on a filesystem they all share")


def check_model_in_scope(model, strategy) -> None:
    """Raise ValueError unless ``model``'s variables were made under ``strategy.scope()``."""
    variables = [v.value if hasattr(v, "value") else v for v in model.trainable_variables]
    if variables and not strategy.extended.variable_created_in_scope(variables[0]):
        raise ValueError("the model was not built under this strategy's scope; build it with "
                         "tg.build_model(..., strategy=strategy) (or inside `with strategy.scope():`)")


def distributed_windows(strategy, make_dataset: Callable, global_batch: int):
    """The window stream of ``make_dataset()`` (a :class:`~textgen_helpers.windows.WindowStream`)
    as TensorFlow's input pipeline: a ``tf.data.Dataset`` of its batches for ``strategy=None``, and
    under a strategy every global batch split between the replicas, in replica order.

    Each worker builds the same stream of global batches (batch ``k`` depends only on the seed and
    ``k``) and hands its replicas their slices of it, so the replicas together see each global
    batch exactly once, as one device would. Two batches are cut ahead, with ``tf.data``'s
    autotuner off: with it, a run stopped mid-epoch could wait seconds for its thread at the end.
    """
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
        if global_batch % replicas:
            raise ValueError(f"batch_size {global_batch} does not split evenly between {replicas} replicas; use a "
                             f"multiple of {replicas}, such as {replicas * max(1, round(global_batch / replicas))}")

    tf = _tf()
    options = tf.data.Options()
    options.autotune.enabled = False

    def batches():
        stream = make_dataset()
        spec = tuple(tf.TensorSpec(a.shape, a.dtype) for a in stream[0])  # pure: costs one batch, changes nothing
        return tf.data.Dataset.from_generator(lambda: iter(stream), output_signature=spec).prefetch(2)

    if strategy is None:
        return batches().with_options(options)

    def per_worker(context):
        local = context.num_replicas_in_sync // context.num_input_pipelines
        per_replica = global_batch // context.num_replicas_in_sync
        first = context.input_pipeline_id * local * per_replica

        def slices(x, y):
            cut = lambda a: tf.reshape(a[first:first + local * per_replica], [local, per_replica, *a.shape[1:]])  # noqa: E731
            return tf.data.Dataset.from_tensor_slices((cut(x), cut(y)))

        return batches().flat_map(slices).with_options(options)

    return strategy.distribute_datasets_from_function(per_worker)


def fit_multi_worker(model, strategy, dataset, make_windows, *, epochs: int, initial_epoch: int,
                     steps_per_epoch: int, callbacks: list) -> None:
    """``model.fit`` for ``MultiWorkerMirroredStrategy``, where Keras 3's own ``fit`` fails.

    Keras 3's ``fit`` averages the first batch with ``strategy.reduce`` before training (a tuple,
    which this strategy's reduce cannot take) and every step's scalar logs along axis 0 (which a
    scalar has not); keras-team/keras#20585. This loop runs the same ``model.train_step`` on every
    replica with ``strategy.run`` (the same loss scaling, gradient all-reduce and optimizer update
    as ``fit``), reads the loss once an epoch, and calls the same callbacks at the same points. A
    callback that stops training on one worker (a time budget) stops every worker at the same step
    (an all-reduce of the flag), since a worker that ran one step more would wait for the others
    forever. ``make_windows()`` is the window stream (one batch of it builds the model's variables).
    """
    tf = _tf()
    keras = import_keras()
    x, y = make_windows()[0]  # one batch (NumPy), to build with
    with strategy.scope():  # variables must exist before the first step: none may be made inside strategy.run
        model.optimizer.build(model.trainable_variables)
        model.compute_loss(x[:1], y[:1], model(x[:1], training=False))  # builds the compiled loss and its tracker
    step = tf.function(lambda iterator: strategy.run(model.train_step, args=(next(iterator),)))
    any_worker = tf.function(lambda flag: strategy.reduce("SUM", strategy.run(lambda: flag), axis=None) > 0)

    def agreed_stop() -> bool:
        """Stop on every worker if a callback stopped any of them (a worker one step ahead would wait forever)."""
        model.stop_training = bool(any_worker(tf.constant(float(model.stop_training))))
        return model.stop_training

    callbacks = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps_per_epoch,
                                             verbose=0)
    model.stop_training = False
    iterator = iter(dataset)
    logs = {}
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            callbacks.on_train_batch_begin(batch)
            step(iterator)
            callbacks.on_train_batch_end(batch)
            if agreed_stop():  # a time budget, mid-epoch
                break
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        callbacks.on_epoch_end(epoch, logs)
        if agreed_stop():  # early stopping, or the budget
            break
    callbacks.on_train_end(logs)


def _tf(what: str = "a distribution strategy"):
    """TensorFlow, or the one-line ValueError that says ``what`` needs it (on the JAX or torch backend)."""
    backend = configured_backend()
    if backend != "tensorflow":
        alternative = (" (on JAX, Keras's own keras.distribution.DataParallel spreads a batch over devices)"
                       if backend == "jax" else "")
        raise ValueError(f"{what} needs TensorFlow's tf.distribute, and Keras runs on {backend}; choose "
                         f"the TensorFlow backend (KERAS_BACKEND=tensorflow, textgen --backend tensorflow) to use "
                         f"it{alternative}")
    return import_tensorflow()[0]
