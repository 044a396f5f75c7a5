#!/usr/bin/env bash
# Set up (first time only) and start the dashboard: bash scripts/run_app.sh [extra streamlit flags]
source "$(dirname "$0")/_venv.sh" requirements.txt
exec python -m streamlit run app.py "$@"
