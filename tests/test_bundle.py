import json
import shutil

import numpy as np
import pytest

from textgen_helpers.bundle import BUNDLE_FILES, BundleError, load_bundle, save_bundle
from textgen_helpers.runtime import import_keras
from textgen_helpers.vocabulary import Vocabulary

keras = import_keras()


@pytest.fixture
def bundle_dir(trained, shakespeare, tmp_path):
    path = tmp_path / "bundle"
    save_bundle(path, trained.model, trained.vocab, sample_len=trained.config.sample_len,
                training=trained.config.to_dict(), history=trained.history, corpus=shakespeare,
                seed_text=trained.seed_text)
    return path


def test_a_bundle_holds_the_model_the_vocabulary_and_the_settings(bundle_dir, trained):
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted(BUNDLE_FILES)
    config = json.loads((bundle_dir / "config.json").read_text())
    assert config["lstm_layer_sizes"] == "64" and config["framing"] == "seq2seq"
    assert config["sample_len"] == 40 and config["vocab_size"] == 65
    assert config["corpus"]["name"] == "shakespeare"
    assert config["corpus"]["sha256"] == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    backend = keras.backend.backend()
    assert set(config["versions"]) >= {"textgen_helpers", "keras", "backend", backend}
    assert config["versions"]["backend"] == backend
    assert [row["epoch"] for row in config["history"]] == [1, 2, 3]
    assert config["training"]["batch_size"] == 64 and config["seed_text"] == trained.seed_text


def test_a_loaded_bundle_predicts_exactly_as_the_saved_model(bundle_dir, trained):
    bundle = load_bundle(bundle_dir)
    assert bundle.vocab == trained.vocab and bundle.sample_len == 40
    ids = trained.vocab.encode("ROMEO:\nWhat light")[None]
    np.testing.assert_allclose(*(keras.ops.convert_to_numpy(m(ids)) for m in (bundle.model, trained.model)), atol=1e-6)
    assert bundle.history["epoch"].tolist() == [1, 2, 3]


def test_a_bundle_generates_with_no_corpus_around(bundle_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTGEN_DATA_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("TEXTGEN_CORPUS_MIRROR", str(tmp_path / "no-mirror"))
    bundle = load_bundle(bundle_dir)
    one = bundle.generate("JULIET:\n", 50, 0.5, seed=1)
    several = bundle.generate(length=30, temperature=[0, 1.0])
    assert isinstance(one, str) and len(one) == 50
    assert len(several) == 2 and all(len(t) == 30 for t in several)
    assert not (tmp_path / "empty-cache").exists()


@pytest.mark.parametrize("missing", BUNDLE_FILES)
def test_a_missing_part_is_named(bundle_dir, missing):
    (bundle_dir / missing).unlink()
    with pytest.raises(BundleError, match=f"missing {missing}"):
        load_bundle(bundle_dir)


def test_a_vocabulary_that_does_not_fit_the_model_is_refused(bundle_dir):
    Vocabulary.from_text("abcdefghij").save(bundle_dir / "vocab.json")
    with pytest.raises(BundleError) as err:
        load_bundle(bundle_dir)
    assert "predicts 65 characters but vocab.json lists 10" in str(err.value)
    assert "does not fit together" in str(err.value)


def test_settings_that_do_not_match_the_model_are_refused(bundle_dir):
    config = json.loads((bundle_dir / "config.json").read_text())
    config["lstm_layer_sizes"] = "128,128"
    (bundle_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="LSTM sizes 128,128 but the model has 64"):
        load_bundle(bundle_dir)


def test_damaged_files_are_reported_by_name(bundle_dir):
    (bundle_dir / "config.json").write_text("{not json")
    with pytest.raises(BundleError, match="config.json is not valid JSON"):
        load_bundle(bundle_dir)


def test_a_damaged_model_file_is_reported(bundle_dir):
    (bundle_dir / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BundleError, match=f"model.keras could not be loaded as a Keras model on the "
                                          f"{keras.backend.backend()} backend") as refused:
        load_bundle(bundle_dir)
    assert "KERAS_BACKEND=" in str(refused.value)  # what to do: another backend, or save it again


def test_a_bundle_from_a_newer_format_asks_for_an_upgrade(bundle_dir):
    config = json.loads((bundle_dir / "config.json").read_text())
    config["format"] = 99
    (bundle_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="upgrade"):
        load_bundle(bundle_dir)


def test_a_missing_folder_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="textgen train CORPUS --save-path"):
        load_bundle(tmp_path / "nothing-here")


