"""Notebook 1's prose against its stored outputs: every number its Markdown states, rounded ("about
1.69 nats, printed above"), is checked here against the number the committed, executed notebook
printed, and so is every claim the prose makes about an output (the first choice, less and less,
still above the 5-gram). A re-run that changes an output fails here instead of leaving a sentence
stale. The exercises' solutions quote numbers no cell prints: those are computed again from the
corpus."""
from __future__ import annotations

import math
import re
from itertools import pairwise
from pathlib import Path

import notebook_cells as nb
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB1 = ROOT / "notebooks" / "01_next_char_prediction.ipynb"


# --- reading the committed notebook ----------------------------------------------------------------

def _rounded(prose: str, value: float) -> None:
    """The prose's ``prose`` (a number as written, "1.69") is ``value`` rounded to as many decimals."""
    decimals = len(prose.partition(".")[2])
    assert f"{value:.{decimals}f}" == prose, f"the prose says {prose}, the stored output {value}"


def _table(needle: str) -> dict[str, list[float]]:
    """A stored DataFrame's ``text/plain``: {row label: its numbers}."""
    rows = {}
    for line in nb.plain(NB1, needle).splitlines():
        numbers = re.findall(r"(?<![\w-])-?\d+\.?\d*(?![\w-])", line)
        label = re.split(r"\s{2,}", line.strip())[0]
        if numbers and label:
            rows[label] = [float(n) for n in numbers]
    return rows


LOSS_CELL = "loss = nats.mean()"
LSTM_CELL = "batch_losses.append("


def _five_gram_loss() -> float:
    return nb.number(r"mean -ln p:\s+([\d.]+) nats/char", nb.stdout(NB1, LOSS_CELL))


# --- the main path ---------------------------------------------------------------------------------

def test_the_corpus_is_about_a_million_characters():
    n = nb.number(r"^([\d,]+) characters", nb.stdout(NB1, 'tg.load_corpus("shakespeare")'))
    assert "about a million characters" in nb.markdown(NB1, "## The text")
    assert round(n / 1e6) == 1, n


def test_the_blind_guess_is_ln_65_nats_and_log2_65_bits_as_printed():
    out = nb.stdout(NB1, "tg.Vocabulary.from_text(text)")
    V = int(nb.number(r"^(\d+) characters:", out))
    ln_v, log2_v = nb.number(r"ln V\s+= ([\d.]+) nats", out), nb.number(r"log2 V = ([\d.]+) bits", out)
    assert V == 65 and ln_v == round(math.log(V), 3) and log2_v == round(math.log2(V), 3)
    prose = nb.markdown(NB1, "Sixty-five classes")
    _rounded(re.search(r"costs about ([\d.]+) nats", prose).group(1), ln_v)
    _rounded(re.search(r"nats, ([\d.]+) bits, per character", prose).group(1), log2_v)
    learned = nb.markdown(NB1, "## What we learned")
    assert f"ln {V} = {math.log(V):.2f} nats for a blind guess" in learned


def test_the_worked_window_s_true_character_was_the_first_choice_at_the_cost_the_prose_gives():
    out = nb.stdout(NB1, "best.next_distribution(window)")
    assert out.splitlines()[0].endswith("God s"), "the prose reads the window as the 'a' of 'save'"
    first_choice = re.search(r"top 5: '(.)' ([\d.]+)", out)
    true_next = re.search(r"true next: '(.)', p = ([\d.]+)", out)
    loss = nb.number(r"-ln p = ([\d.]+) nats", out)
    assert first_choice.group(1) == true_next.group(1) == "a", out
    assert abs(-math.log(float(true_next.group(2))) - loss) < 0.002, "-ln p printed does not follow from p"
    prose = nb.markdown(NB1, "was the first choice")
    assert "the `a` of *save*, was the first choice" in prose
    _rounded(re.search(r"at only about ([\d.]+)", prose).group(1), float(true_next.group(2)))
    _rounded(re.search(r"costs about ([\d.]+) nats", prose).group(1), loss)


