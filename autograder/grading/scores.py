"""A check cell's score and report, from the results of its hidden checks (typed data, no process, no torch).

Points come from the trusted release, never from the submission's metadata, and a cell's
score is the share of its checks that pass times its points, or nothing while one of its
prerequisite checks fails (a function that ignores its inputs earns no partial credit).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from assignment.parts import PARTS, part_of

PARTS_BY_ID = {part.id: part for part in PARTS}


def one_line(text: str) -> str:
    """`text` as one line of printable characters: what untrusted code said cannot pass for a line of a report
    (no line breaks, no backspaces or terminal escapes that would rewrite what is shown before it)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


@dataclass
class CheckResult:
    check: str
    doc: str
    passed: bool
    message: str = ""
    prerequisite: bool = False   # worth nothing alone; while it fails, the whole cell earns nothing


@dataclass
class CellGrade:
    grade_id: str
    points: float
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        scored = [c for c in self.checks if not c.prerequisite]
        if not scored or not all(c.passed for c in self.checks if c.prerequisite):
            return 0.0
        return round(self.points * sum(c.passed for c in scored) / len(scored), 2)

    def report(self) -> str:
        passed = sum(c.passed for c in self.checks)
        part = PARTS_BY_ID.get(part_of(self.grade_id))
        title = f" (part {part.id[1:]}: {part.title})" if part else ""
        blocked = (any(c.prerequisite and not c.passed for c in self.checks)   # and so it cost points
                   and any(c.passed and not c.prerequisite for c in self.checks))
        lines = [f"Hidden checks of {self.grade_id}{title}: {passed} of {len(self.checks)} passed, "
                 f"{self.score:g} of {self.points:g} points"
                 + (" (a check needed for any points failed)." if blocked else ".")]
        lines += [f"  note: {note}" for note in self.notes]
        for check in self.checks:
            needed = "  (needed for any points)" if check.prerequisite else ""
            lines.append(f"  {'PASS' if check.passed else 'FAIL'}  {check.doc}{needed}")
            if not check.passed:
                lines.append(f"        {check.message}")
        return "\n".join(lines)
