#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite: bash scripts/run_tests.sh [pytest args]
source "$(dirname "$0")/_venv.sh" requirements-dev.txt
# The browser tests drive Debian's chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
exec python -m pytest "$@"
