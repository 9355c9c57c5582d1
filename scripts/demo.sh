#!/usr/bin/env bash
# Install, then run a real scan of the built-in lab (network namespaces made and removed by tidescan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec "${PYTHON:-python3}" -m tidescan --lab "$@"
