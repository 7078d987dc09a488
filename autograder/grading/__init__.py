"""The trusted grading core: what decides a score.

nbgrader's autograde preprocessors (`nbgrader_plugin`), the extraction of a notebook's code
(`extract`), the hidden checks' runner and scoring (`run_checks`), the typed record of a graded
notebook (`record`), and what the checks compare with: the rebuilt networks (`architecture`), the
closed-form references (`reference`) and the grading data (`data`). The checks themselves are in
`autograder/checks/`. Everything here runs in the grading process, never beside student code.
"""
