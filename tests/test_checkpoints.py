"""checkpoints.py: a resume refuses every setting it cannot honour, before it loads or writes anything.

The settings comparison is tested without training (``run_settings`` of models that are only
built); one trained checkpoint, shared by the module, shows the refusal and the acceptance on a
real run. Exact resume is tests/test_training.py's, and the command line's refusal tests/test_cli.py's.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from textgen_helpers.checkpoints import Checkpoint, ResumeMismatch, compare_settings, describe_differences
from textgen_helpers.model import build_model
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.training import TrainingConfig, halve_lr_on_plateau, run_settings, train
from textgen_helpers.vocabulary import Vocabulary

keras = import_keras()

QUICK = dict(sample_len=20, batch_size=16, examples_per_epoch=32, display_length=0)


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare.text[:20_000]


@pytest.fixture(scope="module")
def vocab(shakespeare):
    return Vocabulary.from_text(shakespeare.text)


# --- the comparison, without training ---------------------------------------------------------------

BASE_MODEL = dict(dropout=0.1)


def settings_of(vocab, text, *, plateau=True, corpus="same", **change):
    """What a run with these settings would record, from a model that is only built."""
    model_args = {**BASE_MODEL, **{key: change.pop(key) for key in
                                   ("learning_rate", "optimizer", "dropout", "clipnorm", "framing", "lstm_layer_sizes",
                                    "embedding_dim") if key in change}}
    model = build_model(len(vocab), model_args.pop("lstm_layer_sizes", "8"), **model_args)
    callbacks = [halve_lr_on_plateau(1e-2)] if plateau else []
    ids = vocab.encode(text if corpus == "same" else text[::-1])  # another text with the same characters
    return run_settings(model, TrainingConfig(**{**QUICK, **change}), callbacks, ids)


@pytest.mark.parametrize("change, named", [
    (dict(validation_fraction=0.3), "validation_fraction (--validation-split): 0.1 in the checkpoint, 0.3 now"),
    (dict(learning_rate=0.5), "learning_rate (--learning-rate): 0.01 in the checkpoint, 0.5 now"),
    (dict(optimizer="adam"), "optimizer (--optimizer): 'rmsprop' in the checkpoint, 'adam' now"),
    (dict(dropout=0.3), "dropout (--dropout): 0.1 in the checkpoint, 0.3 now"),
    (dict(clipnorm=1.0), "optimizer_config.clipnorm (--clipnorm): none in the checkpoint, 1 now"),
    (dict(plateau=False), "callbacks (--reduce-lr-on-plateau): ReduceLROnPlateau(monitor='val_loss', factor=0.5, "
                          "patience=1, min_lr=0.0003125"),
    (dict(framing="seq2one"), "framing (--framing): 'seq2seq' in the checkpoint, 'seq2one' now"),
    (dict(lstm_layer_sizes="16"), "lstm_layer_sizes (--lstm-layer-size): '8' in the checkpoint, '16' now"),
    (dict(embedding_dim=4), "embedding_dim (--embedding-dim): none in the checkpoint, 4 now"),
    (dict(batch_size=8), "batch_size (--batch-size): 16 in the checkpoint, 8 now"),
    (dict(sample_len=30), "sample_len (--sample-len): 20 in the checkpoint, 30 now"),
    (dict(seed=1), "seed (--seed): 0 in the checkpoint, 1 now"),
    (dict(sample_step=1), "sample_step (--sample-step): 3 in the checkpoint, 1 now"),
    (dict(temperatures=(0.5,)), "temperatures (--temperatures): [0, 0.25, 0.5, 0.75] in the checkpoint, [0.5] now"),
    (dict(corpus="other"), "text.sha256 (CORPUS_OR_PATH): a text of sha256 "),
])
def test_every_setting_that_shapes_the_weights_is_compared_and_named_with_its_flag(text, vocab, change, named):
    differences = compare_settings(settings_of(vocab, text), settings_of(vocab, text, **change))
    assert len(differences) == 1, differences  # only what changed is named
    assert named in describe_differences(differences)


def test_the_same_settings_give_no_difference_and_numpy_numbers_compare_as_python_ones(text, vocab):
    assert compare_settings(settings_of(vocab, text), settings_of(vocab, text)) == []
    assert compare_settings({"a": [0.5, 1], "b": np.float32(0.25)}, {"a": (0.5, np.int64(1)), "b": 0.25}) == []


def test_nested_settings_are_compared_key_by_key():
    saved = {"a": 1, "opt": {"clipnorm": None, "rho": 0.9}, "only_saved": 1}
    now = {"a": 1, "opt": {"clipnorm": 1.0, "rho": 0.9, "new": 2}, "only_now": 2}
    assert compare_settings(saved, now) == [("opt.clipnorm", None, 1.0)]


def test_a_refusal_names_every_difference_at_once_and_says_what_to_do(tmp_path):
    differences = [("learning_rate", 0.01, 0.5), ("validation_fraction", 0.1, 0.3),
                   ("text.characters", 20_000, 19_000), ("callbacks", [], [])]
    message = str(ResumeMismatch(tmp_path, differences))
    assert message.startswith(f"cannot resume {tmp_path} exactly: learning_rate (--learning-rate): 0.01 in the "
                              f"checkpoint, 0.5 now; validation_fraction (--validation-split): 0.1 in the")
    assert "text.characters (CORPUS_OR_PATH): 20,000 in the checkpoint, 19,000 now" in message
    assert "callbacks (--reduce-lr-on-plateau): none in the checkpoint, none now" in message
    assert "only the epoch count and the time budget, --epochs and --max-minutes, may change" in message
    assert "restart=True (--restart)" in message and message.endswith("nothing was changed")
    assert "\n" not in message


def test_the_recorded_settings_are_those_the_model_and_config_say(text, vocab):
    model = build_model(len(vocab), "8", optimizer="adam", learning_rate=3e-3, clipnorm=1.0)
    settings = run_settings(model, TrainingConfig(**QUICK), [], vocab.encode(text))
    assert settings["optimizer"] == "adam" and settings["learning_rate"] == pytest.approx(3e-3)
    assert settings["optimizer_config"]["clipnorm"] == 1.0 and settings["dropout"] == 0.0
    assert settings["lstm_layer_sizes"] == "8" and settings["framing"] == "seq2seq"
    assert settings["validation_fraction"] == 0.1 and settings["text"]["characters"] == len(text)
    assert settings["callbacks"] == [] and json.loads(json.dumps(settings)) == settings  # plain JSON values


# --- a checkpoint of an older format: one line, never a KeyError or an unchecked resume ------------

@pytest.mark.parametrize("state", [
    {"format": 2, "epoch": 3, "model_file": "epoch_0003.keras", "vocab": ["a"], "config": {"sample_len": 40},
     "framing": "seq2seq", "history": [], "samples": []},  # textgen 0.1.0's
    {"format": 3, "epoch": 3, "model_file": "epoch_0003.keras", "vocab": ["a"]},  # no settings
    {"epoch": 3},  # no format at all
])
def test_a_checkpoint_of_an_older_format_is_refused_in_one_line_and_restart_accepts_it(tmp_path, state):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "state.json").write_text(json.dumps(state))
    checkpoint = Checkpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="was written by an older textgen") as refused:
        checkpoint.check_target(resume=True)
    message = str(refused.value)
    assert "resume it with the version of textgen that wrote it" in message and "restart=True (--restart)" in message
    assert "\n" not in message and not isinstance(refused.value, KeyError)
    checkpoint.check_target(restart=True)  # a restart may delete it
    checkpoint.clear()
    assert not (tmp_path / "ckpt").exists()


def test_train_refuses_an_older_checkpoint_before_training(text, vocab, tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "state.json").write_text(json.dumps({"format": 2, "epoch": 1}))
    model = build_model(len(vocab), "8")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="older textgen"):
        train(model, vocab, text, epochs=2, checkpoint_dir=tmp_path / "ckpt", resume=True, verbose=0, **QUICK)
    assert all((a == b).all() for a, b in zip(model.get_weights(), before, strict=True))


# --- one trained checkpoint: what a resume accepts and refuses --------------------------------------

@pytest.fixture(scope="module")
def lowered(text, vocab, tmp_path_factory):
    """A model, and the checkpoint it wrote after 2 epochs during which the plateau callback halved its rate."""
    path = tmp_path_factory.mktemp("lowered") / "ckpt"
    set_seed(0)
    model = build_model(len(vocab), "8", dropout=0.1)
    train(model, vocab, text, epochs=2, checkpoint_dir=path, verbose=0, callbacks=[_cut_every_epoch()], **QUICK)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(5e-3)
    return model, path


def _cut_every_epoch():
    """Halves the rate after every epoch but the first (no epoch beats the best loss by 10 nats)."""
    return keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=10.0)


def snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_the_model_that_wrote_a_checkpoint_continues_it_after_its_rate_was_lowered(text, vocab, lowered, tmp_path):
    model, saved = lowered
    path = shutil.copytree(saved, tmp_path / "ckpt")
    run = train(model, vocab, text, epochs=3, checkpoint_dir=path, resume=True, verbose=0, max_seconds=600,
                callbacks=[_cut_every_epoch()], **QUICK)  # the epoch count and the time budget may change
    assert run.resumed_from_epoch == 2 and run.history["epoch"].tolist() == [1, 2, 3]
    assert run.history["learning_rate"].tolist() == pytest.approx([1e-2, 1e-2, 5e-3])  # the restored rate, cut on
    assert Checkpoint(path).load_state()["settings"]["learning_rate"] == 0.01  # the configured rate, as written


def test_a_changed_configured_rate_is_refused_before_anything_is_loaded(text, vocab, lowered):
    _, path = lowered
    before = snapshot(path)
    model = build_model(len(vocab), "8", dropout=0.1, learning_rate=5e-3)  # the rate the checkpoint ended on
    untouched = [w.copy() for w in model.get_weights()]
    with pytest.raises(ResumeMismatch, match=r"learning_rate \(--learning-rate\): 0.01 in the checkpoint, "
                                             r"0.005 now") as refused:
        train(model, vocab, text, epochs=3, checkpoint_dir=path, resume=True, verbose=0,
              callbacks=[_cut_every_epoch()], **QUICK)
    assert [name for name, _, _ in refused.value.differences] == ["learning_rate"]
    assert snapshot(path) == before
    assert all((a == b).all() for a, b in zip(model.get_weights(), untouched, strict=True))


def test_a_checkpoint_of_another_vocabulary_is_refused(text, vocab, lowered):
    _, path = lowered
    other = Vocabulary.from_text(text[:5000] + "~")
    with pytest.raises(ValueError, match="different vocabulary"):
        train(build_model(len(other), "8", dropout=0.1), other, text[:5000] + "~" * 100, epochs=3,
              checkpoint_dir=path, resume=True, verbose=0, callbacks=[_cut_every_epoch()], **QUICK)


def test_a_finished_run_is_not_overwritten_without_resume_or_restart(text, vocab, lowered):
    _, path = lowered
    with pytest.raises(ValueError, match=r"holds the checkpoint of an earlier run \(after epoch 2\): resume=True "
                                         r"\(--resume\) continues it"):
        train(build_model(len(vocab), "8", dropout=0.1), vocab, text, epochs=3, checkpoint_dir=path, verbose=0,
              **QUICK)
