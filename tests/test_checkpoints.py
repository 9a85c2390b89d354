"""checkpoints.py: a resume refuses every setting it cannot honour, before it loads or writes anything."""

from __future__ import annotations

import pytest

from textgen_helpers.checkpoints import Checkpoint, ResumeMismatch, compare_settings
from textgen_helpers.model import build_model
from textgen_helpers.training import halve_lr_on_plateau, train
from textgen_helpers.vocabulary import Vocabulary

QUICK = dict(sample_len=20, batch_size=16, examples_per_epoch=32, display_length=0)


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare.text[:20_000]


@pytest.fixture(scope="module")
def vocab(shakespeare):
    return Vocabulary.from_text(shakespeare.text)


@pytest.fixture
def checkpoint(text, vocab, tmp_path):
    """A checkpoint after one epoch of a small run with dropout and halving on plateau."""
    path = tmp_path / "ckpt"
    train(build_model(len(vocab), "8", dropout=0.1), vocab, text, epochs=1, checkpoint_dir=path, verbose=0,
          callbacks=[halve_lr_on_plateau(1e-2)], **QUICK)
    return path


def snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("change, named", [
    (dict(validation_fraction=0.3), "validation_fraction: 0.1 in the checkpoint, 0.3 now"),
    (dict(learning_rate=0.5), "learning_rate: 0.01 in the checkpoint, 0.5 now"),
    (dict(optimizer="adam"), "optimizer: 'rmsprop' in the checkpoint, 'adam' now"),
    (dict(dropout=0.3), "dropout: 0.1 in the checkpoint, 0.3 now"),
    (dict(clipnorm=1.0), "optimizer_config.clipnorm: none in the checkpoint, 1 now"),
    (dict(plateau=False), "callbacks: [{'class': 'ReduceLROnPlateau'"),
    (dict(framing="seq2one"), "framing: 'seq2seq' in the checkpoint, 'seq2one' now"),
    (dict(batch_size=8), "batch_size: 16 in the checkpoint, 8 now"),
    (dict(seed=1), "seed: 0 in the checkpoint, 1 now"),
    (dict(sample_step=1), "sample_step: 3 in the checkpoint, 1 now"),
    (dict(temperatures=(0.5,)), "temperatures:"),
    (dict(corpus="other"), "text.sha256:"),
])
def test_a_resume_with_any_other_setting_is_refused_before_anything_is_loaded(text, vocab, checkpoint, change,
                                                                              named):
    change = dict(change)
    model_args = {key: change.pop(key) for key in ("learning_rate", "optimizer", "dropout", "clipnorm", "framing")
                  if key in change}
    model_args.setdefault("dropout", 0.1)
    callbacks = [] if change.pop("plateau", True) is False else [halve_lr_on_plateau(1e-2)]
    run_text = text[::-1] if change.pop("corpus", None) else text  # another text with the same characters
    before = snapshot(checkpoint)
    model = build_model(len(vocab), "8", **model_args)
    untouched = [w.copy() for w in model.get_weights()]
    with pytest.raises(ResumeMismatch, match=named.replace("[", r"\[").replace("(", r"\(")) as refused:
        train(model, vocab, run_text, epochs=2, checkpoint_dir=checkpoint, resume=True, verbose=0, callbacks=callbacks,
              **{**QUICK, **change})
    assert len(refused.value.differences) == 1, refused.value.differences  # only what changed is named
    assert "nothing was changed" in str(refused.value)
    assert snapshot(checkpoint) == before
    assert all((a == b).all() for a, b in zip(model.get_weights(), untouched, strict=True))


def test_every_difference_is_named_at_once(text, vocab, checkpoint):
    with pytest.raises(ResumeMismatch) as refused:
        train(build_model(len(vocab), "8", dropout=0.1, learning_rate=0.5), vocab, text, epochs=2,
              checkpoint_dir=checkpoint, resume=True, verbose=0, callbacks=[halve_lr_on_plateau(1e-2)],
              **{**QUICK, "validation_fraction": 0.3})
    assert [name for name, _, _ in refused.value.differences] == ["learning_rate", "validation_fraction"]


def test_only_the_epoch_count_and_the_time_budget_may_change(text, vocab, checkpoint):
    run = train(build_model(len(vocab), "8", dropout=0.1), vocab, text, epochs=2, checkpoint_dir=checkpoint,
                resume=True, verbose=0, callbacks=[halve_lr_on_plateau(1e-2)], max_seconds=600, **QUICK)
    assert run.resumed_from_epoch == 1 and run.history["epoch"].tolist() == [1, 2]
    assert Checkpoint(checkpoint).load_state()["settings"] == run.settings


def test_the_recorded_settings_are_those_the_run_used(text, vocab, tmp_path):
    run = train(build_model(len(vocab), "8", optimizer="adam", learning_rate=3e-3, clipnorm=1.0), vocab, text,
                epochs=1, verbose=0, **QUICK)
    settings = run.settings
    assert settings["optimizer"] == "adam" and settings["learning_rate"] == pytest.approx(3e-3)
    assert settings["optimizer_config"]["clipnorm"] == 1.0 and settings["dropout"] == 0.0
    assert settings["lstm_layer_sizes"] == "8" and settings["framing"] == "seq2seq"
    assert settings["validation_fraction"] == 0.1 and settings["text"]["characters"] == len(text)
    assert settings["callbacks"] == []


def test_nested_settings_are_compared_key_by_key():
    saved = {"a": 1, "opt": {"clipnorm": None, "rho": 0.9}, "only_saved": 1}
    now = {"a": 1, "opt": {"clipnorm": 1.0, "rho": 0.9, "new": 2}, "only_now": 2}
    assert compare_settings(saved, now) == [("opt.clipnorm", None, 1.0)]
