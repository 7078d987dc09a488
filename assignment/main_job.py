"""The main job and the release: what `vae-course release` and `vae-course run` do.

    release: regenerate release/ from solutions/ with nbgrader (copying assignment/grader_view.py
             into the notebook first), or with check=True only say whether it is in sync;
    run:     regenerate the release, execute the solution notebook (figures under build/solution, or
             build/solution-full with the real settings), then grade a demonstration class end to end
             (build/demo-class) exactly as an instructor would.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from . import notebooks
from .execute import execute
from .nbgrader_cli import generate_release, generate_release_elsewhere
from .paths import BUILD_DIR, RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK, mnist_root


def release_is_in_sync() -> bool:
    """True when release/ is byte-identical to what nbgrader generates from solutions/ now."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = generate_release_elsewhere(Path(scratch))
        return fresh.read_bytes() == RELEASE_NOTEBOOK.read_bytes()


def release(check: bool = False) -> int:
    """Regenerate release/ from solutions/ (after copying grader_view.py into the notebook), or only check it."""
    if check:
        if release_is_in_sync():
            print(f"{RELEASE_NOTEBOOK.relative_to(REPO_ROOT)} is in sync with {SOURCE_NOTEBOOK.relative_to(REPO_ROOT)}.")
            return 0
        print("The release is stale: run `vae-course release` and commit release/.", file=sys.stderr)
        return 1
    if notebooks.sync_grader_view(SOURCE_NOTEBOOK):
        print(f"Copied assignment/grader_view.py into the grader_view cell of {SOURCE_NOTEBOOK.relative_to(REPO_ROOT)}.")
    path = generate_release()
    print(f"Regenerated {path.relative_to(REPO_ROOT)} (and recorded the assignment in gradebook.db).")
    return 0


def run(full: bool = False, gallery: Path | None = None) -> int:
    """The main job: regenerate the release, execute the solution, grade the demonstration class."""
    out_dir = BUILD_DIR / ("solution-full" if full else "solution")
    print("1/3 Regenerating the student release with nbgrader ...")
    before = RELEASE_NOTEBOOK.read_bytes() if RELEASE_NOTEBOOK.exists() else b""
    if notebooks.sync_grader_view(SOURCE_NOTEBOOK):
        print("    copied assignment/grader_view.py into the source notebook's grader_view cell: commit it")
    generate_release()
    changed = RELEASE_NOTEBOOK.read_bytes() != before
    print(f"    {RELEASE_NOTEBOOK.relative_to(REPO_ROOT)}: "
          + ("CHANGED, commit it with the source" if changed else "unchanged, in sync with the source"))

    mode = "real settings" if full else "fast mode"
    print(f"2/3 Executing the solution notebook ({mode}, MNIST from {mnist_root()}) ...")
    started = time.perf_counter()
    nb = execute(SOURCE_NOTEBOOK, workdir=out_dir, fast=not full)
    seconds = time.perf_counter() - started

    executed = out_dir / SOURCE_NOTEBOOK.name
    nbformat.write(nb, str(executed))
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / "vae.html").write_text(html, encoding="utf-8")
    figures = notebooks.save_images(nb, out_dir / "figures")

    print(f"    executed in {seconds:.0f} s: {executed.relative_to(REPO_ROOT)} and vae.html beside it")
    if gallery:
        from .gallery import write_gallery
        import torch
        device = "a GPU" if torch.cuda.is_available() else "the CPU"
        readme = write_gallery(nb, seconds, Path(gallery), mode, device)
        print(f"    gallery of this run: {readme}")
    print(f"    {len(figures)} figures in {(out_dir / 'figures').relative_to(REPO_ROOT)}/")
    for cell in nb.cells:
        if notebooks.is_autograded_test(cell):
            meta = notebooks.nbgrader_meta(cell)
            passed = not any(o.output_type == "error" for o in cell.get("outputs", []))
            print(f"    {'pass' if passed else 'FAIL'}  {meta['grade_id']:<24} {meta['points']:g} points")
    error = notebooks.first_error(nb)
    if error:
        index, cell, output = error
        print(f"The solution notebook failed in cell {index}: {output.ename}: {output.evalue}", file=sys.stderr)
        return 1
    return run_demo_class(BUILD_DIR / "demo-class")


def run_demo_class(folder: Path) -> int:
    """Grade the demonstration class like an instructor would, and show where everything landed."""
    from autograder.cli import print_class_table
    from autograder.course import Course
    from autograder.staff.export import export_scores
    from autograder.staff.feedback import generate_feedback
    from autograder.workflow.grade_class import grade_class
    from autograder.staff.review import write_review

    from autograder.devtools.demo_class import who_is_who, write_downloads

    print(f"3/3 Grading a demonstration class (downloads in {folder.relative_to(REPO_ROOT)}/downloads) ...")
    for line in who_is_who():
        print(f"    {line}")
    roster = write_downloads(folder / "downloads")
    course = Course(folder / "course")
    result = grade_class(folder / "downloads", course, roster)
    graded = [student for student, report in result.students.items() if report.status == "graded"]
    feedback = generate_feedback(course, graded)
    print_class_table(result, course, feedback)
    pages = write_review(course, folder / "review")
    scores = export_scores(course, folder / "scores.csv")
    review = (folder / "review").relative_to(REPO_ROOT)
    print(f"TA review pages: {review}/index.html ({len(pages)} files). TAs fill in {review}/scores.csv, then "
          f"`vae-course import-scores {review}/scores.csv --course {course.root.relative_to(REPO_ROOT)}`")
    print(f"per-part scores: {scores.relative_to(REPO_ROOT)}")
    expected = {"ada": 31, "bob": 0}
    wrong = {s: result.students[s].total for s, points in expected.items() if result.students[s].total != points}
    if wrong:
        print(f"The demonstration class was graded wrongly: {wrong} (expected {expected})", file=sys.stderr)
        return 1
    return 0