def test_the_mean_loss_is_stated_in_nats_bits_and_perplexity_as_printed():
    out = nb.stdout(NB1, LOSS_CELL)
    nats, bits = _five_gram_loss(), nb.number(r"= ([\d.]+) bits/char", out)
    perplexity, median = nb.number(r"perplexity:\s+([\d.]+)", out), nb.number(r"median -ln p: ([\d.]+)", out)
    assert abs(bits - nats / math.log(2)) < 0.002 and abs(perplexity - math.exp(nats)) < 0.01
    prose = nb.markdown(NB1, "The 5-gram scores about")
    _rounded(re.search(r"scores about ([\d.]+) nats", prose).group(1), nats)
    _rounded(re.search(r"nats, ([\d.]+) bits per character", prose).group(1), bits)
    _rounded(re.search(r"among about (\d+) characters", prose).group(1), perplexity)
    _rounded(re.search(r"costs less, about ([\d.]+) nats", prose).group(1), median)
    assert median < nats, "the prose says the surprises pull the mean above the median"
    learned = nb.markdown(NB1, "## What we learned")
    _rounded(re.search(r"a 5-gram scores about ([\d.]+) nats", learned).group(1), nats)
    _rounded(re.search(r"nats \(([\d.]+) bits\)", learned).group(1), bits)


def test_the_validation_text_has_as_many_characters_as_exercise_2_divides_by():
    count = nb.number(r"validation characters: ([\d,]+)", nb.stdout(NB1, LOSS_CELL))
    assert f"the mean over {count:,.0f} characters" in nb.markdown(NB1, "## Exercises")


def test_each_extra_character_of_context_helps_but_less_and_less():
    table = _table("baselines = pd.DataFrame(rows)")
    assert list(table) == [f"{n}-gram" for n in range(1, 6)], table
    nats = [table[f"{n}-gram"][1] for n in range(1, 6)]
    gains = [a - b for a, b in pairwise(nats)]
    assert all(g > 0 for g in gains) and all(a > b for a, b in pairwise(gains)), gains
    assert nats[-1] == round(_five_gram_loss(), 3), "the table's 5-gram and the worked mean disagree"
    prose = nb.markdown(NB1, "Each extra character of context helps")
    _rounded(re.search(r"from about ([\d.]+) nats \(1-gram\)", prose).group(1), nats[0])
    _rounded(re.search(r"to ([\d.]+) \(5-gram\)", prose).group(1), nats[-1])
    _rounded(re.search(r"choice among about (\d+) characters", prose).group(1), table["1-gram"][3])


def test_the_book_s_loss_in_bits_against_shannon_and_the_5_gram_is_what_the_table_shows():
    table = _table("references = pd.DataFrame(")
    book, shannon, five = (table[k][1] for k in ("the book's LSTM", "Shannon's estimate for English", "5-gram"))
    assert table["the book's LSTM"][0] == 1.5 and shannon == 1.3
    prose = nb.markdown(NB1, "1.5 nats is about")
    _rounded(re.search(r"1\.5 nats is about ([\d.]+) bits", prose).group(1), book)
    _rounded(re.search(r"about ([\d.]+) bits above Shannon's", prose).group(1), book - shannon)
    _rounded(re.search(r"about ([\d.]+) bits below our 5-gram", prose).group(1), five - book)
    assert "estimated that it carries about 0.6 to 1.3 bits per character" in nb.markdown(NB1, "In 1951 Claude Shannon")
    learned = nb.markdown(NB1, "## What we learned")
    _rounded(re.search(r"1\.3 bits per character is about ([\d.]+) nats", learned).group(1),
             table["Shannon's estimate for English"][0])


def test_the_lstm_starts_at_the_blind_guess_and_one_epoch_leaves_it_above_the_5_gram():
    out = nb.stdout(NB1, LSTM_CELL)
    untrained = nb.number(r"validation, untrained:\s+([\d.]+)", out)
    average = nb.number(r"training, epoch average:\s+([\d.]+)", out)
    after = nb.number(r"validation, after epoch:\s+([\d.]+)", out)
    batches = nb.number(r"nats/char, (\d+) batches", out)
    assert abs(untrained - math.log(65)) < 0.05, "an untrained model should score about ln 65"
    assert batches == 10_000 // 128, "the stored run is not a full-mode run of the book's 10,000 windows"
    assert _five_gram_loss() < after < untrained
    before = nb.markdown(NB1, "We score it untrained")
    assert f"({batches:.0f} batches of 128" in before
    prose = nb.markdown(NB1, "its outputs are nearly equal")
    _rounded(re.search(r"nearly equal: about ([\d.]+) nats", prose).group(1), untrained)
    _rounded(re.search(r"about ([\d.]+) here too", prose).group(1), average)
    assert "initial loss of about 3.2" in prose, "the book's figure"
    _rounded(re.search(r"After it: about ([\d.]+) nats", prose).group(1), after)
    _rounded(re.search(r"above the 5-gram's ([\d.]+)", prose).group(1), _five_gram_loss())


