#!/usr/bin/env bash
# Run on the lent GPU machine, in the repository root, with .wheels carried (made here by
# benchmarks/gpu_wheels.sh):  bash benchmarks/gpu_heads.sh
# Installs Keras and Optuna from the carried wheels (no TensorFlow there), then on the JAX
# backend: heads per minute one by one against batches of 10 and 30 trained as one program
# (benchmarks/batched_heads.py, issue 19's table; it extracts the embedded default features
# on the GPU first), then trains
# heads with fixed epochs against a bare fit, runs a short HammingGA search with early
# stopping, and 200 one-epoch heads for memory; then the same on the torch backend with what
# time is left. Tables land in $OUT (or benchmarks/results when OUT is unset).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
PY=${PYTHON:-python3}
$PY -m pip install --quiet --no-index --no-deps .wheels/*.whl
nvidia-smi -L || true
export OPTUNA_HAMMING_CACHE=$PWD/.gpu-cache PYTHONPATH=$PWD
KERAS_BACKEND=jax $PY -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
KERAS_BACKEND=jax $PY benchmarks/batched_heads.py --heads "${BATCHED_HEADS:-30}" --batches 10 30 \
  --max-epochs "${BATCHED_EPOCHS:-30}" --memory-batches 30 --out "$OUT/batched_heads_gpu"
$PY benchmarks/head_training.py --backends jax --epochs 10 --budget-seconds "${JAX_SECONDS:-60}" \
  --search-trials "${SEARCH_TRIALS:-20}" --memory-heads 200 --out "$OUT/head_training_gpu"
$PY benchmarks/head_training.py --backends torch --epochs 10 --budget-seconds "${TORCH_SECONDS:-30}" \
  --search-trials 5 --memory-heads 40 --batch-sizes 32 --out "$OUT/head_training_gpu_torch"
ls -la "$OUT"
