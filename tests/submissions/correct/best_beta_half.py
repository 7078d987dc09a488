"""A smaller but still useful best_beta (0.5)."""
best_beta = 0.5
