"""A smaller but still useful best_beta (0.5)."""
BETA_CANDIDATES = [0.01, 0.1, 0.5, 1.0, 10.0]   # a finer grid around 1, searched like the rest
best_beta = 0.5
