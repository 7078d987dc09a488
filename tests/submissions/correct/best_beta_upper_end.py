"""The largest best_beta students of the original chose (1.8): still useful, if slower to train."""
best_beta = 1.8
