import contextlib
import io
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from textgen_helpers.checkpoints import Checkpoint
from textgen_helpers.evaluation import evaluate_loss
from textgen_helpers.model import build_model
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.training import TrainingConfig, train
from textgen_helpers.vocabulary import Vocabulary
from textgen_helpers.windows import split_train_validation

keras = import_keras()

QUICK = dict(sample_len=30, batch_size=32, examples_per_epoch=32 * 6, display_length=20)


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare.text[:40_000]


@pytest.fixture(scope="module")
def vocab(shakespeare):
    return Vocabulary.from_text(shakespeare.text)


@pytest.fixture(scope="module")
def shared(text, vocab, tmp_path_factory):
    """One two-epoch run that several tests read (a model trained once, not once per test): printing its lines,
    with an epoch hook and a Keras callback, and asked to resume from a folder that holds no checkpoint yet."""
    hook, callback = [], []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            callback.append(logs["val_loss"])

    checkpoint = tmp_path_factory.mktemp("shared") / "none"
    printed = io.StringIO()
    set_seed(0)
    with contextlib.redirect_stdout(printed):
        run = train(build_model(len(vocab), "16"), vocab, text, epochs=2, verbose=1, checkpoint_dir=checkpoint,
                    resume=True, callbacks=[Spy()], on_epoch_end=lambda run: hook.append(len(run.history)), **QUICK)
    return SimpleNamespace(run=run, out=printed.getvalue(), hook=hook, callback=callback, checkpoint=checkpoint)


def test_training_reports_history_in_nats_and_bits_and_samples_at_four_temperatures(shared):
    run = shared.run
    history = run.history
    assert list(history.columns) == ["epoch", "complete", "loss", "val_loss", "val_loss_stateful", "fit_loss",
                                     "loss_bits", "val_loss_bits", "val_loss_stateful_bits", "learning_rate",
                                     "train_seconds", "seconds", "chars", "chars_per_second"]
    assert history["complete"].tolist() == [True, True]
    assert history["chars"].tolist() == [6 * 32 * 30] * 2  # steps x batch x positions predicted per window
    assert history["epoch"].tolist() == [1, 2]
    np.testing.assert_allclose(history["loss_bits"], history["loss"] / math.log(2))
    np.testing.assert_allclose(history["val_loss_bits"], history["val_loss"] / math.log(2))
    assert (history["seconds"] > history["train_seconds"]).all() and (history["chars_per_second"] > 0).all()
    assert run.samples["temperature"].tolist() == [0.0, 0.25, 0.5, 0.75] * 2
    assert all(len(s) == 20 for s in run.samples["text"])
    table = run.samples_table()
    assert list(table.columns) == ["T = 0", "T = 0.25", "T = 0.5", "T = 0.75"] and list(table.index) == [1, 2]
    assert not run.stopped_early and run.best_val_loss == history["val_loss"].min()
    seconds = history["train_seconds"].sum()
    assert run.chars_per_second == pytest.approx(history["chars"].sum() / seconds)


def test_training_and_validation_loss_are_measured_by_one_rule_on_equal_amounts_of_text(text, vocab):
    set_seed(0)
    run = train(build_model(len(vocab), "16", dropout=0.3), vocab, text, epochs=1, verbose=0, **QUICK)
    train_ids, val_ids = split_train_validation(vocab.encode(text), 0.1)
    row = run.history.iloc[-1]
    assert row["val_loss"] == pytest.approx(evaluate_loss(run.model, val_ids, 30), rel=1e-5)
    # The training loss: the same function, dropout off, on as much training text as the tail holds.
    assert row["loss"] == pytest.approx(evaluate_loss(run.model, train_ids[-len(val_ids):], 30), rel=1e-5)
    assert row["val_loss_stateful"] == pytest.approx(evaluate_loss(run.model, val_ids, 30, stateful=True), rel=1e-5)
    assert row["fit_loss"] != pytest.approx(row["loss"], rel=1e-3)  # Keras's running average, dropout on, kept apart


def test_a_learnable_text_is_learned():
    text = "the cat sat on the mat. " * 400
    vocab = Vocabulary.from_text(text)
    set_seed(0)
    run = train(build_model(len(vocab), "32", learning_rate=1e-2), vocab, text, epochs=4, verbose=0,
                sample_len=24, batch_size=32, examples_per_epoch=32 * 20, display_length=24, temperatures=[0])
    assert run.history["val_loss"].iloc[0] < math.log(len(vocab))
    assert run.history["val_loss"].iloc[-1] < 0.3  # nearly deterministic text: close to 0 nats
    assert "the" in run.samples["text"].iloc[-1]


