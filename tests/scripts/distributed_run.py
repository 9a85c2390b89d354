"""Train a tiny model under a tf.distribute strategy and print what the test checks, as JSON.

Run by tests/test_distribute.py in a fresh process each time (logical devices and TF_CONFIG must
be set before TensorFlow starts):
    python distributed_run.py MODE OUT_DIR [EPOCHS] [--resume] [--checkpoint DIR]
MODE: "single" (one device), "mirrored" (two logical CPUs) or "multiworker" (one worker of the
cluster that the environment's TF_CONFIG names). The checkpoint folder is OUT_DIR/checkpoint
unless --checkpoint names another (the workers of a cluster share one to resume). A failure of
train() prints {"error": "..."} instead.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

mode, out = sys.argv[1], sys.argv[2]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
resume = "--resume" in sys.argv
checkpoint = os.path.join(out, "checkpoint")
if "--checkpoint" in sys.argv:
    checkpoint = sys.argv[sys.argv.index("--checkpoint") + 1]
if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import textgen_helpers as tg  # noqa: E402

if mode == "mirrored":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = tg.make_strategy("multiworker" if mode == "multiworker" else "none")
text = ("To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles. ") * 60
vocab = tg.Vocabulary.from_text(text)
tg.set_seed(0)
# No dropout: each replica draws its own dropout masks, which a single device cannot reproduce.
model = tg.build_model(len(vocab), "8", strategy=strategy)
try:
    run = tg.train(model, vocab, text, epochs=epochs, sample_len=16, batch_size=8, examples_per_epoch=8 * 4,
                   display_length=10, temperatures=[0.0], verbose=0, strategy=strategy, resume=resume,
                   checkpoint_dir=checkpoint)
except ValueError as err:
    print(json.dumps({"error": str(err)}))
    sys.exit(0)
if tg.is_chief(strategy):
    tg.save_bundle(os.path.join(out, "bundle"), model, vocab, sample_len=16, history=run.history)
first = model.trainable_variables[0].value
replicas = [str(v.device) for v in getattr(first, "values", [first])]
print(json.dumps({
    "replicas_in_sync": strategy.num_replicas_in_sync if strategy is not None else 1,
    "variable_devices": replicas,
    "chief": tg.is_chief(strategy),
    "loss": run.history["loss"].tolist(),
    "val_loss": run.history["val_loss"].tolist(),
    "weights": [w.tolist() for w in model.get_weights()],
}))
