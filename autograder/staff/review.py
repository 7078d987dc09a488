"""Review pages for TAs: every student's answer to a question next to the figures it discusses.

formgrader shows one student at a time; a TA grading one question across the class wants all
the answers side by side, each with the plots that student's notebook produced, and a way to
grade offline. `write_review` writes, into one folder:

- one self-contained HTML page per manually graded question (`<grade id>.html`): inline CSS,
  figures as base64 data URIs, no network, readable in any browser and fine to e-mail;
- `index.html`, linking the pages, with a student-by-question overview;
- `scores.csv` (student_id, grade_id, max_points, score, comment) for the TA to fill in and
  `autograder.staff.manual_scores.import_scores` to read back, pre-filled with existing manual scores;
- with anonymise=True, `pseudonyms.csv`: the key from pseudonyms to student ids, for the
  instructor only.

Answers come from the autograded notebooks, scores and points from the gradebook. The figures
and printed numbers a TA judges an answer against are the student's own run, from the notebook as
submitted (nbgrader's `submitted/` folder), labelled so; a figure cell submitted without a plot is
flagged. nbgrader's re-execution (fast mode: 1,024 images, one epoch) is shown below it, folded
and labelled as a short check run: its figures are not the student's results. Student answers are untrusted: their markdown is rendered, then
cleaned to a small set of harmless tags, and each page's Content-Security-Policy lets only the
page's own script run and only inline images load.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import bleach
from nbconvert.filters import markdown2html
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from assignment import notebooks
from assignment.parts import QUESTIONS, Question, word_count
from assignment.paths import ASSIGNMENT

from autograder.course import Course
from autograder.staff.gradebook_access import (NOTEBOOK, find_comment_or_none, find_grade_or_none, format_points,
                                               make_pseudonyms, max_points, read_pseudonyms, submitted_students,
                                               write_pseudonyms)

SCORE_COLUMNS = ("student_id", "grade_id", "max_points", "score", "comment")
SHORT_BUDGET = "fast mode: True"   # what the notebook's setup cell prints when QUICK (or fast mode) is on
MAX_FIGURE_BASE64 = 3 * 2**20      # a figure larger than this is not shown (the reference run's largest: 60 KB)
MAX_FIGURES_PER_CELL = 16          # the reference run's p3d_figures draws 7
PRINTED_OUTPUT_LIMIT = 4000   # characters of a figure cell's printed output shown under its plots
_PRINTED_KEPT = PRINTED_OUTPUT_LIMIT + 1   # read from a notebook: one more, so that the page marks the cut
# The budget of nbgrader's re-execution (the notebook's fast mode), as TA pages and feedback describe it.
CHECK_RUN_BUDGET = "fast mode: 1,024 images, one epoch"

# Tags a markdown answer may keep once rendered; everything else is shown escaped, as text, so a TA
# sees an attempt at <script> or <img src=http://...> rather than running or loading it.
_ALLOWED_TAGS = {"p", "br", "hr", "strong", "em", "b", "i", "u", "del", "s", "sub", "sup", "code", "pre", "span",
                 "div", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead",
                 "tbody", "tr", "th", "td"}
_ALLOWED_ATTRIBUTES = {"span": ["class"], "div": ["class"], "code": ["class"], "pre": ["class"],
                       "th": ["align"], "td": ["align"], "ol": ["start"]}
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# nbconvert's permalinks on headings: dead links in a standalone page.
_ANCHOR_LINK = re.compile(r'<a class="anchor-link" href="#[^"]*">(?:¶|&#182;|&para;)</a>')


@dataclass
class Figure:
    cell: str        # grade id of the code cell that drew it
    number: int      # 1-based among that cell's PNG outputs
    png_base64: str


@dataclass
class Evidence:
    """What one run of a student's notebook shows in the cells a question discusses (untrusted: images and text only)."""
    figures: list[Figure] = field(default_factory=list)
    printed: list[tuple[str, str]] = field(default_factory=list)   # (cell grade id, stdout text)
    errors: list[tuple[str, str]] = field(default_factory=list)    # (cell grade id, "ErrorName: message")
    short_budget: bool = False    # the run used the grader's short budget (the student's QUICK switch, or fast mode)
    not_shown: list[str] = field(default_factory=list)              # figures left out: too large, or too many


