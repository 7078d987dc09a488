"""The largest best_beta students of the original chose (1.8): still useful, if slower to train."""
BETA_CANDIDATES = [0.01, 0.1, 1.0, 1.8, 10.0]   # a finer grid around 1, searched like the rest
best_beta = 1.8
