#!/usr/bin/env bash
# Install, then run the whole test suite. Lab tests (network namespaces) must run: a skipped lab test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TIDESCAN_REQUIRE_LAB=1
exec "${PYTHON:-python3}" -m pytest -q "$@"
