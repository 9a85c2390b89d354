import json

import numpy as np
import pytest

from textgen_helpers.vocabulary import Vocabulary


def test_ids_follow_sorted_code_points_not_first_occurrence():
    assert Vocabulary.from_text("hello world").chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert Vocabulary.from_text("dlrow olleh") == Vocabulary.from_text("hello world")


def test_tiny_shakespeare_has_65_characters_starting_with_newline_and_space(shakespeare):
    vocab = Vocabulary.from_text(shakespeare.text)
    assert len(vocab) == vocab.size == 65
    assert vocab.chars[:2] == ("\n", " ")
    assert vocab.chars[-1] == "z"


def test_encode_then_decode_gives_the_text_back(shakespeare):
    vocab = Vocabulary.from_text(shakespeare.text)
    ids = vocab.encode(shakespeare.text)
    assert ids.dtype == np.int32 and ids.shape == (len(shakespeare.text),)
    assert vocab.decode(ids) == shakespeare.text


def test_encode_agrees_with_a_plain_dictionary_lookup_across_chunks(shakespeare):
    # 1.1 million characters: more than one of encode()'s internal blocks.
    vocab = Vocabulary.from_text(shakespeare.text)
    index = {c: i for i, c in enumerate(vocab.chars)}
    expected = np.fromiter((index[c] for c in shakespeare.text), dtype=np.int32, count=len(shakespeare.text))
    np.testing.assert_array_equal(vocab.encode(shakespeare.text), expected)


def test_json_round_trip_keeps_order_and_characters(tmp_path):
    vocab = Vocabulary.from_text("Привет, мир! \n\t\u0007")
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == vocab
    assert "Привет"[0] in (tmp_path / "vocab.json").read_text("utf-8")  # readable, not \\u escapes


@pytest.mark.parametrize("document, message", [
    ("not json", "not a vocabulary"),
    ('{"size": 2}', "not a vocabulary"),
    ('{"chars": ["b", "a"]}', "code-point order"),
    ('{"chars": ["a", "a"]}', "distinct"),
    ('{"chars": ["ab"]}', "single characters"),
    ('{"chars": ["a", "b"], "size": 3}', "size 3"),
])
def test_malformed_vocabulary_json_is_refused(document, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_json(document)


def test_unknown_characters_raise_an_error_that_names_them():
    vocab = Vocabulary.from_text("abcf ")
    with pytest.raises(ValueError) as err:
        vocab.encode("a café €\u0007")
    message = str(err.value)
    assert "3 characters not in the vocabulary" in message
    assert "'é' (U+00E9 LATIN SMALL LETTER E WITH ACUTE)" in message
    assert "U+20AC" in message and "U+0007" in message and "unknown='replace'" in message


def test_unknown_characters_can_be_skipped_or_replaced():
    vocab = Vocabulary.from_text("abcf ")
    assert vocab.decode(vocab.encode("a café", unknown="skip")) == "a caf"
    assert vocab.decode(vocab.encode("a café", unknown="replace")) == "a caf "
    assert vocab.decode(vocab.encode("a café", unknown="replace", replacement="a")) == "a cafa"
    with pytest.raises(ValueError, match="replacement 'z' is not in the vocabulary"):
        vocab.encode("é", unknown="replace", replacement="z")
    with pytest.raises(ValueError, match="unknown must be one of"):
        vocab.encode("a", unknown="ignore")


def test_unknown_lists_characters_in_text_order():
    assert Vocabulary.from_text("ab").unknown("xaybx") == ["x", "y"]


def test_the_russian_corpus_round_trips_with_126_characters(mirror, tmp_path):
    from textgen_helpers.corpus import load_corpus

    text = load_corpus("dostoevsky-ru", cache_dir=tmp_path, mirror=str(mirror), progress=False).text
    vocab = Vocabulary.from_text(text)
    assert len(vocab) == 126 and "Ж" in vocab and "\u0007" in vocab
    assert vocab.decode(vocab.encode(text)) == text
    again = Vocabulary.from_json(vocab.to_json())
    assert again == vocab and json.loads(vocab.to_json())["size"] == 126


def test_decode_rejects_ids_outside_the_vocabulary():
    vocab = Vocabulary.from_text("ab")
    assert vocab.decode([]) == ""
    with pytest.raises(ValueError, match="id 2 is outside"):
        vocab.decode([0, 2])
    with pytest.raises(ValueError, match="id -1"):
        vocab.decode([-1])


def test_empty_text_gives_no_vocabulary():
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.from_text("")
