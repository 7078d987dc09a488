"""Build a student's notebook from a corpus file of tests/submissions/.

A corpus file is Python. Without cell markers, its code is appended to the last solution cell of
a copy of the reference notebook (later definitions win). With markers, it edits the notebook
the way a student does, one cell at a time:

    # %% replace p2a_encoder_decoder_solution      the solution cell's whole source becomes what follows
    # %% new cell after p2a_encoder_decoder_solution   a new code cell, without nbgrader metadata
    # %% new cell at the end                       a new code cell after every other cell

Text before the first marker (the docstring, its `loses:` and `keeps:` lines) goes nowhere.
New cells after the same cell appear in the file's order.
"""
from __future__ import annotations

import base64
import copy
import re
import struct
import zlib
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from assignment import notebooks

MARKER = re.compile(r"^# %% (replace (?P<replace>\S+)|new cell after (?P<after>\S+)|new cell at the end)\s*$", re.M)
LAST_SOLUTION_CELL = "p4_interpolate_solution"


def variant_notebook(source_nb: NotebookNode, variant: Path) -> NotebookNode:
    """A copy of `source_nb` edited as `variant` says (see the module docstring)."""
    nb = copy.deepcopy(source_nb)
    text = variant.read_text()
    markers = list(MARKER.finditer(text))
    if not markers:
        last = notebooks.cells_by_grade_id(nb)[LAST_SOLUTION_CELL]
        last.source += f"\n\n\n# --- corpus variant: {variant.stem}\n{text}"
        return nb
    inserted: dict[str, int] = {}   # grade id -> how many new cells were put after it so far
    for marker, following in zip(markers, markers[1:] + [None]):
        code = text[marker.end():following.start() if following else len(text)].strip("\n") + "\n"
        cells = notebooks.cells_by_grade_id(nb)
        if marker["replace"]:
            assert marker["replace"] in cells, f"{variant.name}: no cell {marker['replace']!r} to replace"
            cells[marker["replace"]].source = code
        elif marker["after"]:
            anchor = marker["after"]
            assert anchor in cells, f"{variant.name}: no cell {anchor!r} to put a new cell after"
            index = nb.cells.index(cells[anchor]) + 1 + inserted.get(anchor, 0)
            nb.cells.insert(index, new_code_cell(code))
            inserted[anchor] = inserted.get(anchor, 0) + 1
        else:
            nb.cells.append(new_code_cell(code))
    return nb


def png(n: int) -> str:
    """A valid 4x4 PNG whose colour depends on n, base64-encoded: each figure of a test gets an image of its own."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes([40 * n % 256, 90, 255 - 30 * n % 256]) * 4 for _ in range(4))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(data).decode()
