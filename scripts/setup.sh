#!/usr/bin/env bash
# Create .venv and install siamnet with its test, face, service and browser-test (e2e) extras.
# Safe to run again. The e2e tests also need Chromium from Debian (.ci/run installs it).
# PyTorch comes as the CPU build that lies on this machine's disk (pip install torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[dev,faces,service,e2e]'