def test_the_books_sequence_to_one_model_trains_too(text, vocab):
    set_seed(0)
    model = build_model(len(vocab), "16,16", framing="seq2one")
    run = train(model, vocab, text, epochs=1, verbose=0, max_validation_windows=200, **QUICK)
    assert len(run.history) == 1 and math.isfinite(run.history["val_loss"].iloc[0])
    assert run.history["val_loss"].iloc[0] < math.log(65) + 0.2


class _InterruptAt(keras.callbacks.Callback):
    """After batch ``batch`` of epoch ``epoch`` (0-based): ``"stop"`` as the time budget does, or ``"ctrl-c"``."""

    def __init__(self, epoch, batch, how):
        super().__init__()
        self.epoch, self.batch, self.how = epoch, batch, how

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            if self.how == "ctrl-c":
                raise KeyboardInterrupt
            self.model.stop_training = True


def test_an_epoch_cut_short_is_marked_partial_and_not_checkpointed(text, vocab, tmp_path, capsys):
    checkpoints = tmp_path / "ckpt"
    run = train(build_model(len(vocab), "16"), vocab, text, epochs=3, checkpoint_dir=checkpoints,
                callbacks=[_InterruptAt(1, 1, "stop")], verbose=1, **QUICK)
    assert "not checkpointed" in capsys.readouterr().out
    assert run.stopped_early and run.history["epoch"].tolist() == [1, 2]
    assert run.history["complete"].tolist() == [True, False]
    assert run.history["chars"].tolist() == [6 * 32 * 30, 2 * 32 * 30]
    state = Checkpoint(checkpoints).load_state()
    assert state["epoch"] == 1 and [row["epoch"] for row in state["history"]] == [1]
    resumed = train(build_model(len(vocab), "16"), vocab, text, epochs=2, checkpoint_dir=checkpoints, resume=True,
                    verbose=0, **QUICK)
    assert resumed.resumed_from_epoch == 1 and resumed.history["complete"].tolist() == [True, True]


def test_a_time_budget_stops_training_early(text, vocab):
    run = train(build_model(len(vocab), "16"), vocab, text, epochs=50, max_seconds=0.5, verbose=0,
                **(QUICK | dict(examples_per_epoch=32 * 2000)))
    assert run.stopped_early and len(run.history) == 1 and not run.history["complete"].iloc[0]


def test_an_epoch_hook_sees_the_run_after_every_epoch(shared):
    assert shared.hook == [1, 2]


def test_keras_callbacks_see_the_validation_loss(shared):
    assert len(shared.callback) == 2 and shared.callback == shared.run.history["val_loss"].tolist()


def test_verbose_training_prints_one_line_per_epoch_and_the_samples(shared):
    out = shared.out
    assert "epoch 1/2  loss " in out and " nats (" in out and "bits)" in out and "chars/s" in out
    assert "epoch 2/2  loss " in out and out.count("chars/s") == 2
    assert "T=0.25" in out


def test_resume_without_a_checkpoint_starts_from_epoch_one(shared):
    assert shared.run.resumed_from_epoch == 0 and shared.run.history["epoch"].tolist() == [1, 2]
    assert "no checkpoint" in shared.out


def test_restart_starts_afresh_only_once_every_other_check_has_passed(text, vocab, tmp_path):
    path = tmp_path / "ckpt"
    train(build_model(len(vocab), "8"), vocab, text, epochs=1, checkpoint_dir=path, verbose=0, **QUICK)
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(ValueError, match="not in the vocabulary"):  # refused: the checkpoint stays as it was
        train(build_model(len(vocab), "8"), vocab, text, epochs=1, checkpoint_dir=path, restart=True, verbose=0,
              seed_text="Ωmega", **QUICK)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    run = train(build_model(len(vocab), "8"), vocab, text, epochs=1, checkpoint_dir=path, restart=True, verbose=0,
                **(QUICK | dict(seed=1)))  # another seed: a resume would be refused, a restart starts afresh
    assert run.resumed_from_epoch == 0 and Checkpoint(path).load_state()["settings"]["seed"] == 1


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=0), ValueError, "epochs must be >= 1, got 0"),
    (dict(epochs=2.5), ValueError, "epochs must be an integer, got 2.5"),
    (dict(sample_len=0), ValueError, "sample_len must be >= 1"),
    (dict(sample_len=True), ValueError, "sample_len must be an integer, got True"),
    (dict(batch_size=-3), ValueError, "batch_size must be >= 1"),
    (dict(examples_per_epoch=0), ValueError, "examples_per_epoch"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction must be < 1"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(temperatures=[-1]), ValueError, "temperature must be >= 0"),
    (dict(seed_text="Ωmega"), ValueError, "not in the vocabulary"),
    (dict(learning_rat=0.1), TypeError, "unknown settings \\['learning_rat'\\]"),
])
def test_bad_training_settings_are_refused_before_training(text, vocab, kwargs, error, message):
    args = dict(epochs=1, verbose=0) | kwargs
    with pytest.raises(error, match=message):
        train(build_model(len(vocab), "8"), vocab, text, **args)


