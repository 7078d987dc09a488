"""The training budget and thresholds of the beta checks, in one place for the checks and the calibration.

Every threshold carries the range observed on the reference solution by autograder/calibrate.py.
"""
from __future__ import annotations

NZ, LR, BATCH_SIZE = 64, 1e-3, 64
ITERATIONS = {"beta0": 200, "beta10": 200, "tuned": 300}   # of batches of 64 from the first 2,048 images
SEED = 0

# beta = 0: the posterior becomes a near-deterministic code.
BETA0_MIN_KL = 50.0               # nats per image
BETA0_MAX_SIGMA = 0.6             # mean posterior sigma
BETA0_MAX_REC_RATIO = 0.6         # reconstruction SSE / SSE of predicting the mean image
# beta = 10: posterior collapse.
BETA10_MAX_KL = 0.5
BETA10_MAX_ACTIVE_UNITS = 1
BETA10_MIN_REC_RATIO = 0.85       # no better than predicting one image for all digits
BETA10_MAX_SAMPLE_STD = 0.02      # pixel std across prior samples: they are all the same image
# the student's best_beta: a useful regime.
TUNED_KL_RANGE = (1.0, 100.0)
TUNED_MIN_ACTIVE_UNITS = 5
TUNED_MAX_REC_RATIO = 0.85
