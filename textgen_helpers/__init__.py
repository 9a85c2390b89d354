"""textgen_helpers: character-level text generation with stacked LSTMs in Keras 3.

The functions the notebooks call, one module a concept, each importing only from those above it::

    corpus       load_corpus, registry                    the texts, fetched and verified
    vocabulary   Vocabulary                               characters <-> integer ids
    windows      window_dataset, onehot_windows, ...      cutting text into training examples
    model        build_model, parse_layer_sizes, ...      stacked LSTMs
    sampling     sample, apply_temperature, entropy_bits  temperature, top-k and top-p; entropy in bits
    step         lstm_step, cross_entropy, ...            one LSTM step in keras.ops, compiled for any backend
    generation   generate, FastGenerator, ...             the book's loop, and one that carries the state
    evaluation   evaluate_loss                            the loss in nats per character
    checkpoints  Checkpoint                               what a run writes to resume exactly
    run_folders  claim_run_folders                        one run per folder: the rules, and a lock on each
    training     train, TrainingConfig                    fit with curves, samples, checkpoints
    bundle       save_bundle, load_bundle                 a trained model you can share
    export       export_tfjs                              the model for TensorFlow.js, to generate in a web page
    strategies   measure_strategies, parse_strategies     what each sampling strategy writes, measured
    ngram        NgramModel                               counting baselines
    activations  lstm_trace, best_cells, ...              inside the LSTM, character by character
    plots        plot_history, plot_strategies, ...       figures in nats and bits
    display      LiveTraining, samples_table_html, ...    HTML tables and the live training display
    widgets      TemperaturePanel, NextCharExplorer       the temperature slider
    distribute   make_strategy                            tf.distribute: several GPUs, machines, a TPU
    cli_args     Parser, positive_int, ...                the ``textgen`` command's argument types, each checked
    cli          main                                     the ``textgen`` command

Beside them: ``checks`` (argument checks), ``files`` (writing files and folders atomically, never
over a user's) and ``runtime`` (the notebook set-up). The public names are listed once, in
``__init__.pyi``; each is imported on first use, so ``textgen --help`` does not wait for TensorFlow.
"""

import lazy_loader

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
