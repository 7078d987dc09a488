"""Shared fixtures: each notebook is executed once per test session in a real kernel."""
from __future__ import annotations

import pytest
from nbformat import NotebookNode

from assignment import notebooks
from assignment.execute import execute
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK


@pytest.fixture(scope="session")
def source_nb() -> NotebookNode:
    return notebooks.read(SOURCE_NOTEBOOK)


@pytest.fixture(scope="session")
def release_nb() -> NotebookNode:
    return notebooks.read(RELEASE_NOTEBOOK)


@pytest.fixture(scope="session")
def executed_solution(tmp_path_factory) -> NotebookNode:
    """The instructor's notebook executed in fast mode on CPU."""
    return execute(SOURCE_NOTEBOOK, workdir=tmp_path_factory.mktemp("solution"), fast=True)


@pytest.fixture(scope="session")
def executed_release(tmp_path_factory) -> NotebookNode:
    """The student release executed as a student would, before writing any code."""
    return execute(RELEASE_NOTEBOOK, workdir=tmp_path_factory.mktemp("release"), fast=True)
