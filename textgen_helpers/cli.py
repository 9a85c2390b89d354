"""The ``textgen`` command: list corpora, train a model, generate from a bundle.

It mirrors the original TensorFlow.js example's ``yarn train`` and ``yarn gen`` (the camelCase
flags work too) and calls the same functions the notebooks call::

    textgen corpora
    textgen train shakespeare --lstm-layer-size 128,128 --epochs 120 --save-path models/shakespeare
    textgen generate models/shakespeare --length 200 --temperature 0.5
    textgen generate models/shakespeare --temperature 1 --top-k 10 --top-p 0.9
    textgen export-tfjs models/shakespeare web/model

``--top-k K`` keeps the K likeliest characters at each step and ``--top-p P`` the fewest likeliest
whose probability reaches P (nucleus sampling), both after the temperature (see ``sampling.py``).
``export-tfjs`` writes a bundle as a TensorFlow.js LayersModel for a web page (see ``export.py``).

Flags are spelled in full (``--epoch`` is not ``--epochs``). A bad argument prints one line on
stderr and exits with status 2; a problem found while running (a missing corpus, a damaged bundle)
prints one line and exits with status 1; Ctrl-C stops with status 130, keeping what was written
(``generate`` writes its text as it is made).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from . import cli_args as types
from .cli_args import EXIT_USAGE, HelpFormatter, Parser

EXIT_FAILURE, EXIT_INTERRUPTED = 1, 130
PROGRESS_MIN_LENGTH = 2_000  # `generate` shows a progress bar for texts at least this long


def _add_backend_flag(parser: argparse.ArgumentParser) -> None:
    from .runtime import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="the Keras backend to run on (default: KERAS_BACKEND, else tensorflow); a bundle made on "
                             "one backend loads on the others")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    _backend_before_parsing(argv)
    args, extras = parser.parse_known_args(argv)
    if extras:  # reported by the command's own parser, whose --help lists its flags
        getattr(args, "parser", parser).unrecognized(extras)
    args.argv = argv  # recorded in the bundle, so a model says how it was made
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _choose_backend(args)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"\n{args.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `textgen generate ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except (ValueError, FileNotFoundError, MemoryError, OSError, ImportError) as err:
        print(f"{args.prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_FAILURE


def _backend_before_parsing(argv: list[str]) -> None:
    """Set ``KERAS_BACKEND`` from ``--backend`` before parsing, since checking some flags imports Keras;
    an unknown ``KERAS_BACKEND`` is a usage error before Keras is imported at all."""
    from .runtime import BACKENDS, configured_backend

    given = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--backend"), None)
    given = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--backend=")), given)
    if given in BACKENDS:
        os.environ["KERAS_BACKEND"] = given
    elif given is None and argv and argv[0] != "corpora" and configured_backend() not in BACKENDS:
        sys.stderr.write(f"textgen: error: KERAS_BACKEND={configured_backend()!r} is not a Keras backend this "
                         f"package runs on; set it to one of {', '.join(BACKENDS)}, or pass --backend\n")
        sys.exit(EXIT_USAGE)


def _choose_backend(args) -> None:
    """Apply ``--backend`` (or check ``KERAS_BACKEND``) before anything imports Keras: a usage error if unknown."""
    from .runtime import choose_backend

    if not hasattr(args, "backend"):  # `textgen corpora` needs no Keras
        return
    try:
        choose_backend(args.backend)
    except ValueError as err:
        args.parser.error(str(err))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="textgen", description="Character-level text generation with stacked LSTMs (Keras 3).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    corpora = commands.add_parser("corpora", help="list the named corpora and whether each is cached or mirrored",
                                  description="List the named corpora and whether each is cached or in the mirror.")
    corpora.set_defaults(run=_corpora, prog="textgen corpora", parser=corpora)

    train = commands.add_parser(
        "train", help="train a model on a corpus and save it as a bundle",
        description="Train a stacked-LSTM model on a named corpus or a text file, printing the loss and "
                    "samples at several temperatures after every epoch (like `yarn train`).",
        formatter_class=HelpFormatter)
    train.add_argument("corpus", metavar="CORPUS_OR_PATH", help="a corpus name (see `textgen corpora`) or a text file")
    train.add_argument("--lstm-layer-size", "--lstmLayerSize", dest="lstm_layer_size", type=types.layer_sizes,
                       default="128,128", help="units of each LSTM, bottom first, comma-separated")
    train.add_argument("--epochs", type=types.positive_int, default=120,
                       help="epochs to train in all (counting resumed ones): 120 as in the book's and the original "
                            "README's command, where the original's train_node.js alone would train 150")
    train.add_argument("--sample-len", "--sampleLen", dest="sample_len", type=types.positive_int, default=60,
                       help="characters per training window")
    train.add_argument("--sample-step", "--sampleStep", dest="sample_step", type=types.positive_int, default=3,
                       help="characters between the starts of windows")
    train.add_argument("--learning-rate", "--learningRate", dest="learning_rate", type=types.positive_float,
                       default=1e-2, help="the optimizer's step size")
    train.add_argument("--examples-per-epoch", "--examplesPerEpoch", dest="examples_per_epoch", type=types.positive_int,
                       default=10_000, help="windows drawn at random for each epoch")
    train.add_argument("--batch-size", "--batchSize", dest="batch_size", type=types.positive_int, default=128,
                       help="windows per training step (with --distribute: the global batch, split between replicas)")
    train.add_argument("--validation-split", "--validationSplit", dest="validation_split", type=types.fraction,
                       default=0.1,
                       help="fraction of the text, at its end, held out for validation, so no validation window "
                            "overlaps training text (the original's 0.0625 holds out that share of its random "
                            "windows, whose text the training windows also cover)")
    train.add_argument("--display-length", "--displayLength", dest="display_length", type=types.non_negative_int,
                       default=120, help="characters generated at each temperature after every epoch (0: none)")
    train.add_argument("--temperatures", type=types.temperatures, default="0,0.25,0.5,0.75",
                       help="temperatures sampled after every epoch")
    train.add_argument("--seed-text", dest="seed_text", default=None,
                       help="text the samples continue (default: the first window of the validation text, the same "
                            "every epoch and never trained on; the original takes a random slice of the whole text)")
    train.add_argument("--framing", choices=["seq2seq", "seq2one"], default="seq2seq",
                       help="seq2seq predicts the next character at every position of a window, so each window "
                            "teaches sample-len predictions instead of one and training reaches the book's loss "
                            "sooner; seq2one is the book's and the original's model, one prediction per window")
    train.add_argument("--dropout", type=types.dropout_rate, default=0.0, help="dropout after each LSTM")
    train.add_argument("--embedding-dim", dest="embedding_dim", type=types.positive_int, default=None,
                       help="learn an embedding of this size instead of one-hot inputs (seq2seq only)")
    train.add_argument("--optimizer", choices=["rmsprop", "adam"], default="rmsprop", help="the book's is RMSprop")
    train.add_argument("--clipnorm", type=types.positive_float, default=None, help="clip gradients to this global norm")
    train.add_argument("--reduce-lr-on-plateau", dest="reduce_lr_on_plateau", action="store_true",
                       help="halve the learning rate after an epoch whose validation loss did not improve")
    train.add_argument("--distribute", choices=["none", "mirrored", "multiworker", "tpu"], default="none",
                       help="tf.distribute strategy: mirrored uses every GPU of this machine; multiworker every "
                            "machine TF_CONFIG names (run the same command on each; only the chief saves); tpu a "
                            "TPU runtime (untested here). --batch-size stays the global batch")
    train.add_argument("--mixed-precision", dest="mixed_precision", action="store_true",
                       help="compute in float16 with float32 weights and output (Keras's mixed_float16): about twice "
                            "as fast on a GPU with tensor cores; refused on a CPU, where it is slower")
    train.add_argument("--max-minutes", dest="max_minutes", type=types.positive_float, default=None,
                       help="stop after this many minutes of the run (training, and the loss and samples after each "
                            "epoch), mid-epoch if need be; an epoch cut short is not checkpointed")
    train.add_argument("--seed", type=types.seed, default=0, help="random seed, 0 to 2**64-1")
    train.add_argument("--save-path", "--savePath", dest="save_path", type=Path, default=None,
                       help="folder to write the model bundle to")
    train.add_argument("--checkpoint-dir", dest="checkpoint_dir", type=Path, default=None,
                       help="folder for per-epoch checkpoints (default: SAVE_PATH-checkpoint)")
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint if there is one (raise --epochs to train a finished run "
                            "further)")
    again.add_argument("--restart", action="store_true",
                       help="start afresh even if the checkpoint folder holds an earlier run: that checkpoint is "
                            "deleted first (a folder holding anything else is still refused)")
    train.add_argument("--quiet", action="store_true", help="print only the final summary")
    _add_backend_flag(train)
    train.set_defaults(run=_train, prog="textgen train", parser=train)

    gen = commands.add_parser(
        "generate", aliases=["gen"], help="generate text from a saved model bundle",
        description="Generate text from a model bundle (like `yarn gen`); the corpus is not needed. The text "
                    f"is written as it is made; from {PROGRESS_MIN_LENGTH:,} characters on, a progress bar on stderr "
                    "shows the rate when stderr is a terminal (and stdout is not the same terminal, or there are "
                    "several temperatures). Ctrl-C stops, keeping what was written, and exits with status 130.",
        formatter_class=HelpFormatter)
    gen.add_argument("bundle", metavar="BUNDLE", type=Path, help="a folder written by `textgen train --save-path`")
    gen.add_argument("--length", "--gen-length", "--genLength", dest="length", type=types.positive_int, default=200,
                     help="characters to generate")
    hot = gen.add_mutually_exclusive_group()
    hot.add_argument("--temperature", type=types.temperature, default=0.5,
                     help="0 is greedy; 1 samples the model as it is")
    hot.add_argument("--temperatures", type=types.temperatures, default=None,
                     help="several temperatures at once, comma-separated, each text printed under its own heading "
                          "(instead of --temperature)")
    gen.add_argument("--top-k", dest="top_k", type=types.top_k, default=None,
                     help="keep only the K likeliest characters at each step, after the temperature (1 is greedy)")
    gen.add_argument("--top-p", dest="top_p", type=types.top_p, default=None,
                     help="nucleus sampling: keep the fewest likeliest characters whose probability reaches P, "
                          "in (0, 1]")
    gen.add_argument("--seed-text", dest="seed_text", default=None,
                     help="text to continue (default: the bundle's seed text; the original takes a random slice of "
                          "the corpus, which generate does not need)")
    gen.add_argument("--seed", type=types.seed, default=0,
                     help="random seed, 0 to 2**64-1: the same seed gives the same text")
    gen.add_argument("--unknown", choices=["error", "skip", "replace"], default="error",
                     help="what to do with seed characters the model does not know")
    _add_backend_flag(gen)
    gen.set_defaults(run=_generate, prog="textgen generate", parser=gen)

    export = commands.add_parser(
        "export-tfjs", help="export a model bundle to TensorFlow.js, for generating in a web page",
        description="Write a model bundle as a TensorFlow.js LayersModel: model.json and its weight shards, which "
                    "tf.loadLayersModel('OUT_DIR/model.json') loads in any page, and textgen.json with the "
                    "vocabulary and the page's settings. web/ holds a page that generates with it (`make web`). "
                    "OUT_DIR must be new, empty, or an earlier export; any other folder is left as it is.")
    export.add_argument("bundle", metavar="BUNDLE", type=Path, help="a folder written by `textgen train --save-path`")
    export.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="the folder to write, such as web/model")
    _add_backend_flag(export)
    export.set_defaults(run=_export_tfjs, prog="textgen export-tfjs", parser=export)
    return parser


# --- commands ------------------------------------------------------------------------------------

def _corpora(args) -> int:
    from .corpus import corpus_status, data_dir

    rows = corpus_status()
    print(f"{'name':<15} {'size':>10}  {'language':<8}  {'cached':<6}  {'mirror':<6}  title")
    for row in rows:
        print(f"{row['name']:<15} {row['bytes'] / 1e6:>7.2f} MB  {row['language']:<8}  "
              f"{'yes' if row['cached'] else 'no':<6}  {'yes' if row['mirrored'] else 'no':<6}  {row['title']}")
    print(f"\ncache: {data_dir()}  (set TEXTGEN_DATA_DIR to move it; TEXTGEN_CORPUS_MIRROR names a local mirror)")
    return 0


def _train(args) -> int:
    from .bundle import save_bundle
    from .corpus import load_corpus
    from .distribute import is_chief, make_strategy
    from .model import build_model, format_layer_sizes, parameter_count
    from .run_folders import check_run_folders, check_separate_folders, claim_run_folders
    from .runtime import device_report, import_keras as keras_module, set_seed
    from .training import TrainingConfig, halve_lr_on_plateau, train
    from .vocabulary import Vocabulary, describe_chars

    checkpoint_dir = args.checkpoint_dir
    if checkpoint_dir is None and args.save_path is not None:
        checkpoint_dir = args.save_path.with_name(args.save_path.name + "-checkpoint")
    if (args.resume or args.restart) and checkpoint_dir is None:
        flag = "--resume" if args.resume else "--restart"
        args.parser.error(f"{flag} needs --save-path or --checkpoint-dir to find the checkpoint")
    if args.embedding_dim is not None and args.framing != "seq2seq":
        args.parser.error("--embedding-dim needs --framing seq2seq (a seq2one model reads one-hot windows)")
    try:
        check_separate_folders(args.save_path, checkpoint_dir)
    except ValueError as err:  # two flags that do not go together: a usage error
        args.parser.error(str(err))
    folders = dict(resume=args.resume, restart=args.restart)
    check_run_folders(checkpoint_dir, args.save_path, **folders)  # a bad folder fails now, not after the run
    strategy = _strategy(args, device_report, make_strategy)  # before anything is read, cleared or written
    config = TrainingConfig(sample_len=args.sample_len, sample_step=args.sample_step, batch_size=args.batch_size,
                            examples_per_epoch=args.examples_per_epoch, validation_fraction=args.validation_split,
                            seed_text=args.seed_text, temperatures=tuple(args.temperatures),
                            display_length=args.display_length, seed=args.seed)
    corpus = load_corpus(args.corpus)
    vocab = Vocabulary.from_text(corpus.text)
    missing = vocab.unknown(args.seed_text or "")  # fail now, not after the first epoch
    if missing:
        raise ValueError(f"the seed text has {_count(missing, 'character')} that the corpus does not: "
                         f"{describe_chars(missing)}; change --seed-text to use only the corpus's characters "
                         f"(the model learns no others)")
    # Both folders are this run's from here until the bundle is saved: another run on either is refused.
    with claim_run_folders(checkpoint_dir, args.save_path, strategy=strategy, **folders):
        report = device_report()
        kept = ""
        if args.save_path is None:
            kept = f"only the checkpoints in {checkpoint_dir} are" if checkpoint_dir is not None else "nothing is"
            kept = (f"; no --save-path, so {kept} kept of this run: add --save-path FOLDER to keep the trained "
                    f"model as a bundle you can generate from")
        # The run's first line, once every check has passed: where it runs, and whether anything is kept.
        print(f"textgen train on {report['backend_version']} (Keras {report['keras']}), {report['device']}{kept}",
              file=sys.stderr if args.quiet else sys.stdout, flush=True)
        if args.mixed_precision:
            keras_module().mixed_precision.set_global_policy("mixed_float16")
        set_seed(args.seed)
        model = build_model(len(vocab), args.lstm_layer_size, framing=args.framing, embedding_dim=args.embedding_dim,
                            dropout=args.dropout, learning_rate=args.learning_rate, optimizer=args.optimizer,
                            clipnorm=args.clipnorm, strategy=strategy)
        if not args.quiet:
            print(f"corpus {corpus.name}: {len(corpus.text):,} characters, {len(vocab)} distinct; model "
                  f"{args.framing} {format_layer_sizes(args.lstm_layer_size)} ({parameter_count(model):,} parameters)")
        callbacks = [halve_lr_on_plateau(args.learning_rate)] if args.reduce_lr_on_plateau else []
        started = time.perf_counter()
        try:
            run = train(model, vocab, corpus.text, epochs=args.epochs, config=config, checkpoint_dir=checkpoint_dir,
                        max_seconds=args.max_minutes * 60 if args.max_minutes else None, callbacks=callbacks,
                        verbose=0 if args.quiet else 1, strategy=strategy, **folders)
        except KeyboardInterrupt:
            if checkpoint_dir is not None:
                print(f"\ninterrupted; continue from the last finished epoch with the same command and --resume "
                      f"(checkpoint: {checkpoint_dir})", file=sys.stderr)
            raise
        _report(run, args, minutes=(time.perf_counter() - started) / 60)
        if args.save_path is not None and not is_chief(strategy):
            print("this worker does not save: the chief of the cluster writes the bundle to its --save-path",
                  file=sys.stderr)
        elif args.save_path is not None:
            # What the run really used (a resume is refused unless it matches the checkpoint), and how it was asked.
            training = {**run.settings, "command": shlex.join(["textgen", *args.argv])}
            save_bundle(args.save_path, run.model, vocab, sample_len=args.sample_len, training=training,
                        history=run.history, corpus=corpus, seed_text=run.seed_text)
            print(f"saved the model bundle to {args.save_path}; generate with: textgen generate {args.save_path}")
    return 0


def _report(run, args, *, minutes: float) -> None:
    """The run's summary: an epoch cut short by --max-minutes, and what was trained."""
    from .model import nats_to_bits

    finished = run.history[run.history["complete"].astype(bool)]
    if len(run.history) and len(finished) < len(run.history):
        cut = run.history.iloc[-1]
        print(f"stopped by --max-minutes during epoch {int(cut['epoch'])}, which is not checkpointed",
              file=sys.stderr)
    if len(finished):
        new = int(finished["epoch"].iloc[-1]) - run.resumed_from_epoch
        print(f"trained {_count(new, 'epoch')} in {minutes:.1f} min (epoch {int(finished['epoch'].iloc[-1])} of "
              f"{args.epochs}): best validation loss {run.best_val_loss:.3f} nats/char "
              f"({nats_to_bits(run.best_val_loss):.2f} bits/char)")


