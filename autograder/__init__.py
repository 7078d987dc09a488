"""Trusted grading code: hidden checks and the tools that run them. Never shipped to students.

Student code never runs in this process: `sandbox` runs it in a child process with limits,
and only plain data (tensors and numbers) comes back. The layout, by role:

    grading/    the trusted core: nbgrader preprocessors, extraction, scoring, the grading record
    checks/     the hidden checks, one pytest file per autograded cell
    sandbox/    what runs next to students' code: the policy, its limits, the probe runner, the probes
    intake/     downloads to one notebook per student: collect, repair
    workflow/   grade one student, a class, a Gradescope submission
    staff/      feedback, TA pages, manual scores, export
    devtools/   benchmarks, calibration, the demonstration class (never in the Gradescope bundle)
    course.py   the one builder of a course's paths and gradebook URL
    cli.py      `vae-course`, the one staff command
"""
