"""Generation speed, side by side: the old TensorFlow-only FastGenerator against the new one (one
``keras.ops`` step, textgen_helpers/step.py) on TensorFlow, JAX and PyTorch, on this machine's CPU.

    python bench/generation_backends.py                      # 1, 4 and 8 rows x 1,024 characters
    python bench/generation_backends.py --rounds 3 --repeats 7 --length 2048
    python bench/generation_backends.py --load 3            # load time instead: 3 fresh processes a backend

Keras fixes its backend once per process, so every generator runs in a process of its own; the
rounds alternate between them, so that a machine busy with something else slows each of them alike.
The old generator is textgen_helpers/generation.py as it was at ``--old`` (the last commit before the
rewrite), read with ``git show`` and loaded as a module of the package. Every case first generates
once, uncounted (it compiles), then ``--repeats`` times; a case's rate is the median over all rounds,
in characters per second (rows x length / seconds), of the shipped bundle (2 x 128 LSTMs, 65 characters).
``--load N`` times instead a fresh process that imports the package and loads the shipped bundle, start
to exit, N times a backend, the backends taking turns, and prints each backend's median.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from textgen_helpers.runtime import cpu_model  # noqa: E402  (stdlib only: imports no backend)

OLD_REVISION = "70459c0"  # the last commit with the TensorFlow-only generator
GENERATORS = {"old TensorFlow": ("tensorflow", "old"), "new TensorFlow": ("tensorflow", "new"),
              "new JAX": ("jax", "new"), "new PyTorch": ("torch", "new")}
TEMPERATURES = [0.5, 1.0, 0.25, 0.75, 1.5, 0.5, 1.0, 0.75]  # the first ``rows`` of them


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=1024, help="characters a row (default 1024)")
    parser.add_argument("--rows", default="1,4,8", help="batch sizes to time, comma-separated (default 1,4,8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per case and round (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the generators (default 2)")
    parser.add_argument("--old", default=OLD_REVISION,
                        help=f"git revision of the old generator (default {OLD_REVISION})")
    parser.add_argument("--load", type=int, metavar="N", help="time N fresh processes a backend loading the bundle")
    parser.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_times(args.load)
        return
    rows = [int(r) for r in args.rows.split(",")]
    if args.child:
        print(json.dumps(child(args.child, args.old, rows, args.length, args.repeats)))
        return
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), Python {platform.python_version()}; shipped bundle, "
          f"{args.length:,} characters a row, median of {args.rounds} x {args.repeats} calls after one that compiles")
    times: dict[str, dict[int, list[float]]] = {name: {r: [] for r in rows} for name in GENERATORS}
    versions = {}
    for _ in range(args.rounds):
        for name, (backend, which) in GENERATORS.items():
            result = run_child(backend, which, args)
            versions[name] = result["versions"]
            for r in rows:
                times[name][r] += result["seconds"][str(r)]
    header = f"{'generator':<16} {'backend':<22}" + "".join(f"{f'{r} row' + ('s' if r > 1 else ''):>14}" for r in rows)
    print(header)
    print("-" * len(header))
    for name in GENERATORS:
        rates = "".join(f"{r * args.length / statistics.median(times[name][r]):>14,.0f}" for r in rows)
        print(f"{name:<16} {versions[name]:<22}{rates}")
    print("(characters per second, all rows together)")


LOAD = "import textgen_helpers; from textgen_helpers.bundle import shipped_bundle; shipped_bundle()"


def load_times(processes: int) -> None:
    """Seconds from start to exit of a process that imports the package and loads the shipped bundle."""
    backends = list(dict.fromkeys(backend for backend, which in GENERATORS.values() if which == "new"))
    seconds: dict[str, list[float]] = {backend: [] for backend in backends}
    for _ in range(processes):
        for backend in backends:
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", LOAD], env=env, cwd=ROOT, check=True)
            seconds[backend].append(time.perf_counter() - start)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); import the package and load the shipped bundle, seconds")
    for backend, times in seconds.items():
        print(f"{backend:<11} median {statistics.median(times):.2f} s of {', '.join(f'{t:.2f}' for t in times)}")


def run_child(backend: str, which: str, args) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--child", which, "--old", args.old, "--rows", args.rows,
               "--length", str(args.length), "--repeats", str(args.repeats)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the {which} generator on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(which: str, revision: str, rows: list[int], length: int, repeats: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from textgen_helpers.bundle import shipped_bundle
    from textgen_helpers.runtime import backend_versions

    module = old_generation(revision) if which == "old" else importlib.import_module("textgen_helpers.generation")
    bundle = shipped_bundle()
    generator = module.FastGenerator(bundle.model, bundle.vocab)
    seconds = {}
    for r in rows:
        temperatures = TEMPERATURES[:r]
        generator(bundle.default_seed_text, length, temperatures, seed=0)  # compiles this shape
        seconds[str(r)] = []
        for k in range(repeats):
            start = time.perf_counter()
            generator(bundle.default_seed_text, length, temperatures, seed=k + 1)
            seconds[str(r)].append(time.perf_counter() - start)
    versions = backend_versions()
    backend = versions["backend"]
    label = f"{ {'tensorflow': 'TensorFlow', 'jax': 'JAX', 'torch': 'PyTorch'}[backend]} {versions[backend]}"
    return {"seconds": seconds, "versions": label + (", XLA" if generator.jit_compile else
                                                     ", eager" if backend == "torch" else "")}


def old_generation(revision: str):
    """textgen_helpers/generation.py at ``revision``, loaded as ``textgen_helpers.old_generation``."""
    source = subprocess.run(["git", "show", f"{revision}:textgen_helpers/generation.py"], capture_output=True,
                            text=True, check=True, cwd=ROOT).stdout
    path = Path(tempfile.mkdtemp(prefix="old-generation-")) / "generation.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("textgen_helpers.old_generation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # its relative imports resolve in textgen_helpers
    return module


if __name__ == "__main__":
    main()