def _strategy(args, device_report, make_strategy):
    """The ``--distribute`` strategy (None for none), after the checks that need no work: a backend or
    device that cannot is a one-line error before anything is read or written."""
    if args.mixed_precision and not device_report()["gpus"]:
        raise ValueError("--mixed-precision needs a GPU: on a CPU float16 is emulated and slower than float32; "
                         "leave the flag out here (it pays on a GPU with tensor cores, see notebook 6)")
    if args.distribute == "none":
        return None
    strategy = make_strategy(args.distribute)  # a one-line error on a backend without tf.distribute
    if args.distribute == "mirrored" and not device_report()["gpus"]:
        print("textgen train: no GPU found, so --distribute mirrored trains on the CPU, as one replica",
              file=sys.stderr)
    if args.distribute == "multiworker" and "TF_CONFIG" not in os.environ:
        print("textgen train: TF_CONFIG is not set, so this machine trains alone; set it on every machine of the "
              "cluster to train on all of them (see notebook 6)", file=sys.stderr)
    return strategy


def _generate(args) -> int:
    from tqdm import tqdm

    from .bundle import load_bundle
    from .vocabulary import describe_chars

    bundle = load_bundle(args.bundle)
    temperatures = args.temperatures if args.temperatures is not None else [args.temperature]
    seed_text = bundle.default_seed_text if args.seed_text is None else args.seed_text
    missing = bundle.vocab.unknown(seed_text[-bundle.sample_len:])  # the model reads only the last sample_len
    if missing and args.unknown == "error":
        it, its = ("it", "its") if len(missing) == 1 else ("them", "their")
        replace = f" or --unknown replace (a space in {its} place)" if " " in bundle.vocab else ""
        raise ValueError(f"the seed text has {_count(missing, 'character')} the model does not know: "
                         f"{describe_chars(missing)}; remove {it}, or pass --unknown skip (drop {it}){replace}")
    stream_out = len(temperatures) == 1  # several temperatures are printed one after the other at the end
    rows: list[list[str]] = [[] for _ in temperatures]
    done, interrupted = 0, False
    show_progress = (args.length >= PROGRESS_MIN_LENGTH and sys.stderr.isatty()
                     and not (stream_out and sys.stdout.isatty()))  # a bar would break up text on the same terminal
    progress = tqdm(total=args.length, unit="char", unit_scale=True, file=sys.stderr, disable=not show_progress)
    try:
        for pieces in bundle.generator.stream(seed_text, args.length, temperatures, seed=args.seed,
                                              window=bundle.sample_len, unknown=args.unknown,
                                              top_k=args.top_k, top_p=args.top_p):
            if stream_out:
                sys.stdout.write(pieces[0])
            for row, piece in zip(rows, pieces, strict=True):
                row.append(piece)
            done += len(pieces[0])  # counted as soon as written: Ctrl-C can land anywhere in this loop
            if stream_out:
                sys.stdout.flush()
            progress.update(len(pieces[0]))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    if stream_out:
        print(flush=True)
    else:
        filters = "".join(f", {name} {value:g}" for name, value in (("top-k", args.top_k), ("top-p", args.top_p))
                          if value is not None)
        for temperature, row in zip(temperatures, rows, strict=True):
            print(f"--- temperature {temperature:g}{filters} ---\n{''.join(row)}\n", flush=True)
    if interrupted:
        print(f"{args.prog}: interrupted after {_count(done, 'character')}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _web_hint(out_dir: Path) -> str:
    """How to see the export in web/'s page: serve it, if it is web/model; else where to put it."""
    if out_dir.name == "model" and (out_dir.parent / "index.html").is_file():
        return (f"; serve {out_dir.parent} to generate with it: python -m http.server 8000 --bind 127.0.0.1 "
                f"--directory {out_dir.parent}")
    return "; web/ generates with an export put at web/model (`make web` exports the shipped model there)"


def _export_tfjs(args) -> int:
    from .export import MODEL_JSON, SETTINGS_JSON, export_tfjs

    out_dir = export_tfjs(args.bundle, args.out_dir)
    shards = sorted(p for p in out_dir.iterdir() if p.suffix == ".bin")
    megabytes = sum(p.stat().st_size for p in shards) / 1e6
    print(f"exported {args.bundle} to {out_dir} for TensorFlow.js: {MODEL_JSON}, {_count(shards, 'weight shard')} "
          f"({megabytes:.2f} MB) and {SETTINGS_JSON}. A page beside the folder loads it with "
          f"tf.loadLayersModel('{out_dir.name}/{MODEL_JSON}')" + _web_hint(out_dir))
    return 0


def _count(n: int | list, noun: str) -> str:
    n = n if isinstance(n, int) else len(n)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _version() -> str:
    from . import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
