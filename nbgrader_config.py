"""nbgrader configuration of the VAE assignment.

nbgrader reads this file from the directory it runs in, so every nbgrader command of
this course runs from the repository root (the `assignment` tools take care of that).
"""
import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades,
                                    IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

# The grading code is this project's package (`pip install -e .`; scratch courses get PYTHONPATH).
from autograder.grading.nbgrader_plugin import ExecuteUntilStuck, HiddenChecks, KeepSubmittedClaims, StartHiddenChecks
from autograder.sandbox.limits import GradingLimits
from autograder.staff.feedback import ShowReleasedChecks, ShowSubmittedRun

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The course row every assignment refers to. nbgrader's default ("") creates none, which sqlite lets
# pass but PostgreSQL (--db-url, several graders at once) refuses; this is also nbgrader.api's default.
c.CourseDirectory.course_id = "default_course"
c.CourseDirectory.source_directory = "solutions"   # instructor notebooks, with solutions
c.CourseDirectory.release_directory = "release"    # student notebooks, generated and committed
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The release must hold only the notebook: every other file in solutions/vae/ would be copied to students.
# Grading records (*.grading.json, written by trusted code beside each autograded notebook) are never copied:
# not from a submission into autograded/, not from autograded/ into the feedback students get.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.png", "*.html", "data", "*.grading.json"]

# Stubs that students see in place of solutions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while validating and autograding. The notebook shrinks its training budget when
# NBGRADER_EXECUTION is set; the slowest cell then takes a few seconds on a 2-core CPU.
c.Execute.timeout = GradingLimits().cell_seconds   # seconds per cell (autograder/sandbox/limits.py)
c.Execute.startup_timeout = 120  # seconds for the kernel to start (torch imports are slow)
c.Execute.kernel_name = "python3"

# Students' code (the kernel above, started by ExecuteUntilStuck's ConfinedKernelManager, and every
# probe of the hidden checks) runs in the sandbox of autograder/sandbox/policy.py, in plain
# `nbgrader autograde` as in `vae-course grade`. If bubblewrap cannot run here, grading
# stops and says why. `--Sandbox.unconfined=True` runs it unconfined instead, trusting every
# submission, and every report says so.
c.Sandbox.unconfined = False

# Before nbgrader clears the submitted outputs: what the student's own run printed that grading reads
# (a best_beta computed from the search, as Check 3d printed it) is kept in the notebook's metadata.
c.Autograde.sanitize_preprocessors = [KeepSubmittedClaims, ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                      OverwriteCells, CheckCellMetadata]

# Autograding: the hidden checks run in trusted code after the student's notebook is executed
# and decide every autograded cell's score (autograder/grading/nbgrader_plugin.py).
c.Autograde.autograde_preprocessors = [StartHiddenChecks, ExecuteUntilStuck, HiddenChecks, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# Students' outputs are untrusted HTML: sanitised in the feedback and in nbgrader's formgrader, which TAs open
# in a browser logged in to Jupyter (a script in an output would act as the TA).
c.HTMLExporter.sanitize_html = True

# Feedback shows each check cell as released (never the hidden tests, nbgrader #917) and our report.
c.GenerateFeedback.preprocessors = [GetGrades, ShowReleasedChecks, ShowSubmittedRun, CSSHTMLHeaderPreprocessor]
