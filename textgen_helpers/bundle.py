"""Model bundles: a folder that holds everything needed to generate, and nothing of the corpus.

::

    my-model/
      model.keras    the Keras model (architecture and weights)
      vocab.json     the characters, in id order
      config.json    layer sizes, framing, sample_len, corpus name and sha256, versions, history

``load_bundle`` checks every part and that they fit together (``config.json`` holds a fingerprint
of the vocabulary), so generating never needs the corpus and never silently uses the wrong
vocabulary. ``model.keras`` uses only Keras's own layers: ``keras.models.load_model`` reads it
without this package.

``save_bundle`` never deletes what it did not write: it replaces a folder only if it is empty or
holds a bundle and nothing else, and refuses any other folder with a message that names it. The
replacement is atomic (see :func:`~textgen_helpers.files.replaced_folder`): at every instant the
folder holds the old bundle or the new one, whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .checks import check_scalar
from .files import check_folder_is_free, json_records, replaced_folder
from .generation import FastGenerator, one_or_many
from .model import (
    format_layer_sizes,
    is_one_hot_layer,
    lstm_layer_sizes,
    model_dropout,
    model_embedding_dim,
    model_framing,
    model_vocab_size,
    one_hot_size,
    parameter_count,
    set_sample_len,
)
from .runtime import backend_versions, import_keras
from .vocabulary import Vocabulary

keras = import_keras()

MODEL_FILE, VOCAB_FILE, CONFIG_FILE = "model.keras", "vocab.json", "config.json"
SHIPPED_BUNDLE = "shakespeare-128x2"  # in data/bundles/: trained by `make bundle` with the project's own CLI
BUNDLE_FILES = (MODEL_FILE, VOCAB_FILE, CONFIG_FILE)
BUNDLE_FORMAT = 2
BUNDLE_KEY = "textgen_bundle"  # in config.json: marks a folder as a bundle that save_bundle may replace


class BundleError(ValueError):
    """A model bundle is incomplete, unreadable, or its parts do not fit together."""


@dataclass
class Bundle:
    """A loaded bundle: ``model``, ``vocab`` and ``config``; ``generate()`` continues a seed text."""

    path: Path
    model: keras.Model
    vocab: Vocabulary
    config: dict
    _generator: FastGenerator | None = field(default=None, repr=False)

    @property
    def sample_len(self) -> int:
        return int(self.config["sample_len"])

    @property
    def framing(self) -> str:
        return self.config["framing"]

    @property
    def lstm_layer_sizes(self) -> str:
        return self.config["lstm_layer_sizes"]

    @property
    def default_seed_text(self) -> str:
        """The seed text the model was sampled from during training (held-out text of its corpus)."""
        return self.config.get("seed_text") or self.vocab.chars[0]

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.config.get("history") or [])

    @property
    def generator(self) -> FastGenerator:
        if self._generator is None:
            self._generator = FastGenerator(self.model, self.vocab)
        return self._generator

    def generate(self, seed_text: str | None = None, length: int = 200, temperature=0.5, *,
                 seed: int = 0, unknown: str = "error", top_k: int | None = None,
                 top_p: float | None = None) -> str | list[str]:
        """Continue ``seed_text`` (default: :attr:`default_seed_text`) by ``length`` characters.

        One temperature gives a string; a list of temperatures gives a list, one text each.
        ``top_k``/``top_p`` filter every draw (see :func:`~textgen_helpers.sampling.sample`).
        """
        seed_text = self.default_seed_text if seed_text is None else seed_text
        texts = self.generator(seed_text, length, temperature, seed=seed, window=self.sample_len, unknown=unknown,
                               top_k=top_k, top_p=top_p)
        return one_or_many(temperature, texts)


def save_bundle(
    path: str | os.PathLike,
    model: keras.Model,
    vocab: Vocabulary,
    *,
    sample_len: int,
    training: dict | None = None,
    history: pd.DataFrame | None = None,
    corpus=None,
    seed_text: str | None = None,
) -> Path:
    """Write ``model``, ``vocab`` and their settings to the folder ``path``.

    ``path`` may be new, an empty folder, or a bundle folder (which is replaced atomically: a
    reader sees the old bundle or the new one, never a mix). Any other folder, or a file, is
    refused with a :class:`BundleError` and left exactly as it was.

    Args:
        sample_len: the window length the model was trained on.
        training: the training settings (``TrainingConfig.to_dict()``), kept for the record.
        history: the training history DataFrame.
        corpus: a :class:`~textgen_helpers.corpus.Corpus` (or a dict with name and sha256).
        seed_text: the text the model was sampled from during training; the default seed.
    """
    if model_vocab_size(model) != len(vocab):
        raise BundleError(f"the model predicts {model_vocab_size(model)} characters but the vocabulary has "
                          f"{len(vocab)}; save the vocabulary the model was trained with")
    from . import __version__

    if corpus is not None and not isinstance(corpus, dict):
        corpus = {"name": corpus.name, "sha256": corpus.sha256, "characters": len(corpus.text)}
    config = {
        BUNDLE_KEY: BUNDLE_FORMAT,
        "format": BUNDLE_FORMAT,
        "lstm_layer_sizes": format_layer_sizes(lstm_layer_sizes(model)),
        "framing": model_framing(model),
        "vocab_size": len(vocab),
        "vocab_sha256": vocab_fingerprint(vocab),
        "sample_len": check_scalar(sample_len, "sample_len", int, min_value=1),
        "embedding_dim": model_embedding_dim(model),
        "dropout": model_dropout(model),
        "parameters": parameter_count(model),
        "seed_text": seed_text,
        "corpus": corpus,
        "training": training,
        "versions": {"textgen_helpers": __version__, "keras": keras.__version__, **backend_versions(),
                     "python": platform.python_version()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "history": [] if history is None else json_records(history),
    }
    path = Path(path)
    check_bundle_target(path)
    with replaced_folder(path, check_bundle_target, _is_bundle_file) as staging:
        # Weights and architecture only: a bundle is for generating (checkpoints keep optimizer state).
        export = keras.Model.from_config(_float32(model.get_config()))  # fresh, uncompiled, float32
        for layer in export.layers:
            layer.set_weights(model.get_layer(layer.name).get_weights())
        export.save(staging / MODEL_FILE)
        vocab.save(staging / VOCAB_FILE)
        (staging / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def check_bundle_target(path: str | os.PathLike) -> None:
    """Raise BundleError unless ``path`` is free for :func:`save_bundle`: missing, an empty folder,
    or a bundle folder holding nothing but its own files. Called before training starts, so a bad
    ``--save-path`` fails at once rather than after the run.
    """
    path = Path(path)
    check_folder_is_free(path, kind="a model bundle", action="save a model bundle to", verb="saving",
                         own_file=_is_bundle_file, is_ours=_is_bundle_config(path / CONFIG_FILE),
                         example="my-model", error=BundleError)


def vocab_fingerprint(vocab: Vocabulary) -> str:
    """sha256 of the vocabulary's characters in id order: two vocabularies match iff their fingerprints do."""
    return hashlib.sha256(json.dumps(list(vocab.chars), ensure_ascii=False).encode("utf-8")).hexdigest()


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Load and check a bundle folder written by :func:`save_bundle` (or ``textgen train --save-path``)."""
    path = Path(path)
    if not path.is_dir():
        what = "is a file, not a bundle folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"model bundle {path} {what}; train one with `textgen train CORPUS --save-path "
                                f"{path}`, or use the one that ships with the package: {_shipped_path()}")
    missing = [name for name in BUNDLE_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"model bundle {path} is missing {', '.join(missing)}; a bundle is the folder that "
                          f"`textgen train --save-path` (or save_bundle()) writes, holding all three")
    try:
        config = json.loads((path / CONFIG_FILE).read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path / CONFIG_FILE} is not valid JSON ({err})") from None
    for key in ("format", "lstm_layer_sizes", "framing", "vocab_size", "sample_len"):
        if key not in config:
            raise BundleError(f"{path / CONFIG_FILE} has no {key!r}; it was not written by save_bundle()")
    if config["format"] > BUNDLE_FORMAT:
        raise BundleError(f"model bundle {path} has format {config['format']}, newer than this textgen_helpers "
                          f"reads ({BUNDLE_FORMAT}); upgrade textgen-helpers")
    try:
        vocab = Vocabulary.load(path / VOCAB_FILE)
    except (ValueError, UnicodeDecodeError) as err:
        raise BundleError(f"{path / VOCAB_FILE}: {err}") from None
    try:
        model = keras.saving.load_model(path / MODEL_FILE, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for a damaged file
        backend = keras.backend.backend()
        raise BundleError(f"{path / MODEL_FILE} could not be loaded as a Keras model on the {backend} backend: "
                          f"{err}. If the file is whole, try another backend (KERAS_BACKEND=tensorflow, jax or "
                          f"torch; textgen --backend), or save the bundle again from its run") from None
    _check_fits(path, model, vocab, config)
    set_sample_len(model, config["sample_len"])  # so tg.generate(bundle.model, ...) primes as bundle.generate does
    return Bundle(path=path, model=model, vocab=vocab, config=config)


def as_bundle(bundle: Bundle | str | os.PathLike) -> Bundle:
    """``bundle`` itself, or the bundle loaded from a folder path; anything else is a ValueError."""
    if isinstance(bundle, (str, os.PathLike)):
        return load_bundle(bundle)
    if not isinstance(bundle, Bundle):
        raise ValueError(f"expected a model bundle or the path of its folder, got {type(bundle).__name__}; load one "
                         f"with tg.load_bundle(path) or tg.shipped_bundle()")
    return bundle


def shipped_bundle(name: str = SHIPPED_BUNDLE) -> Bundle:
    """The small bundle that ships with the package, so the slider works before you train anything."""
    path = _shipped_path(name)
    if not path.is_dir():
        available = sorted(p.name for p in path.parent.iterdir() if p.is_dir()) if path.parent.is_dir() else []
        raise FileNotFoundError(f"no shipped bundle named {name!r}; the package ships {available or 'none'}")
    return load_bundle(path)


def _shipped_path(name: str = SHIPPED_BUNDLE) -> Path:
    """Where the package's data holds the shipped bundle ``name`` (data/bundles/ in a checkout)."""
    from importlib import resources

    return Path(str(resources.files("textgen_helpers.data").joinpath("bundles", name)))