def test_a_text_shorter_than_a_window_is_refused(vocab):
    with pytest.raises(ValueError, match="too short for windows of 60"):
        train(build_model(len(vocab), "8"), vocab, "To be, or not to be" * 10, epochs=1, sample_len=60, verbose=0)


def test_a_model_for_another_vocabulary_or_uncompiled_is_refused(text, vocab):
    with pytest.raises(ValueError, match="build the model with vocab_size=len\\(vocab\\)"):
        train(build_model(10, "8"), vocab, text, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="not compiled"):
        train(build_model(len(vocab), "8", compile=False), vocab, text, epochs=1, verbose=0)


def test_config_round_trips_through_a_dict():
    config = TrainingConfig(sample_len=40, temperatures=(0.5, 1.0))
    again = TrainingConfig.from_dict(config.to_dict())
    assert again == config and again.steps_per_epoch == 10_000 // 128


def _weights_after(vocab, text, epochs, more_callbacks=(), **kwargs):
    set_seed(0)
    model = build_model(len(vocab), "16", dropout=0.2)
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=10.0)]
    run = train(model, vocab, text, epochs=epochs, callbacks=[*callbacks, *more_callbacks], verbose=0, **QUICK,
                **kwargs)
    return model, run


def test_a_run_interrupted_and_resumed_ends_with_the_weights_of_one_never_interrupted(text, vocab, tmp_path):
    # The one test of exact resume, run on every backend (the Makefile's backend suite). The plateau callback
    # cuts the learning rate after every epoch (min_delta is huge), so the learning rate, the optimizer's
    # state, the dropout masks and the stream of windows must all continue exactly.
    whole, whole_run = _weights_after(vocab, text, 4)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in epoch 3: the checkpoint of epoch 2 stays
        _weights_after(vocab, text, 4, checkpoint_dir=tmp_path / "ckpt", more_callbacks=[_InterruptAt(2, 2, "ctrl-c")])
    state = Checkpoint(tmp_path / "ckpt").load_state()
    assert state["epoch"] == 2 and [p.name for p in (tmp_path / "ckpt").glob("*.keras")] == ["epoch_0002.keras"]
    saved = keras.saving.load_model(tmp_path / "ckpt" / "epoch_0002.keras")
    assert float(saved.optimizer.learning_rate) == pytest.approx(5e-3)  # cut by the callback at the end of epoch 2
    assert state["callbacks"][0]["class"] == "ReduceLROnPlateau" and "best" in state["callbacks"][0]["state"]

    resumed, resumed_run = _weights_after(vocab, text, 4, checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert resumed_run.resumed_from_epoch == 2 and resumed_run.history["epoch"].tolist() == [1, 2, 3, 4]
    # The rate used in each epoch: epoch 1 sets the best loss, each later epoch misses it by 10 nats and halves it.
    assert whole_run.history["learning_rate"].tolist() == pytest.approx([1e-2, 1e-2, 5e-3, 2.5e-3])
    assert resumed_run.history["learning_rate"].tolist() == pytest.approx(whole_run.history["learning_rate"].tolist())
    assert int(resumed.optimizer.iterations) == int(whole.optimizer.iterations) == 4 * 6
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(resumed_run.history["val_loss"], whole_run.history["val_loss"], rtol=1e-6)
    assert resumed_run.samples["text"].tolist() == whole_run.samples["text"].tolist()  # the samples continue too


@pytest.fixture(scope="module")
def model_8(vocab):
    """A small model that tests about the samples' settings train further, one after the other: on JAX a model
    compiles its training step once, not once per test."""
    return build_model(len(vocab), "8")


@pytest.mark.parametrize("temperatures, expected", [(0.5, [0.5]), (0, [0.0]), ("0,0.5", [0.0, 0.5]),
                                                    (np.float32(0.25), [0.25]), ((), [])])
def test_temperatures_can_be_one_several_or_none(text, vocab, temperatures, expected, model_8):
    run = train(model_8, vocab, text, epochs=1, verbose=0, temperatures=temperatures,
                **(QUICK | dict(display_length=10)))
    assert run.samples["temperature"].tolist() == expected
    assert all(len(s) == 10 for s in run.samples["text"])


def test_numpy_numbers_work_wherever_python_numbers_do(text, vocab, tmp_path):
    run = train(build_model(len(vocab), "8"), vocab, text, epochs=np.int64(1), verbose=0, checkpoint_dir=tmp_path / "c",
                sample_len=np.int64(30), batch_size=np.int32(32), examples_per_epoch=np.int64(64),
                validation_fraction=np.float64(0.1), display_length=np.int64(5), seed=np.uint64(2**63 + 1),
                max_seconds=np.float32(600))
    assert Checkpoint(tmp_path / "c").load_state()["settings"]["sample_len"] == 30  # JSON holds a plain int
    assert type(run.config.sample_len) is int and run.config.seed == 2**63 + 1


def test_evaluate_loss_is_the_mean_negative_log_probability_of_each_next_character(vocab):
    set_seed(0)
    model = build_model(len(vocab), "8")
    ids = vocab.encode("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    # The first window sees every target from a zero state.
    logits = keras.ops.convert_to_numpy(model(ids[None, :-1], training=False))[0]
    top = logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits - top).sum(1, keepdims=True)) - top
    by_hand = -log_probs[np.arange(len(ids) - 1), ids[1:]].mean()
    # One window covers the whole text, and the stateful reading of one stream is the same sum.
    assert evaluate_loss(model, ids, len(ids) - 1) == pytest.approx(by_hand, rel=1e-5)
    assert evaluate_loss(model, ids, 8, stateful=True, streams=1) == pytest.approx(by_hand, rel=1e-5)