@dataclass
class Answer:
    """One student's answer to one question, with what the TA needs to judge it."""
    student: str                  # the name shown: the student id, or a pseudonym
    anchor: str                   # HTML id of the student's section; never derived from the real id
    question: Question
    max_points: float
    text: str | None              # markdown source; None when the cell is missing
    missing_reason: str = ""
    unchanged: bool = False       # still the release's stub (nbgrader scored it 0, "No response.")
    # The student's own run, as submitted (None: no submitted notebook found), and nbgrader's short
    # re-execution in fast mode (1,024 images, one epoch): TAs judge the first, the second only checks it runs.
    submitted: Evidence | None = None
    check_run: Evidence = field(default_factory=Evidence)
    manual_score: float | None = None
    auto_score: float | None = None
    manual_comment: str | None = None

    @property
    def words(self) -> int:
        return word_count(self.text or "")

    @property
    def over_limit(self) -> bool:
        return self.text is not None and self.words > self.question.word_limit


def write_review(course: Course, out_dir: Path, anonymise: bool = False) -> list[Path]:
    """Write the review pages, index.html and scores.csv (and pseudonyms.csv if anonymised); return their paths.

    Students are those with a submission of the assignment in the gradebook. With anonymise=True
    no real student id appears in the pages or in scores.csv; pseudonyms already in an existing
    out_dir/pseudonyms.csv are kept, so that re-running the review never relabels a student.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with course.existing_gradebook() as gradebook:
        students = submitted_students(gradebook)
        names = {s: s for s in students}
        if anonymise:
            key = out_dir / "pseudonyms.csv"
            existing = {real: alias for alias, real in read_pseudonyms(key).items()} if key.is_file() else {}
            names = make_pseudonyms(students, existing)
        order = sorted(students, key=lambda s: names[s])
        anchors = {s: f"s{n}" for n, s in enumerate(order, start=1)}
        points = max_points(gradebook)
        autograded = {s: _notebook(course.autograded(s)) for s in order}
        submitted = {s: _notebook(course.submitted(s)) for s in order}
        answers = {q.grade_id: [_answer(gradebook, q, s, names[s], anchors[s], autograded[s], submitted[s], points)
                                for s in order] for q in QUESTIONS}
        prompts = {q.grade_id: _prompt_and_reference(gradebook, q, autograded.values()) for q in QUESTIONS}
    if anonymise:
        for listed in answers.values():
            for answer in listed:
                _scrub_ids(answer, names)

    written = []
    for n, question in enumerate(QUESTIONS):
        neighbours = (QUESTIONS[n - 1] if n > 0 else None, QUESTIONS[n + 1] if n + 1 < len(QUESTIONS) else None)
        page = _question_page(question, answers[question.grade_id], *prompts[question.grade_id], neighbours, anonymise)
        written.append(_write(out_dir / f"{question.grade_id}.html", page))
    written.append(_write(out_dir / "index.html", _index_page(answers, [names[s] for s in order], anonymise)))
    written.append(_write_scores_csv(out_dir / "scores.csv", answers))
    if anonymise:
        written.append(write_pseudonyms(out_dir / "pseudonyms.csv", names))
    return written


# Gathering ------------------------------------------------------------------------------------------

def _notebook(path: Path) -> NotebookNode | None:
    """The student's notebook in nbgrader's `submitted` (their own run) or `autograded` (nbgrader's) folder."""
    try:
        return notebooks.read(path) if path.is_file() else None
    except Exception:   # a submission nbgrader graded is valid JSON; anything else shows as "not found"
        return None


def _answer(gradebook: Gradebook, question: Question, student: str, name: str, anchor: str,
            nb: NotebookNode | None, submitted: NotebookNode | None, points: dict[str, float]) -> Answer:
    grade = find_grade_or_none(gradebook, question.grade_id, student)
    comment = find_comment_or_none(gradebook, question.grade_id, student)
    answer = Answer(student=name, anchor=anchor, question=question, max_points=points[question.grade_id], text=None,
                    manual_score=grade.manual_score if grade else None,
                    auto_score=grade.auto_score if grade else None,
                    manual_comment=comment.manual_comment if comment else None,
                    unchanged=bool(comment and comment.auto_comment == "No response."))
    if submitted is not None:
        answer.submitted = evidence(submitted, question.figures)
    if nb is None:
        answer.missing_reason = "there is no autograded notebook for this student (was autograding run?)"
        return answer
    cell = notebooks.cells_by_grade_id(nb).get(question.grade_id)
    if cell is None:
        answer.missing_reason = ("the answer cell is not in this student's notebook "
                                 "(deleted, or its nbgrader metadata removed)")
    else:
        answer.text = cell.source
    answer.check_run = evidence(nb, question.figures)
    return answer


def evidence(nb: NotebookNode, figure_cells: tuple[str, ...]) -> Evidence:
    """The PNG figures, printed text and errors of `figure_cells` in `nb`, as data safe to put in a page."""
    found, cells = Evidence(), notebooks.cells_by_grade_id(nb)
    found.short_budget = any(SHORT_BUDGET in _text(o.get("text", "")) for cell in nb.cells
                             if notebooks.nbgrader_meta(cell).get("grade_id") == "setup"
                             for o in cell.get("outputs", []) if isinstance(o, dict))
    for figure_id in figure_cells:
        figure_cell = cells.get(figure_id)
        outputs = figure_cell.get("outputs", []) if figure_cell is not None else []
        outputs = [o for o in outputs if isinstance(o, dict)]
        pngs = [o["data"]["image/png"] for o in outputs
                if isinstance(o.get("data"), dict) and isinstance(o["data"].get("image/png"), str)]
        for number, png in enumerate(pngs, start=1):
            if number > MAX_FIGURES_PER_CELL or len(png) > MAX_FIGURE_BASE64 * 1.1:
                found.not_shown.append(f"{figure_id} figure {number}")
                continue
            png = "".join(png.split())
            if _BASE64.fullmatch(png):   # outputs come from student code: never put anything else in an attribute
                found.figures.append(Figure(figure_id, number, png))
        printed = "".join(_text(o.get("text", ""))[:_PRINTED_KEPT] for o in outputs
                          if o.get("output_type") == "stream" and o.get("name") == "stdout")[:_PRINTED_KEPT]
        if printed.strip():
            found.printed.append((figure_id, printed))
        errors = [": ".join(filter(None, (_text(o.get("ename", "Error")), _text(o.get("evalue", "")))))
                  for o in outputs if o.get("output_type") == "error"]
        if errors:
            found.errors.append((figure_id, errors[0]))
    return found


def _text(value) -> str:
    """An output field as text (a submitted notebook may hold a list of lines, or anything else)."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _prompt_and_reference(gradebook: Gradebook, question: Question,
                          submitted: object) -> tuple[str | None, str | None]:
    """The question's text and the instructor's reference answer, from the gradebook's copy of the source.

    The prompt is the locked markdown cell just before the answer cell; its position is read from
    the students' notebooks, its text from the gradebook (a student cannot change it there).
    """
    def source_of(grade_id: str) -> str | None:
        try:
            return gradebook.find_source_cell(grade_id, NOTEBOOK, ASSIGNMENT).source
        except MissingEntry:
            return None

    prompt = None
    for nb in submitted:
        if nb is None:
            continue
        ids = [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells]
        if question.grade_id in ids and ids.index(question.grade_id) > 0:
            before = ids[ids.index(question.grade_id) - 1]
            prompt = source_of(before) if before else None
            if prompt:
                break
    return prompt, source_of(question.grade_id)


def _scrub_ids(answer: Answer, names: dict[str, str]) -> None:
    """Replace every real student id in the text shown with its pseudonym.

    Error messages and printed output can carry a student's id (paths such as
    autograded/<id>/vae), and so can an answer that signs itself. Names written out in full, or
    drawn into a figure, are beyond this.
    """
    if not names:
        return
    pattern = re.compile("|".join(re.escape(s) for s in sorted(names, key=len, reverse=True)), re.IGNORECASE)
    folded = {real.casefold(): alias for real, alias in names.items()}

    def scrub(text: str) -> str:   # in any case: a path may spell an id in capitals
        return pattern.sub(lambda m: folded.get(m.group(0).casefold(), m.group(0)), text)

    if answer.text is not None:
        answer.text = scrub(answer.text)
    answer.manual_comment = scrub(answer.manual_comment) if answer.manual_comment else answer.manual_comment
    for run in filter(None, (answer.submitted, answer.check_run)):
        run.printed = [(cell, scrub(text)) for cell, text in run.printed]
        run.errors = [(cell, scrub(text)) for cell, text in run.errors]


# Rendering ------------------------------------------------------------------------------------------

def render_markdown(source: str) -> str:
    """Markdown to HTML with nbconvert's filter (math stays as $...$ text), then cleaned of anything active."""
    rendered = _ANCHOR_LINK.sub("", markdown2html(source))
    return bleach.clean(rendered, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES, strip=False)


