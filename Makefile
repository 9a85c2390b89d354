# Two commands do all the set-up on a fresh machine (each creates .venv if it is missing):
#   make start   install, then open the workshop (notebooks/) in JupyterLab
#   make test    install, lint (ruff), then run every test on TensorFlow: the package, the CLI and the notebooks
#                (fast mode); beside it, at low priority, the backend suite on JAX, and on PyTorch where it is
#                installed (CI installs torch==2.13.0), with TensorFlow blocked (make backend-suites runs it alone);
#                its last line names the backends and versions that ran
# Both install the package with its tensorflow, jax, notebooks, test and browser extras into .venv (make install
# does only that), with uv: the versions pip would choose, downloaded, unpacked and compiled to bytecode in parallel,
# in seconds rather than pip's minutes (behind a proxy with its own certificates, set UV_NATIVE_TLS=1). Compiled
# ahead, as pip does: where PYTHONDONTWRITEBYTECODE is set, every process would compile TensorFlow again.
# Others:
#   make demo       train a small model for two minutes from the command line and print its text
#   make notebooks  re-execute the notebooks in full mode, storing their outputs (about 12 minutes)
#   make bundle     retrain the model bundle shipped in data/bundles/ (ten minutes); then re-save its
#                   model.keras under the oldest Keras pyproject.toml allows (tests/test_packaging.py)
#   make slider     serve the temperature slider as a standalone page (Voila) on http://localhost:8866
#   make web        export the shipped bundle to TensorFlow.js (web/model) and serve web/, which generates in
#                   the browser, on http://127.0.0.1:8000 (WEB_PORT=...; needs npm for TensorFlow.js)
#   make screenshots  run the browser tests of the slider and of web/ and copy their pictures to
#                     docs/images/slider.png and web.png; the slider's is embedded in notebook 5 too
#                     (tools/embed_screenshot.py). Needs Chromium: apt-get install chromium
#   make bench      re-measure docs/benchmarks.md (about 25 minutes)
#   make gpu-check  on a GPU machine (JAX or PyTorch, TensorFlow not needed): cuDNN, mixed precision, throughput,
#                   five minutes of training, generation, notebook 6 if nbconvert is there (about 9 minutes)
#   make wheelhouse  for such a machine without network: the wheels it may lack (Keras, pandas, ...) into
#                    wheelhouse/ and the corpus into data/cache/; copy both there and run the commands it prints
#                    (also in bench/gpu.py's docstring)
#   make pin-colab  point every notebook's Colab install line and badge at the tag v<version> of pyproject.toml
#                   (a release; python tools/pin_colab.py main follows main again)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# TensorFlow.js for web/, pinned by web/package-lock.json, in the ignored web/node_modules/.
NPM_STAMP := web/node_modules/.installed
WEB_PORT ?= 8000

# Downloaded corpora stay inside the project (git-ignored); a folder of local copies beside the
# project, if there is one, serves as the mirror (see README: "Corpora").
export TEXTGEN_DATA_DIR ?= $(CURDIR)/data/cache
export TEXTGEN_CORPUS_MIRROR ?= $(firstword $(wildcard $(CURDIR)/../shared/corpora))

SHIPPED_BUNDLE := data/bundles/shakespeare-128x2
RECOMMENDED := --lstm-layer-size 128,128 --sample-len 32 --dropout 0.1 --clipnorm 1 --examples-per-epoch 20000 \
	--reduce-lr-on-plateau

.PHONY: install start test demo notebooks bundle slider web screenshots bench gpu-check pin-colab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet -e '.[tensorflow,jax,notebooks,test,browser]' --python $(BIN)/python \
		--compile-bytecode
	touch $(STAMP)

install: $(STAMP)

