"""Where things are: one place for every path the tools and tests use."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "vae"
NOTEBOOK_NAME = "vae.ipynb"
SOURCE_NOTEBOOK = REPO_ROOT / "solutions" / ASSIGNMENT / NOTEBOOK_NAME
RELEASE_NOTEBOOK = REPO_ROOT / "release" / ASSIGNMENT / NOTEBOOK_NAME
NBGRADER_CONFIG = REPO_ROOT / "nbgrader_config.py"
BUILD_DIR = REPO_ROOT / "build"


def mnist_root() -> Path:
    """The MNIST data root: $MNIST_ROOT, else ./data (torchvision downloads there when online).

    This mirrors the notebook's own default, so that the tools and the notebook agree.
    """
    return Path(os.environ.get("MNIST_ROOT", REPO_ROOT / "data")).resolve()
