"""What the grader runs of a notebook (assignment/grader_view.py), statement by statement.

Fast: nothing here executes a notebook. The behaviour through real grading is in
tests/test_fairness.py and tests/test_corpus.py.
"""
from __future__ import annotations

import copy
import gc
import sys
import threading
import time

from nbformat.v4 import new_code_cell

from assignment import notebooks
from assignment.grader_view import explain, grader_view
from autograder.grading.extract import student_code


def kept_names(view) -> set[str]:
    return {name for kept in view.kept for name in kept.binds}


def test_definitions_constants_devices_and_values_computed_by_code_are_kept():
    view = grader_view([("cell", "import math\nimport torch\n"
                                 "dev = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
                                 "LATENT = int(math.sqrt(64))\nSIZES = []\nfor k in range(3):\n    SIZES.append(2 ** k)\n"
                                 "print('sizes', SIZES)\n"
                                 "def helper(x, scale=LATENT):\n    return x * scale\n")])
    assert {"dev", "LATENT", "SIZES", "helper"} <= kept_names(view) and not view.missing


def test_training_plotting_and_loading_are_left_out_with_their_reason_and_what_uses_them_too():
    view = grader_view([("data", "train_set = load_mnist('data', True)\nloader = DataLoader(train_set)\n"),
                        ("run", "losses = train_vae(model, loader, 1, 1e-3, dev)\nplt.plot(losses)\n"),
                        ("late", "FIRST = losses[0]\ndef f():\n    return FIRST\n")])
    reasons = {left.binds: left.reason for left in view.left_out}
    assert reasons[("train_set",)] == "it loads MNIST (calls load_mnist)"
    assert reasons[("loader",)] == "it uses train_set, which the autograder leaves out"
    assert reasons[("losses",)] == "it trains a model (calls train_vae)"
    assert reasons[("FIRST",)] == "it uses losses, which the autograder leaves out"
    assert [explain(u) for u in view.unseen] == [
        "f uses FIRST, which is defined by a statement the autograder skips (late, line 1: it uses losses, which the "
        "autograder leaves out): define FIRST inside f, pass it as an argument, or define it in a cell of its own "
        "that neither trains nor plots."]


def test_a_statement_sharing_a_line_is_judged_on_its_own():
    view = grader_view([("cell", "n_train = len(train_set); HALF = 0.5\n"),
                        ("x", "train_set = load_mnist('data', True)\n"), ("y", "n = len(train_set); SCALE = 2\n")])
    assert "HALF" in kept_names(view) and "SCALE" in kept_names(view) and "n" in view.missing
    assert [kept.source for kept in view.kept if "SCALE" in kept.binds] == ["SCALE = 2"]


def test_a_loop_that_only_prints_a_constant_leaves_it_intact_but_one_that_changes_it_does_not():
    view = grader_view([("cell", "CONFIG = {'half': 0.5}\nfor k, v in CONFIG.items():\n    print(k, v)\n"
                                 "HALF = CONFIG['half']\nRESULTS = []\nfor b in (1, 2):\n"
                                 "    RESULTS.append(train_vae(b))\nBEST = max(RESULTS)\n")])
    assert "HALF" in kept_names(view) and "RESULTS" in view.missing and "BEST" in view.missing


def test_names_a_compound_statement_binds_before_reading_are_not_read_from_before_it():
    view = grader_view([("a", "model = train_vae(VAE(4))\n"),
                        ("b", "with torch.no_grad():\n    model = VAE(4)\n    DIM = model.nz\n")])
    assert "DIM" in kept_names(view) and "model" in kept_names(view)


def test_magics_and_shell_lines_are_read_as_ipython_reads_them():
    view = grader_view([("bash", "%%bash\necho hi\n"), ("shell", "gpu_info = !nvidia-smi\nX = (1\n     != None)\n"),
                        ("timed", "%time Y = 2\nZ = 3\n")])
    assert not view.unparsable and "X" in kept_names(view) and "Z" in kept_names(view)
    assert "gpu_info" in view.missing


def test_a_cell_that_is_not_python_is_named_and_the_others_still_count():
    view = grader_view([("broken", "def f(:\n"), ("fine", "def g():\n    return 1\n")])
    assert list(view.unparsable) == ["broken"] and "g" in kept_names(view)


def test_a_best_beta_chosen_from_the_trained_search_is_known_to_be_missing_even_after_a_placeholder():
    view = grader_view([("p3d", "best_beta, best_score = None, float('inf')\n"
                                "for beta, model in tuned_vaes.items():\n"
                                "    if summarize_vae(model)['rec'] < best_score:\n"
                                "        best_beta, best_score = beta, summarize_vae(model)['rec']\n"),
                        ("setup", "tuned_vaes = {}\nfor b in (1, 2):\n    tuned_vaes[b] = train_vae(b)\n")][::-1])
    assert "best_beta" in view.missing


def test_cells_the_student_added_count_where_they_stand_and_provided_cells_come_from_the_release(source_nb, release_nb):
    nb = copy.deepcopy(source_nb)
    cells = notebooks.cells_by_grade_id(nb)
    cells["setup"].source += "\nLEAK = 0.2\n"   # an edit of a provided cell: the release's copy is used
    nb.cells.insert(nb.cells.index(cells["part2_intro"]) + 1,
                    new_code_cell("def block(c):\n    return c\n"))
    code = student_code(nb, release_nb)
    labels = [label for label, _, _ in code.statements]
    assert "the cell you added after part2_intro" in labels
    assert labels.index("the cell you added after part2_intro") < labels.index("p2a_encoder_decoder_solution")
    assert not any("LEAK" in text for _, _, text in code.statements)


def test_a_long_chain_of_helpers_is_analysed_in_linear_time():
    chain = "def f0():\n    return 0\n" + "".join(f"def f{i}():\n    return f{i - 1}()\n" for i in range(1, 3000))
    calls = "".join(f"x{i} = f2999()\n" for i in range(3000))
    started = time.perf_counter()
    view = grader_view([("chain", chain), ("calls", calls)])
    assert len(view.kept) == 6000 and time.perf_counter() - started < 20


def test_a_statement_that_ends_the_kernel_is_left_out_and_the_definitions_around_it_kept():
    view = grader_view([("cell", "import os\nimport sys\nos._exit(0)\nsys.exit()\nexit()\ndef f():\n    return 1\n")])
    assert [left.reason for left in view.left_out] == ["it ends the kernel (calls os._exit)",
                                                      "it ends the kernel (calls sys.exit)", "it ends the kernel (calls exit)"]
    assert "f" in kept_names(view)


def test_threads_reading_notebooks_at_once_all_get_their_view(source_nb, release_nb):
    """Python 3.11 breaks when two threads build syntax trees at once (CPython gh-106905); the corpus
    tests and the devtools grade in threads. A garbage collection during a parse hands the GIL over,
    which is when another thread's parse used to make this one fail with a SystemError."""
    expected = student_code(source_nb, release_nb).statements
    failures, views = [], []

    def read_repeatedly():
        for _ in range(5):
            try:
                views.append(student_code(source_nb, release_nb).statements)
            except Exception as error:   # noqa: BLE001 - the failure is what this test reports
                failures.append(repr(error))

    def hand_over(phase, info):
        time.sleep(0)

    switch = sys.getswitchinterval()
    gc.callbacks.append(hand_over)
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read_repeatedly) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
        gc.callbacks.remove(hand_over)
    assert not failures, f"reading notebooks in parallel threads failed {len(failures)} times: {failures[0]}"
    assert views == [expected] * 20, "a thread saw a different view of the same notebook"
