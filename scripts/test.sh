#!/usr/bin/env bash
# Set up, lint, and run the test suite (CPU, no network, no downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,export,metrics,medical,hub,video,app
.venv/bin/ruff check src tests benchmarks
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
