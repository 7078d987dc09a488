"""`python -m assignment`: the same command as `vae-course` (autograder/cli.py), e.g. `python -m assignment release`."""
import sys

from autograder.cli import main

if __name__ == "__main__":
    sys.exit(main())
