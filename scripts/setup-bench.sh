#!/usr/bin/env bash
# Install face_recognition beside siamnet, for benchmarks/bench_faces_vs_face_recognition.py.
# face_recognition 1.3.0 declares a dependency on `dlib`, which pip would build from source (CMake,
# a C++ compiler, minutes to tens of minutes). The `dlib-bin` wheel that siamnet's face extra
# installs provides the very same `dlib` module, so face_recognition goes in without its declared
# dependencies, followed by the two it still needs: Click, and pkg_resources (setuptools < 81),
# which face_recognition_models imports to find its model files.
# Usage: bash scripts/setup-bench.sh    (after scripts/setup.sh; safe to run again)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
. .venv/bin/activate
python -m pip install -q --no-deps "face_recognition==1.3.0"
python -m pip install -q "Click>=6.0" "setuptools<81"
python -W ignore -c "import face_recognition, dlib; print('face_recognition ready (dlib', dlib.__version__ + ')')"
