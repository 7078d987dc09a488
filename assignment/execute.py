"""Execute a notebook in a real Jupyter kernel, as Colab or nbgrader would."""
from __future__ import annotations

from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

from .notebooks import read
from .environment import course_env


def execute(notebook: Path, workdir: Path, fast: bool = True, cell_timeout: int = 600) -> NotebookNode:
    """Run every cell in order in a fresh python3 kernel started in `workdir`; stop at the first error.

    Returns the notebook with its outputs either way: the error, if any, is in the outputs
    of the cell that raised (see notebooks.first_error).
    """
    nb = read(notebook)
    workdir.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=cell_timeout, startup_timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=course_env(fast=fast))
    except CellExecutionError:
        pass
    return nb
