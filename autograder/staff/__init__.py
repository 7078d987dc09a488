"""What staff read and write after grading: feedback for students (`feedback`), TA pages per
question (`review`), the TAs' scores back into the gradebook (`manual_scores`), and per-part
scores as CSV (`export`). Nothing here decides an autograded score.
"""
