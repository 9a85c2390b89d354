import matplotlib
import pandas as pd

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
