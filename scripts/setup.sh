#!/usr/bin/env bash
# Create .venv (if needed) and install unpaired into it, with the CPU build of torch.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh dev,export,metrics
# torch is pinned to 2.13.0 first: a bare "torch" requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/pip install --quiet "torch==2.13.0"
fi
EXTRAS="${1:-}"
.venv/bin/pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
