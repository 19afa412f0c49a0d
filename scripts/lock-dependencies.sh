#!/usr/bin/env bash
# Regenerates the hashed lock files in requirements/ from pyproject.toml (and requirements/build.in):
#   bench.txt   = runtime + test + bench extras  (`make bench`)
#   dev.txt     = runtime + test extras          (`make install`, CI)
#   runtime.txt = runtime only                   (the Dockerfile)
# The smaller files are constrained by bench.txt, so one package has one version everywhere. Versions
# already in bench.txt are kept unless pyproject.toml needs others; `--upgrade` moves everything to the
# newest allowed (then run the whole test suite before committing the new locks).
#
#   scripts/lock-dependencies.sh            # after changing dependencies in pyproject.toml
#   scripts/lock-dependencies.sh --upgrade  # e.g. monthly, or for a security fix
#   scripts/lock-dependencies.sh --upgrade-package cryptography
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
  UV=uv
else
  # uv itself from PyPI, in a throwaway virtualenv (not part of the project's environment)
  tools=.venv-lock
  test -x "$tools/bin/uv" || { python3 -m venv "$tools" && "$tools/bin/pip" install -q "uv==$UV_VERSION"; }
  UV="$tools/bin/uv"
fi
common=(--universal --python-version 3.11 --generate-hashes --quiet)
"$UV" pip compile pyproject.toml requirements/build.in --extra test --extra bench "${common[@]}" "$@" -o requirements/bench.txt
"$UV" pip compile pyproject.toml requirements/build.in --extra test -c requirements/bench.txt "${common[@]}" -o requirements/dev.txt
"$UV" pip compile pyproject.toml requirements/build.in -c requirements/bench.txt "${common[@]}" -o requirements/runtime.txt
echo "locked: $(grep -c '==' requirements/runtime.txt) runtime, $(grep -c '==' requirements/dev.txt) dev, $(grep -c '==' requirements/bench.txt) bench packages"
