"""Export to TensorFlow.js: the files are read back here as TensorFlow.js reads them, without the .keras file."""

import json
from pathlib import Path

import numpy as np
import pytest

from textgen_helpers.bundle import Bundle, shipped_bundle
from textgen_helpers.export import ExportError, export_tfjs
from textgen_helpers.model import (
    build_model,
    call_model,
    format_layer_sizes,
    lstm_layer_sizes,
    model_framing,
)
from textgen_helpers.runtime import import_keras
from textgen_helpers.vocabulary import Vocabulary

keras = import_keras()

TEXT = "ROMEO:\nBut soft! what light through yonder window breaks?\n"
SMALL_VOCAB = Vocabulary.from_text("abcdefgh ijkl\n")


@pytest.fixture(scope="module")
def shipped() -> Bundle:
    return shipped_bundle()


@pytest.fixture(scope="module")
def exported(shipped, tmp_path_factory) -> Path:
    return export_tfjs(shipped, tmp_path_factory.mktemp("export") / "web-model")


def logits(model: keras.Model, ids) -> np.ndarray:
    """The model's output for ``ids`` as NumPy, on every backend (PyTorch's tensors that require grad too)."""
    return keras.ops.convert_to_numpy(call_model(model, ids))


def read_tfjs(folder: Path) -> keras.Model:
    """A Keras model built from ``model.json`` and its shards alone, reading each setting TensorFlow.js reads."""
    model_json = json.loads((folder / "model.json").read_text("utf-8"))
    assert model_json["format"] == "layers-model" and model_json["modelTopology"]["class_name"] == "Model"
    config = model_json["modelTopology"]["config"]
    tensors = {}
    for entry in config["layers"]:
        settings = entry["config"]
        if entry["class_name"] == "InputLayer":
            assert entry["inbound_nodes"] == []
            tensors[entry["name"]] = keras.Input(batch_shape=tuple(settings["batch_input_shape"]),
                                                 dtype=settings["dtype"], name=entry["name"])
            continue
        ((source, node, index, kwargs),) = entry["inbound_nodes"][0]  # one call, on one tensor
        assert len(entry["inbound_nodes"]) == 1 and (node, index, kwargs) == (0, 0, {})
        tensors[entry["name"]] = LAYERS[entry["class_name"]](settings)(tensors[source])
    inputs = [tensors[name] for name, _, _ in config["input_layers"]]
    outputs = [tensors[name] for name, _, _ in config["output_layers"]]
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs)
    values = read_weights(folder, model_json["weightsManifest"])
    for layer in model.layers:
        for weight in layer.weights:
            weight.assign(values.pop(f"{layer.name}/{weight.name}"))
    assert values == {}, f"weights in the shards that no layer has: {sorted(values)}"
    return model