def _check_fits(path: Path, model: keras.Model, vocab: Vocabulary, config: dict) -> None:
    problems = []
    if model_vocab_size(model) != len(vocab):
        problems.append(f"the model predicts {model_vocab_size(model)} characters but vocab.json lists {len(vocab)}")
    input_size = _input_vocab_size(model)
    if input_size is not None and input_size != len(vocab):
        problems.append(f"the model reads {input_size} characters but vocab.json lists {len(vocab)}")
    if config.get("vocab_sha256") not in (None, vocab_fingerprint(vocab)):
        problems.append("vocab.json is not the vocabulary the model was saved with (its characters differ from the "
                        "fingerprint in config.json)")
    if config["vocab_size"] != len(vocab):
        problems.append(f"config.json says {config['vocab_size']} characters but vocab.json lists {len(vocab)}")
    if config["framing"] != model_framing(model):
        problems.append(f"config.json says {config['framing']} but the model is {model_framing(model)}")
    if config["lstm_layer_sizes"] != format_layer_sizes(lstm_layer_sizes(model)):
        problems.append(f"config.json says LSTM sizes {config['lstm_layer_sizes']} but the model has "
                        f"{format_layer_sizes(lstm_layer_sizes(model))}")
    if problems:
        raise BundleError(f"model bundle {path} does not fit together: {'; '.join(problems)}. Its files come from "
                          f"different runs; save the bundle again from one run.")


def _float32(config):
    """The model's config with mixed-precision policies replaced by float32, so bundles load anywhere."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32(value) for value in config]
    return config


def _is_bundle_file(name: str) -> bool:
    return name in BUNDLE_FILES


def _is_bundle_config(path: Path) -> bool:
    try:
        config = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and BUNDLE_KEY in config


def _input_vocab_size(model: keras.Model) -> int | None:
    for layer in model.layers:
        if is_one_hot_layer(layer):
            return one_hot_size(layer)
        if isinstance(layer, keras.layers.Embedding):
            return layer.input_dim
    if model_framing(model) == "seq2one":
        return int(model.inputs[0].shape[-1])
    return None
