"""The public names of textgen_helpers, each listed once: editors and type checkers read them here,
and ``__init__.py`` imports each on first use (``lazy_loader.attach_stub``), so ``textgen --help`` does
not wait for TensorFlow. A name added here is public; ``tests/test_packaging.py`` checks every one imports."""

__version__: str

from .activations import (
    LSTMTrace as LSTMTrace,
    best_cells as best_cells,
    gate_saturation as gate_saturation,
    lstm_trace as lstm_trace,
    surprise_bits as surprise_bits,
    text_features as text_features,
)
from .book import (
    load_book_run as load_book_run,
    load_book_table as load_book_table,
)
from .bundle import (
    Bundle as Bundle,
    BundleError as BundleError,
    load_bundle as load_bundle,
    save_bundle as save_bundle,
    shipped_bundle as shipped_bundle,
)
from .checkpoints import (
    Checkpoint as Checkpoint,
)
from .corpus import (
    Corpus as Corpus,
    CorpusError as CorpusError,
    clean_text as clean_text,
    corpus_status as corpus_status,
    load_corpus as load_corpus,
    registry as registry,
)
from .display import (
    LiveTraining as LiveTraining,
    colored_text_html as colored_text_html,
    samples_table_html as samples_table_html,
    table_10_1_html as table_10_1_html,
)
from .distribute import (
    is_chief as is_chief,
    make_strategy as make_strategy,
)
from .evaluation import (
    evaluate_loss as evaluate_loss,
)
from .export import (
    export_tfjs as export_tfjs,
)
from .generation import (
    FastGenerator as FastGenerator,
    generate as generate,
    generate_reference as generate_reference,
)
from .model import (
    bits_to_nats as bits_to_nats,
    build_model as build_model,
    compile_model as compile_model,
    cudnn_blockers as cudnn_blockers,
    lstm_param_count as lstm_param_count,
    nats_to_bits as nats_to_bits,
    parameter_count as parameter_count,
    parse_layer_sizes as parse_layer_sizes,
)
from .ngram import (
    NgramModel as NgramModel,
)
from .plots import (
    SHANNON_BITS as SHANNON_BITS,
    draw_generation_loop as draw_generation_loop,
    draw_stacked_lstm as draw_stacked_lstm,
    plot_colored_text as plot_colored_text,
    plot_entropy_vs_temperature as plot_entropy_vs_temperature,
    plot_gate_saturation as plot_gate_saturation,
    plot_history as plot_history,
    plot_next_char_distribution as plot_next_char_distribution,
    plot_next_char_panels as plot_next_char_panels,
    plot_strategies as plot_strategies,
)
from .runtime import (
    choose_backend as choose_backend,
    device_report as device_report,
    fast_mode as fast_mode,
    import_keras as import_keras,
    import_tensorflow as import_tensorflow,
    set_seed as set_seed,
    setup as setup,
    total_memory_bytes as total_memory_bytes,
)
from .sampling import (
    BOOK_TEMPERATURES as BOOK_TEMPERATURES,
    apply_temperature as apply_temperature,
    check_temperature as check_temperature,
    entropy_bits as entropy_bits,
    sample as sample,
)
from .strategies import (
    Strategy as Strategy,
    known_words as known_words,
    measure_strategies as measure_strategies,
    measure_text as measure_text,
    parse_strategies as parse_strategies,
    real_word_share as real_word_share,
)
from .training import (
    TimeBudget as TimeBudget,
    TrainingConfig as TrainingConfig,
    TrainingRun as TrainingRun,
    halve_lr_on_plateau as halve_lr_on_plateau,
    train as train,
)
from .vocabulary import (
    Vocabulary as Vocabulary,
)
from .widgets import (
    NextCharExplorer as NextCharExplorer,
    TemperaturePanel as TemperaturePanel,
    next_char_probs as next_char_probs,
)
from .windows import (
    count_windows as count_windows,
    estimate_onehot_memory as estimate_onehot_memory,
    onehot_windows as onehot_windows,
    random_onehot_windows as random_onehot_windows,
    split_train_validation as split_train_validation,
    validation_windows as validation_windows,
    window_dataset as window_dataset,
    window_starts as window_starts,
)