_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --wash: #f6f8fa;
        --bad: #b3261e; --bad-wash: #fdecea; --ok: #1a7f37; --ok-wash: #e6f4ea; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--wash); }
header.page { background: var(--paper); border-bottom: 1px solid var(--line); padding: 1rem 2rem 1.2rem; }
header.page nav { font-size: .9rem; color: var(--muted); display: flex; gap: 1.2rem; flex-wrap: wrap; }
a { color: var(--accent); }
h1 { font-size: 1.5rem; margin: .4rem 0 .3rem; }
h1 .meta, h2 .meta { font-weight: normal; color: var(--muted); font-size: 1rem; }
.banner { border-left: 4px solid #bf8700; background: #fff8c5; padding: .5rem .9rem; margin: .7rem 0; }
.prompt { border-left: 4px solid var(--accent); padding: .1rem 1rem; background: var(--wash); margin: .6rem 0; }
.prompt h3 { margin: .3rem 0; font-size: 1.05rem; }
details.reference { margin: .5rem 0; }
details.reference summary { cursor: pointer; color: var(--muted); }
details.reference > div { padding: .1rem 1rem; background: var(--ok-wash); border-radius: 6px; }
.summary { color: var(--muted); margin: .5rem 0 0; }
.status { font-weight: 600; color: var(--ok); }
.status.problem { color: var(--bad); }
main { padding: 1.2rem 2rem 3rem; display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.2rem; }
section.answer { background: var(--paper); border: 1px solid var(--line); border-radius: 10px;
                 padding: .9rem 1.2rem 1.1rem; }
section.answer.over { border-color: var(--bad); box-shadow: inset 4px 0 0 var(--bad); }
section.answer h2 { font-size: 1.15rem; margin: 0 0 .6rem; display: flex; gap: .6rem; align-items: baseline;
                    flex-wrap: wrap; }
.badge { font-size: .85rem; font-weight: 600; border-radius: 999px; padding: .1rem .65rem; background: var(--wash);
         border: 1px solid var(--line); white-space: nowrap; }
.badge.over { background: var(--bad-wash); color: var(--bad); border-color: var(--bad); }
.badge.ok { background: var(--ok-wash); color: var(--ok); border-color: #8fd19e; }
.cols { display: grid; grid-template-columns: minmax(18rem, 1fr) 2fr; gap: 1.4rem; align-items: start; }
@media (max-width: 900px) { .cols { grid-template-columns: 1fr; } }
.text { max-width: 44rem; overflow-wrap: anywhere; position: sticky; top: .5rem; }
.text p:first-child { margin-top: 0; }
.text pre, pre.printed { background: var(--wash); padding: .5rem .7rem; border-radius: 6px; overflow-x: auto;
                         font-size: .85rem; }
.missing { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); font-size: .9rem; }
.comment { border-top: 1px dashed var(--line); margin-top: .8rem; padding-top: .4rem; font-size: .92rem; }
.figs > details { margin-top: .8rem; }
.run { display: grid; gap: .8rem; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); }
.run > p, .run > details { grid-column: 1 / -1; margin: 0; }
.run-title { font-weight: 600; }
.run.check-run { opacity: .85; }
.flag { color: var(--bad); font-weight: 600; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .4rem; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure img.broken { outline: 3px solid var(--bad); min-height: 2rem; }
figcaption { font-size: .8rem; color: var(--muted); text-align: center; }
table.overview { border-collapse: collapse; background: var(--paper); }
table.overview th, table.overview td { border: 1px solid var(--line); padding: .35rem .7rem; text-align: left; }
table.overview tbody th { white-space: nowrap; }
table.overview td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.over { background: var(--bad-wash); }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: .9rem 1.2rem;
        overflow-x: auto; }
