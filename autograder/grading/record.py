"""The grading record: what grading one notebook found, as typed, versioned JSON.

`HiddenChecks` (nbgrader_plugin.py) writes it beside the autograded notebook (Course.record),
in the grading process, after the kernel ran: every check of every autograded cell (part,
label, passed, message, prerequisite) and the execution events the kernel's run produced (a
dead kernel, a timed-out cell). Every reader (the class workflow, Gradescope, feedback, the
class table) reads this file; none parses the prose written into the notebook's check cells,
which is for people only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from assignment.parts import part_of

from autograder.grading.scores import CellGrade, CheckResult

RECORD_VERSION = 1

# What can stop the kernel's run, as ExecuteUntilStuck saw it happen in the grading process (an exception
# of nbclient's, or its timeout handler running), never as an error output names it: the kernel names those.
DEAD_KERNEL = "DeadKernelError"                 # the kernel died (os._exit, a kill, out of memory)
UNREADABLE_MESSAGE = "UnreadableKernelMessage"  # the kernel sent a message nbclient could not read
CELL_TIMEOUT = "CellTimeoutError"               # a cell ran past the cell time limit
EVENT_ERRORS = (DEAD_KERNEL, UNREADABLE_MESSAGE, CELL_TIMEOUT)


class RecordError(ValueError):
    """A record this grader cannot read (another version, or not a record): regrade the student."""


@dataclass(frozen=True)
class ExecutionEvent:
    error: str                 # one of EVENT_ERRORS
    cell: str | None           # the grade id of the cell it happened in, or None for a cell the student added
    after: str | None = None   # for a cell the student added: the grade id of the cell above it

    @property
    def where(self) -> str:
        """The cell in words a student can find it by."""
        if self.cell is not None:
            return f"cell {self.cell}"
        return f"a cell of your own after {self.after}" if self.after else "a cell of your own at the top"


@dataclass
class CellRecord:
    grade: CellGrade
    raised: str = ""   # what the student's kernel raised in this check cell, one line (a claim, shown, never scored)

    def report(self) -> str:
        """The plain-words report of this cell, as the check cell and Gradescope show it."""
        return self.grade.report() + (f"\n  (In your notebook this cell raised {self.raised})" if self.raised else "")


@dataclass
class GradingRecord:
    cells: dict[str, CellRecord] = field(default_factory=dict)   # grade id -> its checks, in notebook order
    events: list[ExecutionEvent] = field(default_factory=list)
    confined: bool = True
    version: int = RECORD_VERSION

    def to_json(self) -> dict:
        return {"version": self.version, "confined": self.confined,
                "cells": [{"grade_id": c.grade.grade_id, "part": part_of(c.grade.grade_id), "points": c.grade.points,
                           "score": c.grade.score, "notes": list(c.grade.notes), "raised": c.raised,
                           "checks": [{"check": k.check, "label": k.doc, "passed": k.passed, "message": k.message,
                                       "prerequisite": k.prerequisite} for k in c.grade.checks]}
                          for c in self.cells.values()],
                "events": [{"error": e.error, "cell": e.cell, "after": e.after} for e in self.events]}

    @classmethod
    def from_json(cls, data: dict) -> GradingRecord:
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            found = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise RecordError(f"a grading record of version {found!r}, not {RECORD_VERSION}: regrade the student "
                              "with this grader (`vae-course grade ... --force`)")
        try:
            cells = {}
            for c in data["cells"]:
                grade = CellGrade(c["grade_id"], float(c["points"]), notes=list(c["notes"]),
                                  checks=[CheckResult(k["check"], k["label"], bool(k["passed"]), k["message"],
                                                      bool(k["prerequisite"])) for k in c["checks"]])
                cells[grade.grade_id] = CellRecord(grade, c["raised"])
            events = [ExecutionEvent(e["error"], e["cell"], e["after"]) for e in data["events"]]
            return cls(cells, events, bool(data["confined"]))
        except (KeyError, TypeError, ValueError) as e:
            raise RecordError(f"the grading record is incomplete ({type(e).__name__}: {e}): regrade the student") from e

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> GradingRecord:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RecordError(f"no readable grading record at {path} ({e}): regrade the student") from e
        return cls.from_json(data)
