"""Calibrate the training checks on the reference solution over many seeds.

    python -m autograder.calibrate [--seeds 20]

For every seed it runs the same probes as the hidden checks (the auto-encoder loop, and the
grader's VAE training at beta = 0, beta = 10 and the reference's best_beta), then prints each
threshold next to the minimum and maximum observed, and the margin of the worst seed. A
threshold is safe when every seed passes with room to spare; record the margins next to the
thresholds in autograder/checks/regimes.py. The beta = 0 checks retry on further seeds
(regimes.BETA0_ATTEMPTS); the last line says from how many starting seeds every retry misses.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from assignment import notebooks
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from autograder.sandbox import runner as sandbox
from autograder.sandbox import probe_source
from autograder.sandbox.limits import ProbeLimits
from autograder.checks import regimes as R
from autograder.data import grading_subset
from autograder.extract import student_code

PROBES = probe_source()

# (quantity, run, direction, threshold): "<" means the reference must stay below the threshold.
THRESHOLDS = [
    ("AE loop: end/start loss ratio", "ae", "ratio", "<", R.LOOP_MAX_END_START_RATIO),
    ("beta=0: KL (nats)", "beta0", "kl", ">", R.BETA0_MIN_KL),
    ("beta=0: mean posterior sigma", "beta0", "sigma", "<", R.BETA0_MAX_SIGMA),
    ("beta=0: rec SSE / mean-image SSE", "beta0", "rec_ratio", "<", R.BETA0_MAX_REC_RATIO),
    ("beta=10: KL (nats)", "beta10", "kl", "<", R.BETA10_MAX_KL),
    ("beta=10: active units", "beta10", "active", "<=", R.BETA10_MAX_ACTIVE_UNITS),
    ("beta=10: rec SSE / mean-image SSE", "beta10", "rec_ratio", ">", R.BETA10_MIN_REC_RATIO),
    ("beta=10: pixel std of prior samples", "beta10", "sample_std", "<", R.BETA10_MAX_SAMPLE_STD),
    ("tuned: KL (nats), low end", "tuned", "kl", ">", R.TUNED_KL_RANGE[0]),
    ("tuned: KL (nats), high end", "tuned", "kl", "<", R.TUNED_KL_RANGE[1]),
    ("tuned: active units", "tuned", "active", ">=", R.TUNED_MIN_ACTIVE_UNITS),
    ("tuned: rec SSE / mean-image SSE", "tuned", "rec_ratio", "<", R.TUNED_MAX_REC_RATIO),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="probes run at once, one torch thread each")
    args = parser.parse_args()

    code = student_code(notebooks.read(SOURCE_NOTEBOOK), notebooks.read(RELEASE_NOTEBOOK)).source
    best_beta = float(_assignments(code)["best_beta"])
    data = grading_subset()
    scratch_root = Path(tempfile.mkdtemp(prefix="vae-calibration-"))

    def run_probe(entry: str, inputs: dict, seconds: float = 120) -> dict:
        outcome = sandbox.run(code, PROBES, entry, inputs, Path(tempfile.mkdtemp(dir=scratch_root)),
                              ProbeLimits(seconds=seconds * 3, threads=1))
        if not outcome.ok:
            raise RuntimeError(f"{entry} failed on the reference: {outcome.message}\n{outcome.output}")
        return outcome.data

    def one_run(seed: int, run: str) -> tuple[int, str, dict]:
        if run == "ae":
            out = run_probe("train_autoencoder", {"images": data["train"][:512], "nz": 16, "epochs": 3, "lr": 1e-3,
                                                  "batch_size": 64, "seed": seed})
            losses = out["losses"]
            return seed, run, {"ratio": (losses[-3:].mean() / losses[:3].mean()).item()}
        beta, iterations = {"beta0": (0.0, R.ITERATIONS["beta0"]), "beta10": (10.0, R.ITERATIONS["beta10"]),
                            "tuned": (best_beta, R.ITERATIONS["tuned"])}[run]
        return seed, run, R.measure(run_probe, data["train"], data["test"], beta, iterations, seed=seed)

    jobs = [(seed, run) for seed in range(args.seeds) for run in ("ae", "beta0", "beta10", "tuned")]
    observed: dict[str, dict[str, list[float]]] = {}
    with ThreadPoolExecutor(args.workers) as pool:
        for seed, run, values in pool.map(lambda job: one_run(*job), jobs):
            for key, value in values.items():
                observed.setdefault(run, {}).setdefault(key, []).append(value)
            print(f"seed {seed:2d} {run:6s} " + "  ".join(f"{k} {v:.4g}" for k, v in values.items()), flush=True)

    print(f"\nReference solution (best_beta = {best_beta:g}) over {args.seeds} seeds:")
    print(f"{'quantity':38s} {'rule':>10s} {'min':>10s} {'median':>10s} {'max':>10s}  worst-case margin")
    for name, run, key, direction, threshold in THRESHOLDS:
        values = observed[run][key]
        worst = max(values) if direction in ("<", "<=") else min(values)
        ok = {"<": worst < threshold, "<=": worst <= threshold, ">": worst > threshold, ">=": worst >= threshold}[direction]
        margin = (threshold - worst) if direction in ("<", "<=") else (worst - threshold)
        print(f"{name:38s} {direction + ' ' + format(threshold, 'g'):>10s} {min(values):10.4g} "
              f"{statistics.median(values):10.4g} {max(values):10.4g}  {margin:+.4g} {'ok' if ok else 'FAILS'}")

    beta0 = [dict(zip(observed["beta0"], values)) for values in zip(*observed["beta0"].values())]
    reached = [R.beta0_regime_reached(m) for m in beta0]
    missed = [seed for seed in range(args.seeds)
              if not any(reached[(seed + k) % args.seeds] for k in range(R.BETA0_ATTEMPTS))]
    print(f"\nbeta=0 regime reached on {sum(reached)} of {args.seeds} seeds; with up to {R.BETA0_ATTEMPTS} attempts "
          f"(seeds s, s+1, ...) it is missed from {len(missed)} starting seeds {missed or ''}")


def _assignments(code: str) -> dict:
    """The constant assignments of the reference code (best_beta), without running anything else."""
    import ast
    values = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value.value
    return values


if __name__ == "__main__":
    main()