.card h2 { margin: 0 0 .6rem; font-size: 1.2rem; }
"""

# Counts the figures the browser actually decoded, into an element the TA sees: a figure that failed
# to decode would otherwise be a silent gap next to an answer that talks about it.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img.figure"), loaded = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { loaded += 1; } else { img.classList.add("broken"); }
  });
  var status = document.getElementById("figures-loaded");
  if (!status) { return; }
  status.textContent = loaded + " of " + images.length + " figures loaded";
  status.setAttribute("data-loaded", loaded);
  status.setAttribute("data-total", images.length);
  if (loaded < images.length) { status.classList.add("problem"); }
});
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _document(title: str, body: str) -> str:
    policy = (f"default-src 'none'; img-src data:; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_SCRIPT)}; "
              "base-uri 'none'; form-action 'none'")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def _anonymised_banner() -> str:
    return ("<p class=\"banner\"><strong>Anonymised.</strong> Students appear under pseudonyms. The key from "
            "pseudonyms to student ids is in <code>pseudonyms.csv</code>, for the instructor only: take it out of "
            "this folder before passing the pages and <code>scores.csv</code> to TAs.</p>")


def _score_badge(answer: Answer) -> str:
    maximum = format_points(answer.max_points)
    if answer.manual_score is not None:
        return f"<span class=\"badge ok\">score {format_points(answer.manual_score)} / {maximum}</span>"
    if answer.auto_score is not None:
        why = " (no response)" if answer.unchanged else ""
        return f"<span class=\"badge\">nbgrader score {format_points(answer.auto_score)} / {maximum}{why}</span>"
    return f"<span class=\"badge\">not graded yet · {maximum} points</span>"


def _words_badge(answer: Answer) -> str:
    limit = answer.question.word_limit
    if answer.text is None:
        return ""
    if answer.over_limit:
        return (f"<span class=\"badge over\">{answer.words} words: over the {limit}-word limit "
                f"by {answer.words - limit}</span>")
    return f"<span class=\"badge ok\">{answer.words} / {limit} words</span>"


def _answer_section(answer: Answer) -> str:
    if answer.text is None:
        text = (f"<p class=\"missing\">no answer found</p><p class=\"note\">{html.escape(answer.missing_reason)}"
                "</p>")
    else:
        text = render_markdown(answer.text)
        if answer.unchanged:
            text += "<p class=\"note\">This is the release's placeholder, unchanged: nbgrader scored it 0.</p>"
    if answer.manual_comment:
        text += f"<div class=\"comment\"><strong>Comment:</strong> {html.escape(answer.manual_comment)}</div>"
    submitted = (_run_block(answer, answer.submitted, "As submitted: the student's own run", "submitted",
                            "the notebook as the student submitted it")
                 if answer.submitted is not None else
                 "<p class=\"missing\">No submitted notebook found: only the grader's check run is shown.</p>")
    check_run = _run_block(answer, answer.check_run, "Short check run: the grader re-executed the notebook "
                           f"({CHECK_RUN_BUDGET}); not the student's results", "check-run",
                           "the grader's short check run")
    figures = submitted + f"<details class=\"check-run\"><summary class=\"note\">Short check run (fast mode): "\
              f"{len(answer.check_run.figures)} figures</summary>{check_run}</details>"
    over = " over" if answer.over_limit else ""
    return (f"<section class=\"answer{over}\" id=\"{answer.anchor}\">\n"
            f"<h2>{html.escape(answer.student)} {_words_badge(answer)} {_score_badge(answer)}</h2>\n"
            f"<div class=\"cols\"><div class=\"text\">{text}</div><div class=\"figs\">{figures}</div></div>\n"
            "</section>")


def _run_block(answer: Answer, run: Evidence, title: str, kind: str, where: str) -> str:
    """One run's figures, printed numbers and errors, labelled, or a flag where the figure cells hold none."""
    parts = [f"<p class=\"run-title {kind}\">{html.escape(title)}</p>"]
    for cell, error in run.errors:
        parts.append(f"<p class=\"note\">{html.escape(cell)} raised <code>{html.escape(error[:300])}</code></p>")
    if run.not_shown:
        parts.append(f"<p class=\"note\">not shown (too large, or too many): {html.escape(', '.join(run.not_shown))}</p>")
    if kind == "submitted" and run.short_budget:
        parts.append("<p class=\"flag\">short budget: this run had QUICK (or fast mode) on, so its figures come from "
                     f"the short budget ({CHECK_RUN_BUDGET}), not the real settings.</p>")
    without = [cell for cell in answer.question.figures if cell not in {f.cell for f in run.figures}]
    if kind == "submitted" and without:
        parts.append(f"<p class=\"flag\">no figure submitted: {html.escape(', '.join(without))} "
                     f"{'holds' if len(without) == 1 else 'hold'} no plot in {where}.</p>")
    elif not run.figures:
        parts.append(f"<p class=\"note\">No figures: the cells {html.escape(', '.join(answer.question.figures))} "
                     f"produced no plot in {where}.</p>")
    parts += [f"<figure><img class=\"figure {kind}\" src=\"data:image/png;base64,{f.png_base64}\" "
              f"alt=\"{html.escape(f.cell)}, figure {f.number}, {html.escape(answer.student)}, {html.escape(where)}\">"
              f"<figcaption>{html.escape(f.cell)} · figure {f.number} · {html.escape(where)}</figcaption></figure>"
              for f in run.figures]
    for cell, printed in run.printed:
        shown = printed if len(printed) <= PRINTED_OUTPUT_LIMIT else printed[:PRINTED_OUTPUT_LIMIT] + "\n[…]"
        parts.append(f"<details open><summary class=\"note\">printed by {html.escape(cell)} ({html.escape(where)})"
                     f"</summary><pre class=\"printed\">{html.escape(shown)}</pre></details>")
    return f"<div class=\"run {kind}\">{''.join(parts)}</div>"


