"""For bench/timeline_speed.py only: log how long each script run of the Streamlit server takes.

Put this folder on the server's PYTHONPATH with MNIST_SCRIPT_TIMES=<file>: Python imports ``sitecustomize`` at
start-up, and each script run (a whole page, or a fragment) then appends "start end" (time.time) to the file.
"""

import os

_PATH = os.environ.get("MNIST_SCRIPT_TIMES")

if _PATH:
    import time

    from streamlit.runtime.scriptrunner import script_runner as _runner

    _run_script = _runner.ScriptRunner._run_script

    def _timed(self, rerun_data):
        start = time.time()
        try:
            return _run_script(self, rerun_data)
        finally:
            with open(_PATH, "a") as log:
                log.write(f"{start:.4f} {time.time():.4f}\n")

    _runner.ScriptRunner._run_script = _timed