def test_the_three_loops_wrote_one_greedy_text_that_repeats_itself():
    out = nb.stdout(NB1, "assert ours == reference == fast")
    greedy = re.search(r"T = 0, all three loops: '(.*)'$", out, re.MULTILINE).group(1)
    words = greedy.replace("\\n", " ").split()
    assert len(greedy.replace("\\n", "\n")) == 40 - len("ROMEO:\n") + 1, greedy
    assert max(words.count(w) for w in words) >= 3, f"the prose says T = 0 soon repeats itself: {greedy!r}"
    assert "T = 0.5, tg.generate:\nROMEO:\n" in out


# --- Going further ---------------------------------------------------------------------------------

def test_the_first_epoch_batch_by_batch_is_what_the_prose_reads_from_it():
    out = nb.stdout(NB1, "unigram_entropy = ")
    entropy = nb.number(r"entropy: ([\d.]+) nats", out)
    first, average = nb.number(r"first ([\d.]+)", out), nb.number(r"average ([\d.]+)", out)
    assert abs(first - math.log(65)) < 0.05, "the first batch should cost the blind guess"
    assert average == round(nb.number(r"epoch average:\s+([\d.]+)", nb.stdout(NB1, LSTM_CELL)), 2)
    prose = nb.markdown(NB1, "The first batch costs about")
    _rounded(re.search(r"first batch costs about ([\d.]+) nats", prose).group(1), first)
    _rounded(re.search(r"letter-frequency line \(about ([\d.]+) nats", prose).group(1), entropy)
    _rounded(re.search(r"The epoch's average, about ([\d.]+) nats", prose).group(1), average)
    assert f"{average:.1f}" == "3.2", "the prose calls it the same kind of number as the book's 3.2"
    one_gram = _table("baselines = pd.DataFrame(rows)")["1-gram"][1]
    assert entropy < one_gram, "the prose says the entropy is a little below the 1-gram's validation loss"
    _rounded(re.search(r"validation loss \(about ([\d.]+) nats\)", prose).group(1), one_gram)


# --- the exercises' solutions, computed again --------------------------------------------------------

@pytest.fixture(scope="module")
def split(shakespeare):
    from textgen_helpers.vocabulary import Vocabulary
    from textgen_helpers.windows import split_train_validation

    vocab = Vocabulary.from_text(shakespeare.text)
    return vocab, *split_train_validation(vocab.encode(shakespeare.text), 0.1)


def test_exercise_1_s_solution_gives_what_longer_n_grams_score(split):
    from textgen_helpers.ngram import NgramModel

    vocab, train_ids, val_ids = split
    solution = " ".join(nb.markdown(NB1, "## Exercises").split())
    validation, training = {}, {}
    for order in (5, 6, 7):
        model = NgramModel(order, len(vocab)).fit(train_ids)
        validation[order] = model.cross_entropy(val_ids, context=train_ids)
        training[order] = model.cross_entropy(train_ids[-100_000:])
    assert min(validation, key=validation.get) == 5
    assert f"lowest there ({validation[5]:.3f} nats)" in solution
    assert f"6- and 7-gram ({validation[6]:.3f}, {validation[7]:.3f})" in solution
    assert f"keeps falling ({training[5]:.3f}, {training[6]:.3f}, {training[7]:.3f})" in solution


def test_exercise_2_s_full_stop_was_never_seen_after_its_context_and_costs_many_typical_characters(split):
    from textgen_helpers.ngram import NgramModel

    vocab, train_ids, val_ids = split
    assert vocab.decode(val_ids[33:42]) == "Baptista.", "exercise 2: i = 41 is the full stop after Baptista"
    assert "ta." not in vocab.decode(train_ids), "exercise 2: no 'ta' in the training text is followed by one"
    nats = -NgramModel(5, len(vocab)).fit(train_ids).log_probs(val_ids, context=train_ids)
    median = float(sorted(nats)[len(nats) // 2])
    assert nats[41] > 5 * median, f"the solution says many times a typical character: {nats[41]} nats"
    assert nats[41] / len(nats) < 1e-3, "the solution says it adds well under a thousandth of a nat"
