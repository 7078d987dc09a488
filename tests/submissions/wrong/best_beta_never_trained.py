"""best_beta = 2.0, a value the search never trained (the grid is 0.01, 0.1, 1, 10): a useful regime, but not a choice
made from the figures.

loses: p3d_best_beta
"""
best_beta = 2.0