def test_the_stateful_loss_counts_every_target_once_whatever_the_number_of_streams(vocab):
    set_seed(0)
    model = build_model(len(vocab), "8")
    ids = vocab.encode("To be, or not to be, that is the question:\n" * 30)
    one = evaluate_loss(model, ids, 16, stateful=True, streams=1)
    assert evaluate_loss(model, ids, 16, stateful=True, streams=7) == pytest.approx(one, rel=2e-3)


# --- scoring: a fixed amount of text after every epoch (the rules are tested in test_evaluation.py) --------------

def test_training_first_says_how_much_text_each_epoch_scores_and_scores_that_sample(text, vocab, capsys):
    run = train(build_model(len(vocab), "16"), vocab, text, epochs=1, verbose=1, max_validation_windows=50, **QUICK)
    assert capsys.readouterr().out.splitlines()[0] == (
        "scoring 759 of 4,000 validation characters (50 windows of 30, evenly spread, the same every epoch; "
        "val_loss_stateful reads 752) and as many training characters after every epoch")
    train_ids, val_ids = split_train_validation(vocab.encode(text), 0.1)
    row = run.history.iloc[-1]
    assert row["val_loss"] == pytest.approx(evaluate_loss(run.model, val_ids, 30, max_windows=50), rel=1e-5)
    assert row["loss"] == pytest.approx(evaluate_loss(run.model, train_ids[-4_000:], 30, max_windows=50), rel=1e-5)
    assert row["val_loss_stateful"] == pytest.approx(
        evaluate_loss(run.model, val_ids, 30, max_windows=50, stateful=True), rel=1e-5)
    assert row["val_loss"] != pytest.approx(evaluate_loss(run.model, val_ids, 30), rel=1e-6)  # not the whole tail


def test_a_resume_that_would_score_another_sample_is_refused(text, vocab, tmp_path, shared):
    # The scored sample steers ReduceLROnPlateau, so the cap is a setting of the run like any other.
    shutil.copytree(shared.checkpoint, tmp_path / "c")  # the shared run's checkpoint, after epoch 2
    with pytest.raises(ValueError, match="max_validation_windows: 8000 in the checkpoint, 50 now"):
        train(build_model(len(vocab), "16"), vocab, text, epochs=3, verbose=0, checkpoint_dir=tmp_path / "c",
              resume=True, max_validation_windows=50, **QUICK)