# --ignore-scripts: TensorFlow.js needs no install script (the only one, core-js's, prints a banner).
$(NPM_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm is needed to install TensorFlow.js for web/" \
		"(Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $(NPM_STAMP)

start: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# The backend suite: the tests of everything that runs a model, again on JAX and on PyTorch where it is installed
# (.ci/run installs torch==2.13.0, a CPU build), with tests/no_tensorflow on PYTHONPATH so that TensorFlow cannot be
# imported in those processes.
BACKEND_TESTS := tests/test_model.py tests/test_step.py tests/test_generation.py tests/test_windows.py \
	tests/test_training.py tests/test_checkpoints.py tests/test_bundle.py tests/test_export.py \
	tests/test_activations.py tests/test_widgets.py tests/test_strategies.py
NO_TENSORFLOW := PYTHONPATH=$(CURDIR)/tests/no_tensorflow
# Tests run in PYTEST_WORKERS processes (pytest-xdist), a test module (or a notebook) to a process, so its fixtures
# are made once and a notebook's cells run in order in one kernel: on two cores, two processes overlap one test's
# waits (a subprocess starting, a pip install, a browser) with another's work.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadscope
# $(call version,jax): "JAX 0.10.2", the installed version, read without importing it
version = $(word $(1),TensorFlow JAX PyTorch) $$($(BIN)/python -c "import importlib.metadata as m; \
	print(m.version('$(word $(1),tensorflow jax torch)'))")
HAS_TORCH := $(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)"

# The backend suites run beside the TensorFlow suite at the lowest CPU priority (nice 19), so they take the time its
# processes leave idle (a subprocess starting, a pip install, a browser waiting) instead of adding their own after
# it; their output follows the TensorFlow suite's, and make test fails if either failed.
BACKEND_LOG := test-artifacts/backend-suites.log

test: $(STAMP) $(NPM_STAMP)
	$(BIN)/ruff check .
	@mkdir -p $(dir $(BACKEND_LOG))
	@echo "make test: the whole suite on $(call version,1); beside it, at low priority, the backend suite" \
		"(output in $(BACKEND_LOG), shown after)"
	@nice -n 19 $(MAKE) --no-print-directory backend-suites > $(BACKEND_LOG) 2>&1 & backends=$$!; \
		$(BIN)/python -m pytest $(XDIST) --durations=15; tensorflow=$$?; \
		wait $$backends; others=$$?; \
		cat $(BACKEND_LOG); \
		test $$tensorflow -eq 0 -a $$others -eq 0 || { echo "make test: FAILED (the whole suite: exit $$tensorflow;" \
			"the backend suite: exit $$others)"; exit 1; }; \
		if $(HAS_TORCH); then \
			echo "make test: passed: the whole suite on $(call version,1); the backend suite on $(call version,2)" \
				"and on $(call version,3)"; \
		else \
			echo "make test: passed: the whole suite on $(call version,1); the backend suite on $(call version,2)" \
				"only: PyTorch is not installed (CI installs it: $(BIN)/python -m pip install torch==2.13.0)"; \
		fi

# The backend suite alone: the tests of everything that runs a model, on JAX, then on PyTorch where it is installed.
# PyTorch runs one thread per test process (OMP_NUM_THREADS=1; PYTEST_WORKERS processes already fill the cores):
# with its default of a thread per core, beside the TensorFlow suite its threads spun waiting for each other, and
# tests/test_training.py took 62 CPU-seconds instead of 24.
TORCH_THREADS := OMP_NUM_THREADS=1
backend-suites: $(STAMP)
	@echo "make test: the backend suite on $(call version,2), TensorFlow blocked"
	KERAS_BACKEND=jax $(NO_TENSORFLOW) $(BIN)/python -m pytest $(XDIST) -p no:cacheprovider $(BACKEND_TESTS)
	@if $(HAS_TORCH); then \
		echo "make test: the backend suite on $(call version,3), TensorFlow blocked"; \
		echo "KERAS_BACKEND=torch $(TORCH_THREADS) $(NO_TENSORFLOW) $(BIN)/python -m pytest $(XDIST) -p no:cacheprovider" \
			"$(BACKEND_TESTS)"; \
		KERAS_BACKEND=torch $(TORCH_THREADS) $(NO_TENSORFLOW) $(BIN)/python -m pytest $(XDIST) -p no:cacheprovider \
			$(BACKEND_TESTS); \
	fi

demo: $(STAMP)
	rm -rf models/shakespeare-demo-checkpoint  # this target's own checkpoint: each demo starts afresh
	$(BIN)/textgen train shakespeare $(RECOMMENDED) --max-minutes 2 --epochs 4 --display-length 80 \
		--save-path models/shakespeare-demo
	$(BIN)/textgen generate models/shakespeare-demo --length 300 --temperatures 0.25,0.5,0.75

notebooks: $(STAMP)
	cd notebooks && TEXTGEN_FAST=0 ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=1800 *.ipynb

bundle: $(STAMP)
	rm -rf models/shipped-bundle-checkpoint  # this target's own checkpoint: the bundle is retrained from scratch
	$(BIN)/textgen train shakespeare $(RECOMMENDED) --max-minutes 10 --epochs 1000 \
		--save-path $(SHIPPED_BUNDLE) --checkpoint-dir models/shipped-bundle-checkpoint

slider: $(STAMP)
	$(BIN)/voila apps/slider.ipynb --port=8866 --no-browser

web: $(STAMP) $(NPM_STAMP)
	$(BIN)/textgen export-tfjs $(SHIPPED_BUNDLE) web/model
	@echo "web/ generates in the browser at http://127.0.0.1:$(WEB_PORT)/ (Ctrl-C stops the server)"
	$(BIN)/python -m http.server $(WEB_PORT) --bind 127.0.0.1 --directory web

# The browser tests write their screenshots under the ignored test-artifacts/; only this target updates
# the committed pictures, and only when the tests passed.
screenshots: $(STAMP) $(NPM_STAMP)
	rm -f test-artifacts/browser/slider.png test-artifacts/browser/web.png
	TEXTGEN_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/browser/test_slider.py -k jupyterlab -q -p no:cacheprovider
	cp test-artifacts/browser/slider.png docs/images/slider.png
	$(BIN)/python tools/embed_screenshot.py slider.png
	TEXTGEN_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/browser/test_web.py -q -p no:cacheprovider
	cp test-artifacts/browser/web.png docs/images/web.png
	$(BIN)/python tools/embed_screenshot.py web.png

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) models notebooks/models notebooks/checkpoints .pytest_cache web/node_modules web/model

pin-colab:
	$(PYTHON) tools/pin_colab.py

# bench/gpu.py runs with the Python that has the GPU's framework: .venv's where there is one, else $(PYTHON) (on a
# GPU machine set up from the wheelhouse); GPU_CHECK_ARGS=--skip-notebook, --cpu-smoke and the like pass through.
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
gpu-check:
	$(GPU_PYTHON) bench/gpu.py $(GPU_CHECK_ARGS)

# For a GPU machine with JAX or PyTorch (and numpy) but no network: what bench/gpu.py needs there, as wheels for
# CPython 3.11 and 3.12 on manylinux x86_64 (WHEELHOUSE_PYTHONS=3.12 for one): Keras (>= 3.14, the first with cuDNN
# LSTMs on JAX; it needs Python >= 3.11) and its dependencies, this package's (pandas, lazy-loader, tqdm, pooch,
# filelock), and setuptools to install this package there. Left out: numpy, since the machine's own must stay (the
# one its JAX or PyTorch was built against), and matplotlib, which bench/gpu.py never imports (so the package goes
# in with --no-deps). Copy the working tree, wheelhouse/ and data/cache/ (the corpus) to the machine, then run there
# the commands the report prints (also in bench/gpu.py's docstring).
WHEELHOUSE := wheelhouse
WHEELHOUSE_PYTHONS ?= 3.11 3.12
WHEELHOUSE_PACKAGES := 'keras>=3.14' 'pandas>=2.1' 'lazy-loader>=0.4' 'tqdm>=4.66' 'pooch>=1.8' 'filelock>=3.12' \
	'setuptools>=77'

define WHEELHOUSE_REPORT
import subprocess
from pathlib import Path

mib = lambda paths: sum(path.stat().st_size for path in paths if path.is_file()) / 2**20
wheels = sorted(Path("$(WHEELHOUSE)").glob("*.whl"))
listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], capture_output=True,
                        text=True, check=True).stdout.split("\0")
