import matplotlib
import pandas as pd
import pytest

from textgen_helpers.display import LiveTraining, samples_table_html
from textgen_helpers.training import TrainingConfig, TrainingRun

matplotlib.use("Agg")

HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.2, 1.9], "val_loss": [2.8, 2.3, 2.1]})


def test_live_training_draws_once_then_updates_in_place(monkeypatch):
    shown = []

    class Handle:
        def __init__(self):
            self.updates = 0

        def update(self, obj):
            self.updates += 1

    def fake_display(obj, display_id=None):
        assert display_id is True
        shown.append(Handle())
        return shown[-1]

    monkeypatch.setattr("IPython.display.display", fake_display)
    samples = pd.DataFrame({"epoch": [1, 1, 2, 2], "temperature": [0.0, 0.5] * 2, "text": ["a\nb", "c", "d", "e"]})
    run = TrainingRun(model=None, vocab=None, config=TrainingConfig(), history=HISTORY, samples=samples)
    live = LiveTraining(references={"Shannon": 1.3})
    for _ in range(3):
        live(run)
    assert len(shown) == 2  # one figure, one table, each displayed once
    assert [handle.updates for handle in shown] == [2, 2]
    assert len(live._figure.axes[0].get_lines()) == 3  # training, validation, Shannon
    table = samples_table_html(run.samples_table()).data
    assert "T = 0.5" in table and "a⏎b" in table


def test_the_samples_table_cuts_each_sample_to_its_width():
    table = pd.DataFrame({"T = 1": ["abcdefghij", "a\nbcdefghij"]}, index=[1, 2])
    html = samples_table_html(table, width=8).data
    assert ">abcdefgh</td>" in html and ">a⏎bcdefg</td>" in html  # a line break counts as one character


def test_a_live_score_is_drawn_against_training_minutes_beside_the_runs_it_is_compared_with(monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda obj, display_id=None: type("H", (), {"update": print})())
    stored = pd.DataFrame({"epoch": [1, 2, 3], "train_seconds": [60.0, 60.0, 60.0], "val_loss": [3.0, 2.5, 2.2]})
    history = HISTORY.assign(train_seconds=[30.0] * len(HISTORY))
    scores = iter([2.0, 1.8, 1.7])
    live = LiveTraining(score=lambda model: next(scores), score_label="the book's measure",
                        compare={"stored run": stored}, show_samples=False)
    for epochs in range(1, len(HISTORY) + 1):
        live(TrainingRun(model=None, vocab=None, config=TrainingConfig(), history=history.iloc[:epochs],
                         samples=pd.DataFrame()))
    ax = live._figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["the book's measure"].get_xdata()) == pytest.approx([0.5, 1.0, 1.5])  # minutes trained
    assert list(lines["the book's measure"].get_ydata()) == [2.0, 1.8, 1.7]
    assert list(lines["stored run"].get_xdata()) == [1.0, 2.0, 3.0]
    assert list(lines["stored run"].get_ydata()) == [3.0, 2.5, 2.2]
    assert ax.get_xlabel().startswith("minutes of training")
    assert live.scores["nats"].tolist() == [2.0, 1.8, 1.7]
