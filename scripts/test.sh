#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite.
# Tests that read ../shared/datasets (or $SIAMNET_DATA) skip when it is absent,
# unless SIAMNET_REQUIRE_DATA=1 (as in CI), which makes such a skip a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export SIAMNET_DATA="${SIAMNET_DATA:-$(cd .. && pwd)/shared/datasets}"
python -m pytest -q -p no:cacheprovider "$@"