def test_saving_over_a_bundle_replaces_it_whole(bundle_dir, trained):
    save_bundle(bundle_dir, trained.model, trained.vocab, sample_len=40)
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted(BUNDLE_FILES)
    assert [p.name for p in bundle_dir.parent.iterdir()] == ["bundle"]  # no staging folders left
    assert load_bundle(bundle_dir).config["history"] == []


def test_saving_into_a_folder_that_is_not_a_bundle_is_refused_and_touches_nothing(trained, tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "thesis.tex").write_text("three years of work")
    with pytest.raises(BundleError) as err:
        save_bundle(folder, trained.model, trained.vocab, sample_len=40)
    assert str(folder) in str(err.value) and "thesis.tex" in str(err.value) and "not a model bundle" in str(err.value)
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]
    assert (folder / "thesis.tex").read_text() == "three years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no staging folder left beside it


def test_saving_into_a_folder_of_bundles_is_refused(bundle_dir, trained):
    models = bundle_dir.parent  # holds the bundle "bundle": like `--save-path models`
    with pytest.raises(BundleError, match="holds bundle"):
        save_bundle(models, trained.model, trained.vocab, sample_len=40)
    assert load_bundle(bundle_dir).lstm_layer_sizes == "64"


def test_a_bundle_with_a_users_file_beside_it_is_not_replaced(bundle_dir, trained):
    (bundle_dir / "notes.txt").write_text("my notes on this model")
    with pytest.raises(BundleError, match="a model bundle with other files beside it") as err:
        save_bundle(bundle_dir, trained.model, trained.vocab, sample_len=40)
    assert "with other files beside it (notes.txt)," in str(err.value)  # the bundle's own files are not listed
    assert (bundle_dir / "notes.txt").read_text() == "my notes on this model"


def test_saving_into_an_empty_folder_or_over_a_file(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    save_bundle(tmp_path / "empty", trained.model, trained.vocab, sample_len=40)
    assert load_bundle(tmp_path / "empty").lstm_layer_sizes == "64"
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match="it is a file"):
        save_bundle(tmp_path / "file", trained.model, trained.vocab, sample_len=40)
    assert (tmp_path / "file").read_text() == "x"


def test_a_vocabulary_with_the_same_size_but_other_characters_is_refused(bundle_dir, trained):
    chars = [c for c in trained.vocab.chars if c != "$"] + ["~"]  # 65 characters, but not the same ones
    Vocabulary("".join(chars)).save(bundle_dir / "vocab.json")
    with pytest.raises(BundleError, match="not the vocabulary the model was saved with"):
        load_bundle(bundle_dir)


def test_a_bundle_loads_with_plain_keras_without_this_package(bundle_dir):
    import os
    import subprocess
    import sys

    script = ("import sys, keras; m = keras.models.load_model(sys.argv[1]); "
              "assert not any(name.startswith('textgen_helpers') for name in sys.modules); print(m.count_params())")
    done = subprocess.run([sys.executable, "-c", script, str(bundle_dir / "model.keras")], capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == load_bundle(bundle_dir).model.count_params()


def test_saving_with_the_wrong_vocabulary_is_refused(trained, tmp_path):
    with pytest.raises(BundleError, match="save the vocabulary the model was trained with"):
        save_bundle(tmp_path / "b", trained.model, Vocabulary("abc"), sample_len=40)
    assert not (tmp_path / "b").exists()


def test_a_copied_bundle_still_loads(bundle_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    assert load_bundle(copy).lstm_layer_sizes == "64"


def test_a_refusal_names_the_first_five_files_and_counts_the_rest(tmp_path):
    from textgen_helpers.bundle import check_bundle_target

    folder = tmp_path / "full"
    folder.mkdir()
    for name in "abcdefg":
        (folder / f"{name}.txt").write_text(name)
    with pytest.raises(BundleError, match=r"\(it holds a.txt, b.txt, c.txt, d.txt, e.txt and 2 more\)"):
        check_bundle_target(folder)
