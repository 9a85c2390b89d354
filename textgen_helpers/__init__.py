"""textgen_helpers: character-level text generation with stacked LSTMs in Keras 3.

The functions the notebooks call, one module a concept::

    corpus      load_corpus, registry                    the texts, fetched and verified
    vocabulary  Vocabulary                               characters <-> integer ids
    windows     onehot_windows, window_dataset, ...      cutting text into training examples
    model       build_model, parse_layer_sizes, ...      stacked LSTMs
    training    train, TrainingConfig, evaluate_loss     fit with curves, samples, checkpoints
    sampling    sample, apply_temperature                temperature, top-k and top-p
    strategies  measure_strategies, parse_strategies     what each sampling strategy writes, measured
    generation  generate, FastGenerator, generate_reference
    bundle      save_bundle, load_bundle                 a trained model you can share
    export      export_tfjs                              the model for TensorFlow.js, to generate in a web page
    ngram       NgramModel                               counting baselines
    activations lstm_trace, best_cells, ...              inside the LSTM, character by character
    plots       plot_history, LiveTraining, ...          figures in nats and bits
    widgets     TemperaturePanel, NextCharExplorer       the temperature slider
    distribute  make_strategy                            tf.distribute: several GPUs, machines, a TPU
    runtime     setup, set_seed, fast_mode               the notebook set-up

Names are imported on first use, so ``textgen --help`` does not wait for TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "corpus": ["Corpus", "CorpusError", "load_corpus", "registry", "corpus_status", "clean_text"],
    "vocabulary": ["Vocabulary"],
    "windows": ["split_train_validation", "window_starts", "count_windows", "estimate_onehot_memory",
                "onehot_windows", "random_onehot_windows", "window_dataset", "validation_windows"],
    "model": ["build_model", "compile_model", "parse_layer_sizes", "lstm_param_count", "cudnn_blockers",
              "nats_to_bits", "bits_to_nats", "OneHot"],
    "training": ["train", "TrainingConfig", "TrainingRun", "evaluate_loss", "TimeBudget", "Checkpoint",
                 "halve_lr_on_plateau"],
    "sampling": ["sample", "apply_temperature", "check_temperature", "BOOK_TEMPERATURES"],
    "strategies": ["Strategy", "parse_strategies", "measure_strategies", "measure_text", "known_words"],
    "generation": ["generate", "generate_reference", "FastGenerator"],
    "activations": ["lstm_trace", "LSTMTrace", "text_features", "best_cells", "surprise_bits", "colored_text_html",
                    "gate_saturation"],
    "bundle": ["save_bundle", "load_bundle", "shipped_bundle", "Bundle", "BundleError"],
    "export": ["export_tfjs"],
    "runtime": ["setup", "set_seed", "fast_mode", "device_report", "import_tensorflow", "total_memory_bytes"],
    "ngram": ["NgramModel"],
    "distribute": ["make_strategy", "is_chief"],
    "plots": ["plot_history", "LiveTraining", "samples_table_html", "draw_generation_loop", "draw_stacked_lstm",
              "plot_next_char_distribution", "plot_next_char_panels", "plot_entropy_vs_temperature", "plot_strategies",
              "entropy_bits",
              "SHANNON_BITS", "plot_gate_saturation", "plot_colored_text"],
    "widgets": ["TemperaturePanel", "NextCharExplorer", "next_char_probs"],
}
if TYPE_CHECKING:  # the same names, imported statically for editors and type checkers (a test keeps them equal)
    from .activations import (
        LSTMTrace,
        best_cells,
        colored_text_html,
        gate_saturation,
        lstm_trace,
        surprise_bits,
        text_features,
    )
    from .bundle import (
        Bundle,
        BundleError,
        load_bundle,
        save_bundle,
        shipped_bundle,
    )
    from .corpus import (
        Corpus,
        CorpusError,
        clean_text,
        corpus_status,
        load_corpus,
        registry,
    )
    from .distribute import (
        is_chief,
        make_strategy,
    )
    from .export import (
        export_tfjs,
    )
    from .generation import (
        FastGenerator,
        generate,
        generate_reference,
    )
    from .model import (
        OneHot,
        bits_to_nats,
        build_model,
        compile_model,
        cudnn_blockers,
        lstm_param_count,
        nats_to_bits,
        parse_layer_sizes,
    )
    from .ngram import (
        NgramModel,
    )
    from .plots import (
        SHANNON_BITS,
        LiveTraining,
        draw_generation_loop,
        draw_stacked_lstm,
        entropy_bits,
        plot_colored_text,
        plot_entropy_vs_temperature,
        plot_gate_saturation,
        plot_history,
        plot_next_char_distribution,
        plot_next_char_panels,
        plot_strategies,
        samples_table_html,
    )
    from .runtime import (
        device_report,
        fast_mode,
        import_tensorflow,
        set_seed,
        setup,
        total_memory_bytes,
    )
    from .sampling import (
        BOOK_TEMPERATURES,
        apply_temperature,
        check_temperature,
        sample,
    )
    from .strategies import (
        Strategy,
        known_words,
        measure_strategies,
        measure_text,
        parse_strategies,
    )
    from .training import (
        Checkpoint,
        TimeBudget,
        TrainingConfig,
        TrainingRun,
        evaluate_loss,
        halve_lr_on_plateau,
        train,
    )
    from .vocabulary import (
        Vocabulary,
    )
    from .widgets import (
        NextCharExplorer,
        TemperaturePanel,
        next_char_probs,
    )
    from .windows import (
        count_windows,
        estimate_onehot_memory,
        onehot_windows,
        random_onehot_windows,
        split_train_validation,
        validation_windows,
        window_dataset,
        window_starts,
    )
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'textgen_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