def read_weights(folder: Path, manifest: list) -> dict[str, np.ndarray]:
    """The weightsManifest's arrays: each group's shards joined in order, float32 little-endian, one after another."""
    values = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            assert spec["dtype"] == "float32"
            count = int(np.prod(spec["shape"]))
            values[spec["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(spec["shape"])
            offset += 4 * count
        assert offset == len(data), "the shards hold more bytes than the manifest describes"
    return values


LAYERS = {
    "Embedding": lambda c: keras.layers.Embedding(c["input_dim"], c["output_dim"], trainable=c["trainable"],
                                                  name=c["name"]),
    "LSTM": lambda c: keras.layers.LSTM(c["units"], activation=c["activation"],
                                        recurrent_activation=c["recurrent_activation"], use_bias=c["use_bias"],
                                        return_sequences=c["return_sequences"], name=c["name"]),
    "Dropout": lambda c: keras.layers.Dropout(c["rate"], name=c["name"]),
    "Dense": lambda c: keras.layers.Dense(c["units"], activation=c["activation"], use_bias=c["use_bias"],
                                          name=c["name"]),
}


def as_bundle(model: keras.Model, path: Path, vocab: Vocabulary = SMALL_VOCAB) -> Bundle:
    """A Bundle as load_bundle returns it, for a model made here (no training: random weights, made larger)."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights and not isinstance(layer, keras.layers.Embedding):
            layer.set_weights([w + rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    config = {"sample_len": 10, "framing": model_framing(model), "seed_text": "abc",
              "lstm_layer_sizes": format_layer_sizes(lstm_layer_sizes(model))}
    return Bundle(path=path, model=model, vocab=vocab, config=config)


def model_input(bundle: Bundle, text: str):
    ids = bundle.vocab.encode(text)[None]
    return np.eye(len(bundle.vocab), dtype="float32")[ids] if bundle.framing == "seq2one" else ids


def test_the_export_read_back_gives_the_bundles_logits(shipped, exported):
    ids = model_input(shipped, TEXT)
    np.testing.assert_allclose(logits(read_tfjs(exported), ids), logits(shipped.model, ids), atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda v: build_model(v, "8,6", framing="seq2one", dropout=0.1, compile=False),
    lambda v: build_model(v, "8", embedding_dim=5, compile=False),
], ids=["seq2one", "embedding"])
def test_every_kind_of_model_build_model_makes_reads_back_the_same(make, tmp_path):
    bundle = as_bundle(make(len(SMALL_VOCAB)), tmp_path / "bundle")
    export_tfjs(bundle, tmp_path / "web-model")
    x = model_input(bundle, "a bad cafe\nhijk")
    expected = logits(bundle.model, x)
    assert np.ptp(expected) > 0.1  # far from uniform: a weight read into the wrong place would show
    np.testing.assert_allclose(logits(read_tfjs(tmp_path / "web-model"), x), expected, atol=1e-5)


def test_every_lstm_is_written_with_sigmoid_gates_and_tanh(exported):
    # TensorFlow.js's LSTM uses hard_sigmoid for the gates unless told otherwise; Keras 3 uses sigmoid.
    layers = json.loads((exported / "model.json").read_text())["modelTopology"]["config"]["layers"]
    lstms = [layer["config"] for layer in layers if layer["class_name"] == "LSTM"]
    assert len(lstms) == 2
    assert [(c["recurrent_activation"], c["activation"]) for c in lstms] == [("sigmoid", "tanh")] * 2


def test_the_topology_is_in_the_layout_tensorflow_js_reads(exported):
    config = json.loads((exported / "model.json").read_text())["modelTopology"]["config"]
    first = config["layers"][0]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_input_shape"] == [None, None]
    assert "batch_shape" not in first["config"]  # Keras 3's name, which TensorFlow.js does not know
    assert config["layers"][1]["inbound_nodes"] == [[["char_ids", 0, 0, {}]]]
    assert config["input_layers"] == [["char_ids", 0, 0]] and config["output_layers"] == [["next_char", 0, 0]]
    assert all(layer["config"].get("dtype", "float32") in ("float32", "int32") for layer in config["layers"])


def test_the_settings_file_holds_what_a_page_needs(shipped, exported):
    settings = json.loads((exported / "textgen.json").read_text("utf-8"))
    assert settings["vocab"] == list(shipped.vocab.chars) and settings["sample_len"] == 32
    assert settings["seed_text"] == shipped.default_seed_text and settings["framing"] == "seq2seq"
    assert settings["temperature"] == 0.5 and settings["temperatures"] == [0.0, 0.25, 0.5, 0.75]
    assert settings["length"] == 200 and settings["model"] == "model.json"
    assert settings["vocab_sha256"] == shipped.config["vocab_sha256"]


def test_weights_cut_into_several_shards_read_back_the_same(shipped, tmp_path):
    folder = export_tfjs(shipped, tmp_path / "web-model", shard_bytes=100_000)
    manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    assert manifest[0]["paths"] == [f"group1-shard{i}of10.bin" for i in range(1, 11)]
    assert [(folder / p).stat().st_size for p in manifest[0]["paths"]] == [100_000] * 9 + [74_088]
    ids = model_input(shipped, TEXT)
    np.testing.assert_allclose(logits(read_tfjs(folder), ids), logits(shipped.model, ids), atol=1e-5)


@pytest.mark.parametrize("layer, named", [
    (keras.layers.LayerNormalization(name="norm"), "layer 'norm' (LayerNormalization)"),
    (keras.layers.LSTM(8, return_sequences=True, recurrent_activation="hard_sigmoid", name="lstm_2"),
     "layer 'lstm_2' (LSTM) to TensorFlow.js: it has activation 'hard_sigmoid'"),
    (keras.layers.GRU(8, return_sequences=True, name="gru"), "layer 'gru' (GRU)"),
])
def test_a_layer_tensorflow_js_would_not_read_the_same_is_refused_by_name(layer, named, tmp_path):
    ids = keras.Input(shape=(None,), dtype="int32", name="char_ids")
    x = keras.layers.Embedding(len(SMALL_VOCAB), 4, name="embedding")(ids)
    x = keras.layers.LSTM(8, return_sequences=True, name="lstm_1")(x)
    model = keras.Model(ids, keras.layers.Dense(len(SMALL_VOCAB), name="next_char")(layer(x)))
    with pytest.raises(ExportError) as err:
        export_tfjs(as_bundle(model, tmp_path / "bundle"), tmp_path / "web-model")
    assert named in str(err.value) and "nothing was written" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_exporting_into_a_folder_that_is_not_an_export_is_refused_and_touches_nothing(shipped, tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("my own page")
    with pytest.raises(ExportError) as err:
        export_tfjs(shipped, folder)
    message = str(err.value)
    assert str(folder) in message and "index.html" in message and "not a TensorFlow.js export" in message
    assert "nothing was changed" in message
    assert [p.name for p in folder.iterdir()] == ["index.html"] and (folder / "index.html").read_text() == "my own page"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging folder left beside it


def test_an_export_with_a_users_file_beside_it_is_not_replaced(shipped, exported):
    (exported / "notes.txt").write_text("my notes")
    before = (exported / "model.json").read_bytes()
    try:
        with pytest.raises(ExportError, match="a TensorFlow.js export with other files beside it") as err:
            export_tfjs(shipped, exported)
        # only the user's file is named, and the sentence fits one file
        assert "with other files beside it (notes.txt)," in str(err.value) and "would delete it." in str(err.value)
        assert (exported / "notes.txt").read_text() == "my notes" and (exported / "model.json").read_bytes() == before
    finally:
        (exported / "notes.txt").unlink()


def test_exporting_over_an_earlier_export_replaces_it_whole(shipped, tmp_path):
    folder = export_tfjs(shipped, tmp_path / "web-model", shard_bytes=100_000)
    export_tfjs(shipped, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["group1-shard1of1.bin", "model.json", "textgen.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["web-model"]  # no staging or old folders left
    ids = model_input(shipped, TEXT)
    np.testing.assert_allclose(logits(read_tfjs(folder), ids), logits(shipped.model, ids), atol=1e-5)


def test_exporting_into_an_empty_folder_works_and_over_a_file_is_refused(shipped, tmp_path):
    (tmp_path / "empty").mkdir()
    export_tfjs(shipped.path, tmp_path / "empty")  # a bundle's folder works as well as a Bundle
    assert (tmp_path / "empty" / "model.json").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="it is a file"):
        export_tfjs(shipped, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_a_missing_bundle_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="textgen train CORPUS --save-path"):
        export_tfjs(tmp_path / "no-bundle", tmp_path / "web-model")
    assert not (tmp_path / "web-model").exists()


def test_a_folder_that_cannot_be_written_is_a_clear_error_that_leaves_nothing(shipped, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"notes.txt is a file, not a folder; .*nothing was changed"):
        export_tfjs(shipped, tmp_path / "notes.txt" / "web-model")  # under a file: no folder can be made there
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"

