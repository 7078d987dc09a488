"""`vae-course`: every staff task in one command (nbgrader stays the engine underneath).

    vae-course release [--check]                 regenerate release/ from solutions/ (or check it is in sync)
    vae-course run [--full] [--gallery DIR]      the main job: release, execute the solution, grade the demo class
    vae-course grade DOWNLOADS [--roster CSV]    collect, check, autograde and give feedback to a class
    vae-course review OUT_DIR [--anonymise]      one HTML page per inline question, and a CSV for scores
    vae-course import-scores CSV                 the TAs' scores and comments into the gradebook
    vae-course export OUT.csv                    per-student, per-part scores (auto and manual)
    vae-course gradescope OUT.zip                an autograder bundle for Gradescope
    vae-course benchmark | benchmark-class | calibrate [...]   developer tools (`vae-course benchmark --help`)

The course commands work on a course directory (default: this repository's root; `--course DIR`
for another, laid out on first use) and its gradebook (`--db-url` for PostgreSQL); both options
go before or after the subcommand. `python -m autograder` and `python -m assignment` are the same command.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assignment.parts import PARTS, part_of

from autograder.course import Course
from autograder.sandbox.limits import GradingLimits

# Developer tools keep their own options: `vae-course benchmark --runs 1` is `benchmark.main(["--runs", "1"])`.
DEVELOPER_TOOLS = {
    "benchmark": ("autograder.devtools.benchmark", "time grading one submission against executing it once"),
    "benchmark-class": ("autograder.devtools.benchmark_class", "time grading a class against one submission alone"),
    "calibrate": ("autograder.devtools.calibrate", "calibrate the behaviour checks on the solution over many seeds"),
}


def _course(args: argparse.Namespace) -> Course:
    course, db_url = getattr(args, "course", None), getattr(args, "db_url", None)
    return Course(Path(course).resolve(), db_url) if course else Course(db_url=db_url)


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
    if result.machine_errors:
        print(f"NOT GRADED because of this machine, not their notebooks: {', '.join(result.machine_errors)}. "
              f"Their earlier results stand; fix what their status line says, then run the same command again.")
    flagged = [s for s, r in sorted(result.students.items()) if r.flags]
    if flagged:
        print(f"for a TA to look at (flags): {', '.join(flagged)}; details in {course.reports_dir}")
    if not result.confined:
        print("WARNING: graded with --unconfined: students' code ran without the sandbox and could have changed "
              "any result or file this user may; every report says so (SECURITY.md).")
    print(f"{len(result.regraded)} graded now, {len(result.unchanged)} unchanged since the last run, "
          f"in {result.seconds:.0f} s. Reports: {course.reports_dir}")
    if feedback:
        print(f"feedback: {course.root / 'feedback'}/<student>/vae/vae.html ({len(feedback)} students)")


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading.data import DataUnavailable
    from autograder.sandbox.machine_memory import ADVICE as MEMORY_ADVICE, memory_bounded
    from autograder.sandbox.policy import SandboxUnavailable
    from autograder.staff.feedback import generate_feedback
    from autograder.workflow.grade_class import grade_class

    course = _course(args)
    limits = GradingLimits(seconds=args.timeout, cell_seconds=args.cell_timeout, unconfined=args.unconfined)
    try:
        result = grade_class(Path(args.downloads), course, Path(args.roster) if args.roster else None,
                             workers=args.workers, force=args.force, limits=limits,
                             only=set(args.student) if args.student else None)
    except (SandboxUnavailable, DataUnavailable) as e:
        print(f"Not graded: {e}", file=sys.stderr)
        return 2
    graded = [s for s, r in result.students.items() if r.status == "graded"]
    feedback = generate_feedback(course, graded) if not args.no_feedback and result.regraded else {}
    print_class_table(result, course, feedback)
    if result.regraded and not memory_bounded():
        print(f"NOTE: {MEMORY_ADVICE}.", file=sys.stderr)
    return 2 if result.machine_errors else 0


def cmd_review(args: argparse.Namespace) -> int:
    from autograder.staff.review import write_review

    course = _course(args)
    pages = write_review(course, Path(args.out_dir), anonymise=args.anonymise)
    print(f"{len(pages)} files written under {args.out_dir} (open index.html; fill in scores.csv)")
    return 0


def cmd_import_scores(args: argparse.Namespace) -> int:
    from autograder.staff.manual_scores import ScoreImportError, import_scores

    course = _course(args)
    try:
        count = import_scores(course, Path(args.csv), pseudonyms=Path(args.pseudonyms) if args.pseudonyms else None)
    except ScoreImportError as e:
        print(f"Nothing was imported:\n{e}", file=sys.stderr)
        return 1
    print(f"imported {count} scores into the gradebook")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.staff.export import export_scores

    course = _course(args)
    path = export_scores(course, Path(args.out))
    print(f"per-part scores written to {path}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from autograder.workflow.gradescope import build_bundle

    path = build_bundle(Path(args.out))
    print(f"Gradescope autograder bundle: {path} (upload it as the assignment's autograder .zip)")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from assignment.main_job import release
    return release(check=args.check)


def cmd_run(args: argparse.Namespace) -> int:
    from assignment.main_job import run
    return run(full=args.full, gallery=Path(args.gallery) if args.gallery else None)


def _course_options(parser: argparse.ArgumentParser, default=None) -> None:
    parser.add_argument("--course", default=default, help="the course directory (default: this repository's root)")
    parser.add_argument("--db-url", default=default,
                        help="the gradebook's database URL (default: sqlite gradebook.db in the course)")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="vae-course", description=__doc__,
                                          formatter_class=argparse.RawDescriptionHelpFormatter)
    _course_options(main_parser)
    main_parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                             help="how much to log on stderr (info: one line per student graded; default warning)")
    # After the subcommand too; SUPPRESS keeps a value given before it when none is given after.
    course = argparse.ArgumentParser(add_help=False)
    _course_options(course, default=argparse.SUPPRESS)
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    release = commands.add_parser("release", help="regenerate release/ from solutions/ with nbgrader")
    release.add_argument("--check", action="store_true", help="only check that release/ is in sync")
    release.set_defaults(func=cmd_release)

    run = commands.add_parser("run", help="the main job: regenerate the release, execute the solution, grade a "
                                          "demonstration class")
    run.add_argument("--full", action="store_true", help="use the notebook's real training settings, not fast mode")
    run.add_argument("--gallery", metavar="DIR", help="also write the run's figures, printed numbers and cell times "
                                                      "into DIR (docs/reference-run holds one made with --full)")
    run.set_defaults(func=cmd_run)

    limits = GradingLimits()
    grade = commands.add_parser("grade", parents=[course], help="collect, check, autograde and give feedback to a class")
    grade.add_argument("downloads", help="a folder of student downloads (.ipynb files, zips of them, sub-folders)")
    grade.add_argument("--roster", help="CSV with columns student_id,file for downloads whose name says nothing")
    grade.add_argument("--workers", type=int, help="students graded at once (default: one per CPU core)")
    grade.add_argument("--force", action="store_true", help="regrade everyone, not only what changed")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--timeout", type=float, default=limits.seconds,
                       help=f"seconds for one student's grading (default {limits.seconds:g})")
    grade.add_argument("--cell-timeout", type=int, default=limits.cell_seconds,
                       help=f"seconds for one notebook cell (default {limits.cell_seconds})")
    grade.add_argument("--no-feedback", action="store_true", help="do not generate feedback HTML")
    grade.add_argument("--unconfined", action="store_true",
                       help="run students' code WITHOUT the sandbox (where bubblewrap cannot run); every report says so")
    grade.set_defaults(func=cmd_grade)

    review = commands.add_parser("review", parents=[course],
                                 help="TA pages of every inline answer, and a scores CSV to fill in")
    review.add_argument("out_dir")
    review.add_argument("--anonymise", action="store_true", help="replace student ids by pseudonyms")
    review.set_defaults(func=cmd_review)

    scores = commands.add_parser("import-scores", parents=[course],
                                 help="import the TAs' scores and comments from the review CSV")
    scores.add_argument("csv")
    scores.add_argument("--pseudonyms", help="pseudonyms.csv written by `review --anonymise`")
    scores.set_defaults(func=cmd_import_scores)

    export = commands.add_parser("export", parents=[course], help="per-student, per-part scores as CSV")
    export.add_argument("out")
    export.set_defaults(func=cmd_export)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder bundle (.zip)")
    gradescope.add_argument("out")
    gradescope.set_defaults(func=cmd_gradescope)

    for name, (_, help_text) in DEVELOPER_TOOLS.items():
        commands.add_parser(name, help=f"developer tool: {help_text}", add_help=False)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from assignment.paths import NBGRADER_CONFIG, REPO_ROOT
    if not NBGRADER_CONFIG.is_file():
        print(f"vae-course runs from a checkout of the course repository, and {REPO_ROOT} is not one (no "
              f"{NBGRADER_CONFIG.name}): install it with `pip install -e .` from the checkout.", file=sys.stderr)
        return 2
    from autograder.grading.data import DataUnavailable
    from autograder.sandbox.policy import SandboxUnavailable
    command = argv[0] if argv and argv[0] in DEVELOPER_TOOLS else None
    try:
        if command is not None:
            import importlib
            importlib.import_module(DEVELOPER_TOOLS[command][0]).main(argv[1:])
            return 0
        args = parser().parse_args(argv)
        command = args.command   # options such as --course may come before it
        logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        return args.func(args)
    except (SandboxUnavailable, DataUnavailable) as e:   # the machine, not a student: say what to fix, no traceback
        print(f"vae-course {command} stopped: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