def _question_page(question: Question, answers: list[Answer], prompt: str | None, reference: str | None,
                   neighbours: tuple[Question | None, Question | None], anonymise: bool) -> str:
    previous, following = neighbours
    nav = ["<a href=\"index.html\">All questions</a>"]
    if previous:
        nav.append(f"<a href=\"{previous.grade_id}.html\">← {previous.grade_id}</a>")
    if following:
        nav.append(f"<a href=\"{following.grade_id}.html\">{following.grade_id} →</a>")
    answered = [a for a in answers if a.text is not None]
    graded = sum(a.manual_score is not None for a in answers)
    points = format_points(answers[0].max_points if answers else question.points)
    header = [f"<nav>{' '.join(nav)}</nav>",
              f"<h1>{question.grade_id} <span class=\"meta\">{points} points · at most {question.word_limit} words · "
              f"figures from {', '.join(question.figures)}</span></h1>"]
    if anonymise:
        header.append(_anonymised_banner())
    if prompt:
        header.append(f"<div class=\"prompt\">{render_markdown(prompt)}</div>")
    if reference:
        header.append("<details class=\"reference\"><summary>Reference answer (staff only)</summary>"
                      f"<div>{render_markdown(reference)}</div></details>")
    header.append(
        f"<p class=\"summary\">{len(answers)} students · {len(answered)} answers · "
        f"{sum(a.over_limit for a in answers)} over the word limit · {len(answers) - len(answered)} with no answer "
        f"found · {graded} graded by a TA · <span class=\"status\" id=\"figures-loaded\">figures not counted "
        "(JavaScript is off)</span></p>")
    header.append("<p class=\"note\">Grade in <code>scores.csv</code> (columns score and comment), then hand it back "
                  "to the instructor for <code>vae-course import-scores</code>.</p>")
    body = (f"<header class=\"page\">{''.join(header)}</header>\n<main>\n"
            + "\n".join(_answer_section(a) for a in answers) + "\n</main>")
    return _document(f"{question.grade_id}: answers for review", body)


