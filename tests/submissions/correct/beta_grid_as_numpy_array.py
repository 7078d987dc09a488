"""A beta grid written with numpy, np.logspace(-1, 1, 3) (0.1, 1, 10: exactly 100x), and best_beta = 1 as an int."""
import numpy as np

BETA_CANDIDATES = np.logspace(-1, 1, 3)
best_beta = 1
