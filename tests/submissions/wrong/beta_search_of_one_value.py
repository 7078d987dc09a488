"""A "search" of one value: BETA_CANDIDATES = [1.0], so best_beta is compared with nothing.

loses: p3d_best_beta
"""
BETA_CANDIDATES = [1.0]
