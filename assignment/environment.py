"""The environment for nbgrader and for notebook kernels: one place, so both see the same data and tools."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .paths import REPO_ROOT, mnist_root


def course_env(fast: bool | None = None) -> dict[str, str]:
    """os.environ plus what the course's subprocesses need.

    - this interpreter's bin first on PATH: nbgrader starts `alembic` as a subprocess, and
      kernels must import this environment's torch;
    - MNIST_ROOT made absolute: kernels start in the notebook's folder, not the repo root;
    - this checkout first on PYTHONPATH: nbgrader_config.py imports the grading code from any course folder;
    - fast=True/False turns the notebook's fast mode (VAE_FAST_MODE) on or off; None leaves it.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MNIST_ROOT"] = str(mnist_root())
    # nbgrader imports this checkout's grading code (nbgrader_config.py), from any course folder
    others = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(REPO_ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *others])
    if fast is not None:
        env.pop("VAE_FAST_MODE", None)
        if fast:
            env["VAE_FAST_MODE"] = "1"
    return env