house, cache, tree = mib(wheels), mib(Path("data/cache").rglob("*")), mib(Path(name) for name in listed if name)
print(f"$(WHEELHOUSE)/: {len(wheels)} wheels, {house:.1f} MiB")
print(f"data/cache/ (the corpus): {cache:.1f} MiB")
print(f"the working tree (git's files, not the ignored ones): {tree:.1f} MiB")
print(f"in all: {house + cache + tree:.1f} MiB")
print("Copy the working tree with $(WHEELHOUSE)/ and data/cache/ to the GPU machine; then, there, in its root:")
print("  python -m pip install --no-index --find-links $(WHEELHOUSE) keras pandas lazy-loader tqdm pooch filelock")
print("  python -m pip install --no-index --find-links $(WHEELHOUSE) --no-deps -e .")
print("  KERAS_BACKEND=jax python bench/gpu.py --skip-notebook    # or KERAS_BACKEND=torch")
endef
export WHEELHOUSE_REPORT

.PHONY: wheelhouse
wheelhouse: $(STAMP)
	rm -rf $(WHEELHOUSE)  # this target's own folder (git-ignored): each run downloads afresh
	for version in $(WHEELHOUSE_PYTHONS); do \
		$(BIN)/python -m pip download --quiet --only-binary=:all: --implementation cp --python-version $$version \
			--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d $(WHEELHOUSE) $(WHEELHOUSE_PACKAGES) \
			|| exit 1; \
	done
	rm -f $(WHEELHOUSE)/numpy-*.whl
	TEXTGEN_DATA_DIR=$(CURDIR)/data/cache $(BIN)/python -c "import textgen_helpers as tg; tg.load_corpus('shakespeare')"
	@$(BIN)/python -c "$$WHEELHOUSE_REPORT"
