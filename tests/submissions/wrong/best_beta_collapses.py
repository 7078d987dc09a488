"""best_beta = 10: a collapsed VAE chosen as the tuned one.

loses: p3d_best_beta
"""
best_beta = 10.0
