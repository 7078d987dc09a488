"""Course tooling for the VAE assignment: build the student release, run the notebooks.

The instructor's notebook (solutions/vae/vae.ipynb) is the source of truth; this package
only drives nbgrader and Jupyter around it. The hidden checks and the grading pipeline
live in autograder/, which is never shipped to students.
"""
