"""Intake: from whatever students sent to one well-formed notebook per student.

`collect` maps downloads (any naming, zips, a roster) to students, reading originals only;
`repair` parses each notebook, rebuilds it on the release's cells and flags tampering.
"""
