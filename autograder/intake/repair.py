"""Check a submitted notebook before grading, and repair what can be repaired.

Colab keeps nbgrader's metadata but not its protections: students delete, duplicate, move
and edit cells, and sometimes strip or rename metadata. nbgrader then grades badly (a
duplicated cell id aborts the student with a misleading message; a reordered cell is not
noticed; a deleted check cell silently loses its points). Here every cell of the release is
matched in the submission (by grade id, else by content), and the notebook is rebuilt in the
release's order with the release's metadata. Every change is recorded in plain words; the
ones that look like tampering (changed points, edited or deleted check cells) are also
flagged for a TA. Files that are not notebooks at all get a reason and no grade.
"""
from __future__ import annotations

import ast
import copy
import json
import uuid
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from assignment import notebooks

from autograder.sandbox.limits import OUTPUTS

MAX_CELLS = 2000   # a notebook with more cells than this is not a submission of this assignment


@dataclass
class Checked:
    """The outcome of checking one submission."""
    notebook: NotebookNode | None = None        # what to grade (None: nothing gradable)
    fatal: str | None = None                    # why it cannot be graded at all
    repairs: list[str] = field(default_factory=list)   # every change made, in plain words
    flags: list[str] = field(default_factory=list)     # what a TA should look at


def parse(data: bytes) -> tuple[NotebookNode | None, str | None, list[str]]:
    """The notebook in `data` as nbformat 4, or the reason it is not one; plus conversions made."""
    notes = []
    if not data.strip():
        return None, "the file is empty", notes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return None, (f"the file is not UTF-8 text (byte {e.start} is {data[e.start:e.start + 1]!r}): it is not a "
                      "notebook, or it was saved with another program; download the .ipynb from Colab again"), notes
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        return None, (f"the file is not valid notebook JSON (line {e.lineno}, column {e.colno}: {e.msg}); it was "
                      "probably edited by hand or cut short: download the .ipynb from Colab again"), notes
    try:   # JSON may spell a lone UTF-16 surrogate ("\ud800"): valid JSON, but no text can hold it
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return None, (f"the notebook holds a character that is not valid Unicode ({e.object[e.start:e.end]!r}, a lone "
                      "UTF-16 surrogate): it was edited by hand or by a broken tool; download the .ipynb from Colab "
                      "again"), notes
    if not isinstance(raw, dict) or "nbformat" not in raw:
        return None, "the file is JSON but not a Jupyter notebook (it has no nbformat version)", notes
    version = raw.get("nbformat")
    if version not in (3, 4):
        return None, f"the notebook has format version {version!r}; only versions 3 and 4 can be read", notes
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:   # nbformat raises many kinds on malformed notebooks
        return None, f"the notebook's structure is broken ({type(e).__name__}: {str(e)[:200]})", notes
    if version == 3:
        notes.append("converted the notebook from format 3 to format 4")
    if not isinstance(nb.get("cells"), list) or not nb.cells:
        return None, "the notebook has no cells", notes
    if len(nb.cells) > MAX_CELLS:
        return None, f"the notebook has {len(nb.cells)} cells, far more than this assignment's", notes
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return None, "the notebook's cells are malformed (a cell has no source or an unknown type)", notes
    return nb, None, notes


def _names_defined(source: str) -> set[str]:
    """Top-level names a code cell defines: what identifies a solution cell whose metadata is gone."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _describe_metadata_change(old: dict, new: dict) -> str:
    keys = ("grade", "solution", "locked", "points", "grade_id")
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k) and k in new]
    return ", ".join(changed)


def _match_unlabelled(cell: NotebookNode, wanted: dict[str, NotebookNode], previous_id: str | None,
                      release_order: list[str]) -> str | None:
    """The release cell an unlabelled (or renamed) submission cell stands for, found by content."""
    for grade_id, released in wanted.items():
        if released.cell_type == cell.cell_type and _normalised(released.source) == _normalised(cell.source):
            return grade_id
    if cell.cell_type == "code":
        names = _names_defined(cell.source)
        for grade_id, released in wanted.items():
            expected = _names_defined(released.source)
            if released.cell_type == "code" and expected and expected <= names:
                return grade_id
    if cell.cell_type == "markdown" and previous_id in release_order:   # an answer right below its question
        following = release_order[release_order.index(previous_id) + 1:][:1]
        if following and following[0] in wanted and notebooks.is_manual_answer(wanted[following[0]]):
            return following[0]
    return None


def _pick(candidates: list[NotebookNode], released: NotebookNode) -> NotebookNode:
    """Of several copies of one cell, the student's work: the last one that differs from the release."""
    changed = [c for c in candidates if _normalised(c.source) != _normalised(released.source)]
    return (changed or candidates)[-1]


