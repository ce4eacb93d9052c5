#!/usr/bin/env bash
# The main job: set up, then train CycleGAN on the embedded demo domains (runs/demo*/).
# Extra arguments go to "unpaired train", e.g. ./scripts/demo.sh --max-steps 200
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/unpaired train "$@"
