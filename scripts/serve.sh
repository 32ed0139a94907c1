#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh), then start the attendance service on the embedded default:
# a SQLite file in the data folder ($SIAMNET_HOME, else ~/.local/share/siamnet; created if
# absent), the bundled dlib-resnet face model, http://127.0.0.1:8000. On first start it prints
# the admin and kiosk tokens (also in <data>/tokens.txt, mode 0600). Open /admin to enroll
# people, /kiosk (a browser with a camera) to check in. Extra options go to `siamnet serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec siamnet serve "$@"
