"""Export to TensorFlow.js: a model bundle as a standard LayersModel that a web page can load.

::

    web-model/
      model.json            modelTopology (the layers and how they connect) and weightsManifest
      group1-shard1of1.bin  the weights: float32, little-endian, one after another, cut into 4 MB shards
      textgen.json          what a page needs besides the model: the vocabulary, sample_len, the seed
                            text and the default length and temperatures

Any TensorFlow.js 4 page loads it with ``tf.loadLayersModel("web-model/model.json")``; ``web/``
holds ours (``make web``). ``model.json`` is written here rather than by the ``tensorflowjs`` pip
converter (4.22, 2024): that package pulls in TensorFlow 2.19, tf_keras, JAX and
tensorflow-decision-forests, whose import fails in a fresh environment (its protobuf code needs a
newer protobuf than TensorFlow 2.19 allows); and with that import stubbed out, the ``model.json`` it
writes for a Keras 3 model keeps Keras 3's layout (``batch_shape``, keyword-style ``inbound_nodes``),
which TensorFlow.js 4.22 refuses to load.

TensorFlow.js reads the Keras 2 layout: ``{"class_name": "LSTM", "config": {...}}`` per layer,
``batch_input_shape`` on the input, ``inbound_nodes`` as ``[[["layer", 0, 0, {}]]]``. It fills a
missing setting with *its* default, and some differ from Keras 3's: an LSTM without
``recurrent_activation`` gets ``hardSigmoid``, not ``sigmoid``. So every layer's settings are
written out in full, and only settings that TensorFlow.js understands.

Only the layers :func:`~textgen_helpers.model.build_model` makes are exported (the input, the
one-hot layer or a learned ``Embedding``, ``LSTM``, ``Dropout``, ``Dense``); any other layer is
refused with a message that names it. Like :func:`~textgen_helpers.bundle.save_bundle`,
``export_tfjs`` never deletes what it did not write, and replaces an earlier export atomically
(:func:`~textgen_helpers.files.replaced_folder`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .bundle import Bundle, as_bundle, vocab_fingerprint
from .checks import check_scalar
from .files import check_folder_is_free, replaced_folder
from .model import is_one_hot_layer
from .runtime import import_keras
from .sampling import BOOK_TEMPERATURES

keras = import_keras()

MODEL_JSON, SETTINGS_JSON = "model.json", "textgen.json"
EXPORT_KEY = "textgen_export"  # in textgen.json: marks a folder as an export that export_tfjs may replace
EXPORT_FORMAT = 1
SHARD_BYTES = 4 * 1024 * 1024  # the tensorflowjs converter's default shard size
SHARD_NAME = re.compile(r"group1-shard\d+of\d+\.bin")
DEFAULT_LENGTH, DEFAULT_TEMPERATURE = 200, 0.5  # the page's defaults, as `textgen generate`'s
# Activations whose definition is the same in Keras 3 and TensorFlow.js. Not hard_sigmoid: Keras 3's
# is relu6(x + 3) / 6, TensorFlow.js's 0.2 x + 0.5.
LSTM_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")
DENSE_ACTIVATIONS = (*LSTM_ACTIVATIONS, "softmax")
INITIALIZERS = ("Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "Identity",
                "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Orthogonal")  # same class name in both
SUPPORTED = "the input, the one-hot layer or a learned Embedding, LSTM, Dropout and Dense (what build_model makes)"


class ExportError(ValueError):
    """A model cannot be exported to TensorFlow.js, or the folder to export to is not free."""


def export_tfjs(bundle: Bundle | str | os.PathLike, out_dir: str | os.PathLike, *,
                shard_bytes: int = SHARD_BYTES) -> Path:
    """Write ``bundle`` (a :class:`~textgen_helpers.bundle.Bundle` or its folder) to ``out_dir`` as a
    TensorFlow.js LayersModel: ``model.json``, its weight shards, and ``textgen.json``.

    ``out_dir`` may be new, an empty folder, or an earlier export (replaced at once: a reader sees
    the old files or the new ones). Any other folder, or a file, is refused with an
    :class:`ExportError` and left exactly as it was. Returns ``out_dir`` as a Path.

    Args:
        shard_bytes: the size of each weight file in bytes; the weights (float32, 4 bytes each: about
            1 MB for the shipped 2x128 model) are cut into as many as needed.
    """
    shard_bytes = check_scalar(shard_bytes, "shard_bytes", int, min_value=4,
                               hint="use a size in bytes such as 4194304 (4 MB, the converter's default)")
    out_dir = Path(out_dir)
    check_export_target(out_dir)  # before loading: a bad folder fails at once
    bundle = as_bundle(bundle)
    topology, weights = tfjs_layers_model(bundle.model)  # refuses an unsupported layer before anything is written
    data = b"".join(np.asarray(value, dtype="<f4").tobytes() for _, value in weights)
    count = max(1, -(-len(data) // shard_bytes))
    paths = [f"group1-shard{i}of{count}.bin" for i in range(1, count + 1)]
    manifest = [{"name": name, "shape": list(np.shape(value)), "dtype": "float32"} for name, value in weights]
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras {keras.__version__}",
        "convertedBy": f"textgen_helpers {_version()} (textgen_helpers.export)",
        "modelTopology": topology,
        "weightsManifest": [{"paths": paths, "weights": manifest}],
    }
    settings = {
        EXPORT_KEY: EXPORT_FORMAT,
        "model": MODEL_JSON,
        "vocab": list(bundle.vocab.chars),
        "vocab_sha256": vocab_fingerprint(bundle.vocab),
        "framing": bundle.framing,
        "lstm_layer_sizes": bundle.lstm_layer_sizes,
        "sample_len": bundle.sample_len,
        "seed_text": bundle.default_seed_text,
        "length": DEFAULT_LENGTH,
        "temperature": DEFAULT_TEMPERATURE,
        "temperatures": list(BOOK_TEMPERATURES),
        "bundle": {"name": bundle.path.name, "corpus": (bundle.config.get("corpus") or {}).get("name"),
                   "created": bundle.config.get("created"), "versions": bundle.config.get("versions")},
    }
    try:
        # the files are readable by all: a web server serves them
        with replaced_folder(out_dir, check_export_target, _is_export_file) as staging:
            for k, path in enumerate(paths):
                (staging / path).write_bytes(data[k * shard_bytes:(k + 1) * shard_bytes])
            (staging / MODEL_JSON).write_text(json.dumps(model_json, ensure_ascii=False), encoding="utf-8")
            (staging / SETTINGS_JSON).write_text(json.dumps(settings, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as err:  # a parent that is a file, a folder we may not write to, a full disk
        raise ExportError(f"cannot write the export to {out_dir}: {err.strerror or err}. Choose a folder you can "
                          "write to, under a folder that exists (or can be made); nothing was changed") from None
    return out_dir


def check_export_target(path: str | os.PathLike) -> None:
    """Raise ExportError unless ``path`` is free for :func:`export_tfjs`: missing, an empty folder, or
    an earlier export holding nothing but its own files."""
    path = Path(path)
    check_folder_is_free(path, kind="a TensorFlow.js export", action="export to", verb="exporting",
                         own_file=_is_export_file,
                         is_ours=_is_export_settings(path / SETTINGS_JSON), example="web-model", error=ExportError)


def _is_export_file(name: str) -> bool:
    return name in (MODEL_JSON, SETTINGS_JSON) or bool(SHARD_NAME.fullmatch(name))


def tfjs_layers_model(model: keras.Model) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """``model`` as TensorFlow.js reads it: (the ``modelTopology`` dict, ``[(weight name, float32 array)]``).

    Raises ExportError naming the first layer, or setting, that TensorFlow.js would not read the same.
    """
    config = model.get_config()
    if not isinstance(config, dict) or "layers" not in config or "input_layers" not in config:
        raise ExportError(f"export_tfjs reads functional models (keras.Model(inputs, outputs)), as build_model makes; "
                          f"{model.name!r} is a {type(model).__name__}")
    configs = {entry["name"]: entry for entry in config["layers"]}
    layers, weights = [], []
    for layer in model.layers:
        class_name, layer_config, layer_weights = _layer(layer)
        layers.append({"class_name": class_name, "name": layer.name, "config": {"name": layer.name, **layer_config},
                       "inbound_nodes": _inbound_nodes(layer, configs[layer.name].get("inbound_nodes", []))})
        weights += [(f"{layer.name}/{name}", value) for name, value in layer_weights]
    topology = {"class_name": "Model", "config": {"name": model.name, "layers": layers,
                                                  "input_layers": _endpoints(config["input_layers"]),
                                                  "output_layers": _endpoints(config["output_layers"])}}
    return topology, weights


# --- one layer at a time: (TensorFlow.js class name, Keras 2-style config, [(weight name, value)]) ---

def _layer(layer):
    if isinstance(layer, keras.layers.InputLayer):
        config = layer.get_config()
        return "InputLayer", {"batch_input_shape": list(config["batch_shape"]), "dtype": config["dtype"],
                              "sparse": False}, []
    if isinstance(layer, keras.layers.Embedding):
        if layer.mask_zero:
            raise _unsupported(layer, "mask_zero=True")
        one_hot = is_one_hot_layer(layer)
        return "Embedding", _embedding_config(layer.input_dim, layer.output_dim, trainable=layer.trainable,
                                              one_hot=one_hot), [("embeddings", _value(layer.embeddings))]
    if isinstance(layer, keras.layers.LSTM):
        config = layer.get_config()
        for option in ("go_backwards", "return_state", "stateful"):
            if config.get(option):
                raise _unsupported(layer, f"{option}=True")
        return "LSTM", {
            **_common(layer),
            "units": layer.units,
            # Written out: TensorFlow.js's own default recurrent_activation is hard_sigmoid.
            "activation": _activation(layer, config["activation"], LSTM_ACTIVATIONS),
            "recurrent_activation": _activation(layer, config["recurrent_activation"], LSTM_ACTIVATIONS),
            "use_bias": bool(config["use_bias"]),
            "kernel_initializer": _initializer(config["kernel_initializer"]),
            "recurrent_initializer": _initializer(config["recurrent_initializer"]),
            "bias_initializer": _initializer(config["bias_initializer"]),
            "unit_forget_bias": bool(config["unit_forget_bias"]),
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": float(config["dropout"]),
            "recurrent_dropout": float(config["recurrent_dropout"]),
            "implementation": 2,
            "return_sequences": bool(config["return_sequences"]),
            "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
        }, [(w.name, _value(w)) for w in layer.cell.weights]  # kernel, recurrent_kernel, bias: TensorFlow.js's names
    if isinstance(layer, keras.layers.Dropout):
        config = layer.get_config()
        return "Dropout", {**_common(layer), "rate": float(config["rate"]), "noise_shape": None, "seed": None}, []
    if isinstance(layer, keras.layers.Dense):
        config = layer.get_config()
        return "Dense", {
            **_common(layer),
            "units": layer.units,
            "activation": _activation(layer, config["activation"], DENSE_ACTIVATIONS),
            "use_bias": bool(config["use_bias"]),
            "kernel_initializer": _initializer(config["kernel_initializer"]),
            "bias_initializer": _initializer(config["bias_initializer"]),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None,
        }, [(w.name, _value(w)) for w in layer.weights]
    raise ExportError(f"cannot export layer {layer.name!r} ({type(layer).__name__}) to TensorFlow.js: export_tfjs "
                      f"writes {SUPPORTED}, and no other layer; nothing was written")


def _embedding_config(input_dim: int, output_dim: int, *, trainable: bool, one_hot: bool) -> dict:
    initializer = ({"class_name": "Identity", "config": {"gain": 1.0}} if one_hot else
                   {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": None}})
    return {"trainable": bool(trainable), "dtype": "float32",
            "input_dim": int(input_dim), "output_dim": int(output_dim),
            "embeddings_initializer": initializer, "embeddings_regularizer": None, "activity_regularizer": None,
            "embeddings_constraint": None, "mask_zero": False}


def _common(layer) -> dict:
    return {"trainable": bool(layer.trainable), "dtype": "float32"}


def _activation(layer, name, allowed: tuple[str, ...]) -> str:
    name = "linear" if name is None else name
    if name not in allowed:
        raise _unsupported(layer, f"activation {name!r} (TensorFlow.js computes the same only for "
                                  f"{', '.join(allowed)})")
    return name


def _initializer(config) -> dict:
    """An initializer TensorFlow.js knows by the same name (the weights are loaded over it anyway)."""
    name = config.get("class_name") if isinstance(config, dict) else config
    inner = (config.get("config") if isinstance(config, dict) else None) or {}
    if name not in INITIALIZERS:
        return {"class_name": "Zeros", "config": {}}
    keep = ("seed", "gain", "minval", "maxval", "mean", "stddev", "value")
    return {"class_name": name, "config": {key: inner[key] for key in keep if key in inner}}


def _inbound_nodes(layer, nodes: list) -> list:
    """Keras 3's ``{"args": [keras tensor], "kwargs": {...}}`` -> Keras 2's ``[["layer", node, tensor, {}]]``."""
    converted = []
    for node in nodes:
        args = node.get("args", []) if isinstance(node, dict) else []
        tensors = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        inputs = []
        for tensor in tensors:
            history = tensor.get("config", {}).get("keras_history") if isinstance(tensor, dict) else None
            if not history or len(args) != 1 or (isinstance(node, dict) and _extra_kwargs(node.get("kwargs", {}))):
                raise _unsupported(layer, "a call with arguments other than one input tensor")
            inputs.append([history[0], int(history[1]), int(history[2]), {}])
        converted.append(inputs)
    return converted


def _extra_kwargs(kwargs: dict) -> bool:
    """True if a layer call passed anything but the defaults Keras records (training=False, mask=None)."""
    return any(not (key == "training" and value is False) and not (key == "mask" and value is None)
               for key, value in kwargs.items())


def _endpoints(entries: list) -> list:
    """Keras 3 writes a single input as ``["name", 0, 0]``; TensorFlow.js wants a list of those."""
    return [list(entries)] if entries and isinstance(entries[0], str) else [list(entry) for entry in entries]


def _unsupported(layer, what: str) -> ExportError:
    return ExportError(f"cannot export layer {layer.name!r} ({type(layer).__name__}) to TensorFlow.js: it has {what}; "
                       f"export_tfjs writes {SUPPORTED} with their default settings; nothing was written")


def _value(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float32)


def _is_export_settings(path: Path) -> bool:
    try:
        settings = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(settings, dict) and EXPORT_KEY in settings


def _version() -> str:
    from . import __version__

    return __version__
