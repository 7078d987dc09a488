"""Trusted grading code: hidden checks and the tools that run them. Never shipped to students.

Student code never runs in this process: `sandbox` runs it in a child process with limits,
and only plain data (tensors and numbers) comes back.
"""
import os
import sys
from pathlib import Path

# nbgrader's Gradebook runs `alembic` from PATH whenever it opens a database: make it this
# environment's, whatever PATH the grader was started with (a venv used without activating it).
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_BIN, os.environ.get("PATH", "")])