def _index_page(answers: dict[str, list[Answer]], students: list[str], anonymise: bool) -> str:
    rows = []
    for question in QUESTIONS:
        listed = answers[question.grade_id]
        rows.append(
            f"<tr><td><a href=\"{question.grade_id}.html\">{question.grade_id}</a></td>"
            f"<td class=\"num\">{format_points(listed[0].max_points if listed else question.points)}</td>"
            f"<td class=\"num\">{question.word_limit}</td>"
            f"<td class=\"num\">{sum(a.text is not None for a in listed)}</td>"
            f"<td class=\"num\">{sum(a.over_limit for a in listed)}</td>"
            f"<td class=\"num\">{sum(a.text is None for a in listed)}</td>"
            f"<td class=\"num\">{sum(a.manual_score is not None for a in listed)} / {len(listed)}</td></tr>")
    questions = ("<table class=\"overview\"><thead><tr><th>question</th><th>points</th><th>word limit</th>"
                 "<th>answers</th><th>over limit</th><th>no answer found</th><th>graded</th></tr></thead>"
                 f"<tbody>{''.join(rows)}</tbody></table>")
    matrix_rows = []
    for n, student in enumerate(students):
        cells = []
        for question in QUESTIONS:
            a = answers[question.grade_id][n]
            label = ("no answer" if a.text is None else
                     f"{format_points(a.manual_score)} / {format_points(a.max_points)}" if a.manual_score is not None
                     else "placeholder" if a.unchanged else f"{a.words} words")
            css = " class=\"over\"" if a.over_limit or a.text is None or a.unchanged else ""
            cells.append(f"<td{css}><a href=\"{question.grade_id}.html#{a.anchor}\">{html.escape(label)}</a></td>")
        matrix_rows.append(f"<tr><th>{html.escape(student)}</th>{''.join(cells)}</tr>")
    matrix = ("<table class=\"overview\"><thead><tr><th>student</th>"
              + "".join(f"<th>{q.grade_id.replace('_', '_<wbr>')}</th>" for q in QUESTIONS)
              + f"</tr></thead><tbody>{''.join(matrix_rows)}</tbody></table>")
    header = ["<h1>Answers for review <span class=\"meta\">assignment "
              f"{html.escape(ASSIGNMENT)} · {len(students)} students · {len(QUESTIONS)} questions</span></h1>"]
    if anonymise:
        header.append(_anonymised_banner())
    header.append("<p class=\"summary\">Each page shows every student's answer to one question, its word count "
                  "against the limit and the figures of that student's notebook. Grade in <code>scores.csv</code>: "
                  "fill in <em>score</em> (a number from 0 to max_points; leave it empty if not graded yet) and "
                  "<em>comment</em>.</p>")
    body = (f"<header class=\"page\">{''.join(header)}</header>\n<main>\n"
            f"<div class=\"card\"><h2>Questions</h2>{questions}</div>\n"
            f"<div class=\"card\"><h2>Students</h2><p class=\"note\">The TA's score if graded, else the answer's "
            f"length; red: over the word limit, no answer found, or the release's placeholder left unchanged.</p>"
            f"{matrix}</div>\n</main>")
    return _document("Answers for review", body)


def _write_scores_csv(path: Path, answers: dict[str, list[Answer]]) -> Path:
    rows = [(a.student, q.grade_id, format_points(a.max_points), format_points(a.manual_score), a.manual_comment or "")
            for q in QUESTIONS for a in answers[q.grade_id]]
    rows.sort(key=lambda row: row[0])   # stable: students in page order, questions in notebook order
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SCORE_COLUMNS)
        writer.writerows(rows)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
