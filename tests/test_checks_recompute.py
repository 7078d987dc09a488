"""Verify, don't trust: what a probe returns is a claim, so the checks recompute what they judge.

A probe runs after the student's code in the same interpreter: the submission can make it
return anything. These tests grade two submissions that exploit that and require every check
that compares a value to fail:

- tests/recompute/pretender.py: honest probes, but functions that look right without doing the
  work (losses that fall without training, torch.randn "samples", a pixel-space blend);
- tests/recompute/forger.py: replaces the probes themselves as they are loaded and returns the
  claims the old checks trusted, plus all-zero, constant and NaN values.

Form checks (a list of floats, a shape) are tied to what the grader measures: the log must move
as the returned weights did, images must be ones the given decoder makes. What still passes on
forged data is what a working implementation returns anyway: samples of the right law, a loss's
shapes, the internal consistency of a history. The pretender's VAE, KL and the rest are the
reference solution's and must still pass. One grading per submission (about 30 s each), then
fast unit tests of the helpers in the grading process.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from assignment.environment import course_env
from assignment.paths import REPO_ROOT
from autograder.checks import regimes as R
from autograder.checks import results
from autograder.grading.data import grading_subset
from autograder.grading.extract import StudentCode, student_code
from tests.variants import variant_notebook
from autograder.grading.run_checks import CHECKS_DIR, autograded_points, grade_notebook
from autograder.grading.scores import CellGrade, CheckResult
from autograder.sandbox.networks import ReferenceDecoder, ReferenceEncoder, _InvertibleDecoder, decode_codes

HERE = Path(__file__).parent / "recompute"


def _passed(grade: CellGrade) -> set[str]:
    return {check.check for check in grade.checks if check.passed}


def _failed(grade: CellGrade) -> dict[str, str]:
    return {check.check: check.message for check in grade.checks if not check.passed}


def _check_files(code: StudentCode, grade_ids: set[str], workdir: Path, keyword: str, release) -> dict[str, CellGrade]:
    """Run the check files of `grade_ids` on `code` with pytest's -k `keyword`; the cells' grades."""
    code.write(workdir / "submission.json")
    report = workdir / "report.json"
    subprocess.run([sys.executable, "-m", "pytest", *(str(CHECKS_DIR / f"test_{gid}.py") for gid in sorted(grade_ids)),
                    "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "-k", keyword,
                    f"--basetemp={workdir / 'probes'}", f"--submission={workdir / 'submission.json'}", f"--report={report}"],
                   cwd=REPO_ROOT, env=course_env(), capture_output=True, text=True, timeout=300)
    points = autograded_points(release)
    grades = {gid: CellGrade(gid, points[gid]) for gid in grade_ids}
    for record in json.loads(report.read_text()):
        grades[record["grade_id"]].checks.append(CheckResult(record["check"], record["doc"], record["passed"],
                                                             record["message"], record["prerequisite"]))
    return grades


@pytest.fixture(scope="module")
def pretender(source_nb, release_nb, tmp_path_factory) -> dict[str, CellGrade]:
    # The beta runs of 3b train the reference VAE (the pretender's is honest) and take a minute: left out.
    code = student_code(variant_notebook(source_nb, HERE / "pretender.py"), release_nb)
    return _check_files(code, {"p2c_train_autoencoder", "p2e_sample_prior", "p3b_train_vae", "p4_interpolate"},
                        tmp_path_factory.mktemp("pretender"), "not beta0 and not beta10", release_nb)


@pytest.fixture(scope="module")
def forger(source_nb) -> dict[str, CellGrade]:
    return grade_notebook(variant_notebook(source_nb, HERE / "forger.py"),
                          grade_ids={"p2c_train_autoencoder", "p2e_sample_prior", "p3a_reparameterize", "p3a_vae_loss",
                                     "p3b_train_vae", "p3d_best_beta", "p4_interpolate"})


# --- the pretender: honest probes, no work done -------------------------------------------------

def test_losses_that_fall_without_training_earn_nothing_for_training(pretender):
    ae, vae = pretender["p2c_train_autoencoder"], pretender["p3b_train_vae"]
    assert ae.score == 0 and not _passed(ae), ae.report()
    failed = _failed(ae)
    assert "but the loss of the model your loop returned changed by 1.0" in failed["test_returns_one_python_float_per_iteration"]
    assert "the model your loop returned has a loss of" in failed["test_first_loss_is_the_summed_squared_error_of_the_first_batch"]
    assert "the loss on the training images went from" in failed["test_loss_falls_during_training"]
    assert "never changed" in failed["test_optimizer_updates_every_parameter"]
    # total = rec + kl is true of the pretender's history (it adds them up); that the history is training's is not.
    assert _passed(vae) == {"test_history_total_is_reconstruction_plus_beta_times_kl"}, vae.report()
    assert "but the loss of the model your loop returned changed by" in _failed(vae)["test_returns_the_three_histories_as_python_floats"]
    assert "went from" in _failed(vae)["test_training_lowers_the_loss_and_updates_every_parameter"]


def test_random_images_are_not_prior_samples(pretender):
    grade = pretender["p2e_sample_prior"]
    assert grade.score == 0 and not _passed(grade), grade.report()
    assert all("not images the decoder made" in message for message in _failed(grade).values()), grade.report()


def test_a_pixel_blend_is_not_a_latent_path(pretender):
    grade = pretender["p4_interpolate"]
    # Its first and last images are the decoded codes, as they should be; the images between are not decodings.
    assert _passed(grade) == {"test_endpoints_decode_the_two_codes[AutoEncoder]",
                              "test_endpoints_decode_the_two_codes[VAE]"}, grade.report()
    assert "images 2, 3, 4, 5 of the path are not images the model's decoder makes" in \
        _failed(grade)["test_returns_steps_images[VAE]"], grade.report()


# --- the forger: replaced probes ---------------------------------------------------------------

# What the forger's data may still pass: what a working implementation returns anyway (its
# reparameterisation samples are mu + sigma * randn; shapes and scalars of a loss the grader cannot
# rebuild, since it runs on the student's own networks). Everything else fails.
FORM_ONLY = {
    "p2c_train_autoencoder": set(),
    "p2e_sample_prior": set(),
    "p3a_reparameterize": {"test_samples_have_mean_mu", "test_samples_have_standard_deviation_exp_log_sigma"},
    "p3a_vae_loss": {"test_forward_returns_q_and_rec_of_the_right_shapes",
                     "test_losses_are_scalars_and_the_total_keeps_its_gradient"},
    "p3b_train_vae": set(),
    "p3d_best_beta": {"test_best_beta_is_a_positive_number",   # the honest best_beta = 1.0 and grid: prerequisites,
                      "test_the_search_spans_a_hundredfold_and_holds_best_beta"},   # worth nothing
    "p4_interpolate": set(),
}


@pytest.mark.parametrize("grade_id", sorted(FORM_ONLY))
def test_forged_probe_results_pass_no_check_that_compares_a_value(forger, grade_id):
    grade = forger[grade_id]
    assert grade.checks, f"no check ran for {grade_id}"
    assert _passed(grade) == FORM_ONLY[grade_id], grade.report()
    assert all(message and message != "this check failed" for message in _failed(grade).values()), grade.report()


def test_the_forger_earns_nothing_where_every_check_compares_values(forger):
    for grade_id in ("p2c_train_autoencoder", "p2e_sample_prior", "p3b_train_vae", "p3d_best_beta", "p4_interpolate"):
        assert forger[grade_id].score == 0, forger[grade_id].report()
    # The old claims name no weights: the checks say what is missing, in words.
    assert "did not get the trained encoder's weights back" in _failed(forger["p2c_train_autoencoder"])["test_loss_falls_during_training"]
    assert "did not get the trained VAE's encoder weights back" in _failed(forger["p3b_train_vae"])["test_beta10_posterior_collapses"]


# --- the helpers, in the grading process -------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    return grading_subset()


def _failure(call) -> str:
    with pytest.raises(pytest.fail.Exception) as caught:
        call()
    return str(caught.value)


def test_results_accept_only_finite_float_tensors_of_the_expected_shape():
    out = {"ok": torch.ones(2, 3), "ints": torch.ones(2, 3, dtype=torch.long), "nan": torch.tensor([1.0, float("nan")]),
           "text": "abc"}
    assert results.tensor(out, "ok", [2, 3]).shape == (2, 3)
    assert "had shape [2, 3] instead of [3, 2]" in _failure(lambda: results.tensor(out, "ok", [3, 2], what="q"))
    assert "floating-point" in _failure(lambda: results.tensor(out, "ints"))
    assert "floating-point" in _failure(lambda: results.tensor(out, "text"))
    assert "1 NaN or infinite value" in _failure(lambda: results.tensor(out, "nan"))
    assert results.tensor(out, "nan", finite=False).shape == (2,)
    assert "did not get the path back" in _failure(lambda: results.tensor(out, "missing", what="the path"))
    assert "unexpected form" in _failure(lambda: results.plain(out, "text", list))


def test_results_load_only_weights_that_fit_the_graders_network():
    state = ReferenceDecoder(4).state_dict()
    assert "missing: fc.bias" in _failure(lambda: results.weights({"w": {k: v for k, v in state.items() if k != "fc.bias"}},
                                                                  "w", ReferenceDecoder(4), "the weights"))
    assert "do not fit" in _failure(lambda: results.weights({"w": ReferenceDecoder(5).state_dict()}, "w", ReferenceDecoder(4), "the weights"))
    bad = {**state, "fc.weight": torch.full_like(state["fc.weight"], float("nan"))}
    assert "NaN" in _failure(lambda: results.weights({"w": bad}, "w", ReferenceDecoder(4), "the weights"))
    loaded = results.weights({"w": state}, "w", ReferenceDecoder(4), "the weights")
    assert torch.equal(loaded.fc.weight, state["fc.weight"])


def test_the_invertible_decoder_gives_back_its_codes_and_nothing_else():
    basis = torch.linalg.qr(torch.randn(784, 392, generator=torch.Generator().manual_seed(0)))[0].contiguous()
    codes = torch.randn(16, 392, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = _InvertibleDecoder(basis, 0.15, 0.5)(codes)
    back, off = decode_codes(images, basis, 0.15, 0.5)
    assert off < 1e-4 and (back - codes).abs().max() < 1e-4
    assert decode_codes(torch.randn(16, 1, 28, 28), basis, 0.15, 0.5)[1] > 1
    assert decode_codes(images + 1e-2 * torch.randn(images.shape), basis, 0.15, 0.5)[1] > 1e-2


def test_a_loop_that_returns_its_initial_weights_trained_nothing():
    encoder, decoder = R.initial_networks("ae", R.AE_LOOP)
    images = torch.rand(R.LOOP_IMAGES, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    m = R.measure_loop("ae", {"encoder": encoder.state_dict(), "decoder": decoder.state_dict()}, images, R.AE_LOOP)
    assert m["ratio"] == 1 and len(m["unchanged"]) == len(list(encoder.parameters())) + len(list(decoder.parameters()))
    assert m["first_batch"] > 0 and m["last_batch"] > 0


def test_zero_or_black_weights_do_not_pass_for_a_collapsed_vae(mnist):
    """All-zero weights decode grey images, a decoder biased to black decodes black ones: neither is a collapsed VAE."""
    encoder, decoder = ReferenceEncoder(2 * R.NZ), ReferenceDecoder(R.NZ)
    with torch.no_grad():
        for p in list(encoder.parameters()) + list(decoder.parameters()):
            p.zero_()
    zero = {"encoder": encoder.state_dict(), "decoder": decoder.state_dict()}
    black = {"encoder": zero["encoder"], "decoder": {**zero["decoder"], "net.11.bias": torch.full((1,), -30.0)}}
    for name, weights in (("grey", zero), ("black", black)):
        m = R.measure(lambda *a, **k: weights, mnist["train"], mnist["test"], 10.0, R.ITERATIONS["beta10"])
        assert m["kl"] < R.BETA10_MAX_KL   # q = 0 is the prior itself: that much of a collapse is real
        assert m["sample_mean_error"] > R.BETA10_MAX_SAMPLE_MEAN_ERROR, (name, m)
        assert not R.BETA10_REC_RATIO_RANGE[0] < m["rec_ratio"] < R.BETA10_REC_RATIO_RANGE[1], (name, m)