def repair(nb: NotebookNode, release: NotebookNode) -> Checked:
    """Rebuild `nb` on the release's cells and metadata; record every change (see module doc)."""
    checked = Checked()
    released = notebooks.cells_by_grade_id(release)
    order = list(released)
    found: dict[str, list[NotebookNode]] = {gid: [] for gid in order}
    placed: list[tuple[str | None, NotebookNode]] = []   # (grade id or None for the student's own cells, cell)
    previous = None
    for cell in nb.cells:
        if not isinstance(cell.metadata.get("nbgrader", {}), dict):
            cell.metadata.pop("nbgrader")   # not even a mapping: nothing in it can be trusted
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if grade_id not in released:
            wanted = {gid: released[gid] for gid in order if not found[gid]}
            match = _match_unlabelled(cell, wanted, previous, order)
            if match is not None:
                what = f"renamed to {grade_id!r}" if grade_id else "missing"
                checked.repairs.append(f"cell {match}: its nbgrader metadata was {what}; matched it by content")
                if grade_id:
                    checked.flags.append(f"the grade id of cell {match} was changed to {grade_id!r}")
                grade_id = match
            else:
                if grade_id:
                    checked.repairs.append(f"a cell with the unknown grade id {grade_id!r} was kept as an ungraded cell")
                    checked.flags.append(f"a cell carries the unknown grade id {grade_id!r}")
                    cell.metadata.pop("nbgrader", None)
                placed.append((None, cell))
                continue
        found[grade_id].append(cell)
        placed.append((grade_id, cell))
        previous = grade_id

    chosen: dict[str, NotebookNode] = {}
    for grade_id in order:
        copies = found[grade_id]
        if len(copies) > 1:
            chosen[grade_id] = _pick(copies, released[grade_id])
            checked.repairs.append(f"cell {grade_id} appeared {len(copies)} times: kept the last edited copy")
        elif copies:
            chosen[grade_id] = copies[0]

    submitted_order = [gid for gid, cell in placed if gid is not None and chosen.get(gid) is cell]
    if submitted_order != [gid for gid in order if gid in chosen]:
        checked.repairs.append("cells were out of order: put back in the release's order")

    # The rebuilt notebook: release order; the student's own cells stay after the cell they followed.
    extras: dict[str | None, list[NotebookNode]] = {}
    anchor = None
    for grade_id, cell in placed:
        if grade_id is None:
            extras.setdefault(anchor, []).append(cell)
        elif chosen.get(grade_id) is cell:
            anchor = grade_id
    cells = list(extras.get(None, []))
    for grade_id in order:
        reference = released[grade_id]
        cell = chosen.get(grade_id)
        if cell is None:
            cell = copy.deepcopy(reference)
            kind = "check cell" if notebooks.is_autograded_test(reference) else "cell"
            checked.repairs.append(f"the {kind} {grade_id} was missing: restored it from the release")
            if notebooks.is_autograded_test(reference) or notebooks.is_manual_answer(reference):
                checked.flags.append(f"the {kind} {grade_id} had been deleted")
        else:
            _restore(cell, reference, grade_id, checked)
        cells.append(cell)
        cells.extend(extras.get(grade_id, []))

    result = copy.deepcopy(release)
    result.cells = cells
    _fresh_ids(result)
    _cap_outputs(result, checked)
    checked.notebook = result
    return checked


def _restore(cell: NotebookNode, reference: NotebookNode, grade_id: str, checked: Checked) -> None:
    """Give a matched cell the release's type and metadata; flag edits of cells students must not change."""
    old = notebooks.nbgrader_meta(cell)
    new = notebooks.nbgrader_meta(reference)
    if old and old.get("grade_id") == grade_id and old != new:
        change = _describe_metadata_change(old, new)
        if change:
            checked.repairs.append(f"cell {grade_id}: restored its nbgrader metadata ({change})")
            checked.flags.append(f"the nbgrader metadata of {grade_id} had been changed ({change})")
    if cell.cell_type != reference.cell_type:
        checked.repairs.append(f"cell {grade_id} had been turned into a {cell.cell_type} cell: made it "
                               f"{reference.cell_type} again")
        cell.cell_type = reference.cell_type
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    cell.metadata = copy.deepcopy(reference.metadata)
    if new.get("locked") and not new.get("solution") and _normalised(cell.source) != _normalised(reference.source):
        what = "check cell" if notebooks.is_autograded_test(reference) else "provided cell"
        checked.flags.append(f"the {what} {grade_id} had been edited (nbgrader puts the original back before grading)")


def _fresh_ids(nb: NotebookNode) -> None:
    """Unique cell ids: a copied cell shares its id, which aborts nbgrader."""
    seen = set()
    for cell in nb.cells:
        if not cell.get("id") or cell.id in seen:
            cell.id = uuid.uuid4().hex[:12]
        seen.add(cell.id)


def _cap_outputs(nb: NotebookNode, checked: Checked) -> None:
    """Keep the outputs of the student's own run, except a cell's that are too large to show (said in a repair).

    nbgrader clears them before it executes the notebook again: they never reach the kernel or a score.
    """
    total = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        size = len(json.dumps(cell.outputs, default=str))
        if size > OUTPUTS.submitted_cell_bytes or total + size > OUTPUTS.submitted_total_bytes:
            label = notebooks.nbgrader_meta(cell).get("grade_id") or "a cell you added"
            checked.repairs.append(f"dropped the outputs of {label} ({size / 2**20:.1f} MiB): too large to show a TA")
            cell.outputs = []
            cell.execution_count = None
        else:
            total += size


def check(data: bytes, release: NotebookNode) -> Checked:
    """Parse and repair one submission: the whole pre-grading check."""
    nb, fatal, notes = parse(data)
    if nb is None:
        return Checked(fatal=fatal)
    labelled = sum(1 for cell in nb.cells if isinstance(cell.metadata.get("nbgrader"), dict)
                   and cell.metadata.nbgrader.get("grade_id"))
    checked = repair(nb, release)
    checked.repairs[:0] = notes
    if labelled == 0:
        checked.flags.append("no cell of this notebook carries nbgrader metadata: is it the VAE notebook?")
    return checked
