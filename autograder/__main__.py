"""The instructor's and TAs' commands (nbgrader stays the engine underneath).

    python -m autograder grade DOWNLOADS [--roster CSV]   collect, check, autograde and give feedback to a class
    python -m autograder review OUT_DIR [--anonymise]     one HTML page per inline question, and a CSV for scores
    python -m autograder import-scores CSV                the TAs' scores and comments into the gradebook
    python -m autograder export OUT.csv                   per-student, per-part scores (auto and manual)
    python -m autograder gradescope OUT.zip               an autograder bundle for Gradescope

Every command works on a course directory (default: this repository's root; `--course DIR`
for another, laid out on first use) and its gradebook (`--db-url` for PostgreSQL).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assignment.parts import PARTS, part_of

from .course import Course


def _course(args: argparse.Namespace) -> Course:
    return Course(Path(args.course).resolve(), args.db_url) if args.course else Course(db_url=args.db_url)


def print_class_table(result, course: Course, feedback: dict[str, Path]) -> None:
    parts = [p.id for p in PARTS if any(part_of(g) == p.id for r in result.students.values() for g in r.max_scores)]
    header = f"{'student':<16} {'status':<13} " + " ".join(f"{p[1:]:>5}" for p in parts) + "   auto  flags"
    print(header)
    print("-" * len(header))
    for student, report in sorted(result.students.items()):
        by_part = {p: sum(s for g, s in report.scores.items() if part_of(g) == p) for p in parts}
        cells = " ".join(f"{by_part[p]:>5g}" if report.scores else f"{'-':>5}" for p in parts)
        maximum = sum(report.max_scores.values())
        print(f"{student:<16} {report.status:<13} {cells} {report.total:>4g}/{maximum:g} {len(report.flags):>4}"
              + (f"   {report.reason}" if report.reason else ""))
    for origin, why in result.rejected:
        print(f"not collected: {origin}: {why}")
    for origin, why in result.superseded:
        print(f"not graded (superseded): {origin}: {why}")
    for row in result.unused_roster_rows:
        print(f"roster file not found among the downloads: {row}")
    flagged = [s for s, r in sorted(result.students.items()) if r.flags]
    if flagged:
        print(f"for a TA to look at (flags): {', '.join(flagged)}; details in {course.grading_dir / 'reports'}")
    if not result.confined:
        print("WARNING: graded with --unconfined: students' code ran without the sandbox and could have changed "
              "any result or file this user may; every report says so (SECURITY.md).")
    print(f"{len(result.regraded)} graded now, {len(result.unchanged)} unchanged since the last run, "
          f"in {result.seconds:.0f} s. Reports: {course.grading_dir / 'reports'}")
    if feedback:
        print(f"feedback: {course.root / 'feedback'}/<student>/vae/vae.html ({len(feedback)} students)")


def cmd_grade(args: argparse.Namespace) -> int:
    from .feedback import generate_feedback
    from .grade_class import grade_class
    from .grade_student import GradingLimits

    from .sandbox.policy import SandboxUnavailable

    course = _course(args)
    limits = GradingLimits(seconds=args.timeout, cell_seconds=args.cell_timeout, unconfined=args.unconfined)
    try:
        result = grade_class(Path(args.downloads), course, Path(args.roster) if args.roster else None,
                             workers=args.workers, force=args.force, limits=limits,
                             only=set(args.student) if args.student else None)
    except SandboxUnavailable as e:
        print(f"Not graded: {e}", file=sys.stderr)
        return 2
    graded = [s for s, r in result.students.items() if r.status == "graded"]
    feedback = generate_feedback(course, graded) if not args.no_feedback and result.regraded else {}
    print_class_table(result, course, feedback)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from .review import write_review

    course = _course(args)
    pages = write_review(course.root, Path(args.out_dir), anonymise=args.anonymise, db_url=args.db_url)
    print(f"{len(pages)} files written under {args.out_dir} (open index.html; fill in scores.csv)")
    return 0


def cmd_import_scores(args: argparse.Namespace) -> int:
    from .manual_scores import ScoreImportError, import_scores

    course = _course(args)
    try:
        count = import_scores(course.root, Path(args.csv), db_url=args.db_url,
                              pseudonyms=Path(args.pseudonyms) if args.pseudonyms else None)
    except ScoreImportError as e:
        print(f"Nothing was imported:\n{e}", file=sys.stderr)
        return 1
    print(f"imported {count} scores into the gradebook")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_scores

    course = _course(args)
    path = export_scores(course.root, Path(args.out), db_url=args.db_url)
    print(f"per-part scores written to {path}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from .gradescope import build_bundle

    path = build_bundle(Path(args.out))
    print(f"Gradescope autograder bundle: {path} (upload it as the assignment's autograder .zip)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", help="the course directory (default: this repository's root)")
    parser.add_argument("--db-url", help="the gradebook's database URL (default: sqlite gradebook.db in the course)")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="collect, check, autograde and give feedback to a class")
    grade.add_argument("downloads", help="a folder of student downloads (.ipynb files, zips of them, sub-folders)")
    grade.add_argument("--roster", help="CSV with columns student_id,file for downloads whose name says nothing")
    grade.add_argument("--workers", type=int, help="students graded at once (default: one per CPU core)")
    grade.add_argument("--force", action="store_true", help="regrade everyone, not only what changed")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--timeout", type=float, default=600, help="seconds for one student's grading (default 600)")
    grade.add_argument("--cell-timeout", type=int, default=120, help="seconds for one notebook cell (default 120)")
    grade.add_argument("--no-feedback", action="store_true", help="do not generate feedback HTML")
    grade.add_argument("--unconfined", action="store_true",
                       help="run students' code WITHOUT the sandbox (where bubblewrap cannot run); every report says so")
    grade.set_defaults(func=cmd_grade)

    review = commands.add_parser("review", help="TA pages of every inline answer, and a scores CSV to fill in")
    review.add_argument("out_dir")
    review.add_argument("--anonymise", action="store_true", help="replace student ids by pseudonyms")
    review.set_defaults(func=cmd_review)

    scores = commands.add_parser("import-scores", help="import the TAs' scores and comments from the review CSV")
    scores.add_argument("csv")
    scores.add_argument("--pseudonyms", help="pseudonyms.csv written by `review --anonymise`")
    scores.set_defaults(func=cmd_import_scores)

    export = commands.add_parser("export", help="per-student, per-part scores as CSV")
    export.add_argument("out")
    export.set_defaults(func=cmd_export)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder bundle (.zip)")
    gradescope.add_argument("out")
    gradescope.set_defaults(func=cmd_gradescope)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
