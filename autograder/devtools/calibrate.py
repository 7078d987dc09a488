"""Calibrate the training checks on the reference solution over many seeds.

    vae-course calibrate [--seeds 20]

For every seed it runs the same probes as the hidden checks (the auto-encoder and VAE loops,
and the grader's VAE training at beta = 0, beta = 10 and the reference's best_beta), measures
their returned weights with the checks' own functions (regimes.measure_loop, regimes.measure),
then prints each threshold next to the minimum and maximum observed, and the margin of the worst seed. A
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
from autograder.sandbox.processes import remove_tree
from autograder.checks import regimes as R
from autograder.grading.data import grading_subset
from autograder.grading.extract import student_code

PROBES = probe_source()
RUNS = ("ae", "vae", "beta0", "beta10", "tuned")

# (quantity, run, direction, threshold): "<" means the reference must stay below the threshold.
THRESHOLDS = [
    ("AE loop: first loss / grader's, low", "ae", "first_ratio", ">", R.AE_LOGGED_LOSS_BAND[0]),
    ("AE loop: first loss / grader's, high", "ae", "first_ratio", "<", R.AE_LOGGED_LOSS_BAND[1]),
    ("AE loop: last loss / grader's, low", "ae", "last_ratio", ">", R.AE_LOGGED_LOSS_BAND[0]),
    ("AE loop: last loss / grader's, high", "ae", "last_ratio", "<", R.AE_LOGGED_LOSS_BAND[1]),
    ("AE loop: logged curve / grader's, low", "ae", "curve", ">", R.AE_LOGGED_CURVE_BAND[0]),
    ("AE loop: logged curve / grader's, high", "ae", "curve", "<", R.AE_LOGGED_CURVE_BAND[1]),
    ("AE loop: loss after / before", "ae", "ratio", "<", R.AE_LOOP_MAX_RATIO),
    ("VAE loop: logged curve / grader's, low", "vae", "curve", ">", R.VAE_LOGGED_CURVE_BAND[0]),
    ("VAE loop: logged curve / grader's, high", "vae", "curve", "<", R.VAE_LOGGED_CURVE_BAND[1]),
    ("VAE loop: objective after / before", "vae", "ratio", "<", R.VAE_LOOP_MAX_RATIO),
    ("beta=0: KL (nats)", "beta0", "kl", ">", R.BETA0_MIN_KL),
    ("beta=0: mean posterior sigma", "beta0", "sigma", "<", R.BETA0_MAX_SIGMA),
    ("beta=0: rec SSE / mean-image SSE", "beta0", "rec_ratio", "<", R.BETA0_MAX_REC_RATIO),
    ("beta=10: KL (nats)", "beta10", "kl", "<", R.BETA10_MAX_KL),
    ("beta=10: active units", "beta10", "active", "<=", R.BETA10_MAX_ACTIVE_UNITS),
    ("beta=10: rec SSE / mean-image SSE, low", "beta10", "rec_ratio", ">", R.BETA10_REC_RATIO_RANGE[0]),
    ("beta=10: rec SSE / mean-image SSE, high", "beta10", "rec_ratio", "<", R.BETA10_REC_RATIO_RANGE[1]),
    ("beta=10: pixel std of prior samples", "beta10", "sample_std", "<", R.BETA10_MAX_SAMPLE_STD),
    ("beta=10: samples' mean vs mean image", "beta10", "sample_mean_error", "<", R.BETA10_MAX_SAMPLE_MEAN_ERROR),
    ("tuned: KL (nats), low end", "tuned", "kl", ">", R.TUNED_KL_RANGE[0]),
    ("tuned: KL (nats), high end", "tuned", "kl", "<", R.TUNED_KL_RANGE[1]),
    ("tuned: active units", "tuned", "active", ">=", R.TUNED_MIN_ACTIVE_UNITS),
    ("tuned: rec SSE / mean-image SSE", "tuned", "rec_ratio", "<", R.TUNED_MAX_REC_RATIO),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vae-course calibrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="probes run at once, one torch thread each")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="calibrate only these runs")
    args = parser.parse_args(argv)

    code = student_code(notebooks.read(SOURCE_NOTEBOOK), notebooks.read(RELEASE_NOTEBOOK)).statements
    best_beta = float(_assignments(code)["best_beta"])
    data = grading_subset()
    scratch_root = Path(tempfile.mkdtemp(prefix="vae-calibration-"))

    def run_probe(entry: str, inputs: dict, seconds: float = 120) -> dict:
        scratch = Path(tempfile.mkdtemp(dir=scratch_root))
        try:
            outcome = sandbox.run(code, PROBES, entry, inputs, scratch, ProbeLimits(seconds=seconds * 3, threads=1))
        finally:
            remove_tree(scratch)   # the probe's inputs and trained weights: megabytes, a hundred probes a run
        if not outcome.ok:
            raise RuntimeError(f"{entry} failed on the reference: {outcome.message}\n{outcome.output}")
        return outcome.data

    def one_run(seed: int, run: str) -> tuple[int, str, dict]:
        if run in ("ae", "vae"):
            settings = {**(R.AE_LOOP if run == "ae" else R.VAE_LOOP), "seed": seed}
            out = run_probe("train_autoencoder" if run == "ae" else "train_vae",
                            {"images": data["train"][:R.LOOP_IMAGES], **settings})
            m = R.measure_loop(run, out, data["train"], settings)
            values = {"ratio": m["ratio"], "curve": R.logged_curve(out["losses" if run == "ae" else "values_loss"], m)}
            if run == "ae":
                values["first_ratio"] = out["losses"][0].item() / m["first_batch"]
                values["last_ratio"] = out["losses"][-1].item() / m["last_batch"]
            return seed, run, values
        beta, iterations = {"beta0": (0.0, R.ITERATIONS["beta0"]), "beta10": (10.0, R.ITERATIONS["beta10"]),
                            "tuned": (best_beta, R.ITERATIONS["tuned"])}[run]
        return seed, run, R.measure(run_probe, data["train"], data["test"], beta, iterations, seed=seed,
                                    network=R.NETWORK[run])

    jobs = [(seed, run) for seed in range(args.seeds) for run in args.runs]
    observed: dict[str, dict[str, list[float]]] = {}
    try:
        with ThreadPoolExecutor(args.workers) as pool:
            for seed, run, values in pool.map(lambda job: one_run(*job), jobs):
                for key, value in values.items():
                    observed.setdefault(run, {}).setdefault(key, []).append(value)
                print(f"seed {seed:2d} {run:6s} " + "  ".join(f"{k} {v:.4g}" for k, v in values.items()), flush=True)
    finally:
        remove_tree(scratch_root)

    print(f"\nReference solution (best_beta = {best_beta:g}) over {args.seeds} seeds:")
    print(f"{'quantity':38s} {'rule':>10s} {'min':>10s} {'median':>10s} {'max':>10s}  worst-case margin")
    for name, run, key, direction, threshold in THRESHOLDS:
        if run not in observed:
            continue
        values = observed[run][key]
        worst = max(values) if direction in ("<", "<=") else min(values)
        ok = {"<": worst < threshold, "<=": worst <= threshold, ">": worst > threshold, ">=": worst >= threshold}[direction]
        margin = (threshold - worst) if direction in ("<", "<=") else (worst - threshold)
        print(f"{name:38s} {direction + ' ' + format(threshold, 'g'):>10s} {min(values):10.4g} "
              f"{statistics.median(values):10.4g} {max(values):10.4g}  {margin:+.4g} {'ok' if ok else 'FAILS'}")

    if "beta0" not in observed:
        return
    beta0 = [dict(zip(observed["beta0"], values)) for values in zip(*observed["beta0"].values())]
    reached = [R.beta0_regime_reached(m) for m in beta0]
    missed = [seed for seed in range(args.seeds)
              if not any(reached[(seed + k) % args.seeds] for k in range(R.BETA0_ATTEMPTS))]
    print(f"\nbeta=0 regime reached on {sum(reached)} of {args.seeds} seeds; with up to {R.BETA0_ATTEMPTS} attempts "
          f"(seeds s, s+1, ...) it is missed from {len(missed)} starting seeds {missed or ''}")


def _assignments(code: list[tuple[str, int, str]]) -> dict:
    """The constant assignments of the reference code (best_beta), without running anything else."""
    import ast
    values = {}
    for node in (node for _, _, text in code for node in ast.parse(text).body):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value.value
    return values


if __name__ == "__main__":
    main()
