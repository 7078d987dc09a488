"""The checks' MNIST subset, read without torchvision, is exactly the images torchvision gives."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import torch

from assignment.paths import mnist_root
from autograder.grading import data
from autograder.grading.data import HELD_OUT_IMAGES, TEST_FILE, TRAIN_FILE, TRAIN_IMAGES, grading_subset, read_idx_images


def test_the_subset_is_the_first_images_torchvision_loads():
    from torchvision import datasets
    subset = grading_subset()
    root = str(mnist_root())
    train, test = datasets.MNIST(root, train=True, download=True), datasets.MNIST(root, train=False, download=True)
    assert torch.equal(subset["train"], train.data[:TRAIN_IMAGES].unsqueeze(1).float() / 255.0), (
        "the training images the checks read differ from torchvision's")
    assert torch.equal(subset["test"], test.data[:HELD_OUT_IMAGES].unsqueeze(1).float() / 255.0), (
        "the held-out images the checks read differ from torchvision's")


def test_a_cut_or_foreign_file_is_refused_with_the_fix(tmp_path):
    whole = (mnist_root() / "MNIST" / "raw" / TRAIN_FILE).read_bytes()
    cut, labels, empty = tmp_path / "cut", tmp_path / "labels", tmp_path / "empty"
    cut.write_bytes(whole[:16 + 784 * 10])
    labels.write_bytes(b"\x00\x00\x08\x01" + whole[4:100])   # the header of a label file
    empty.write_bytes(b"")
    for path, why in ((cut, "cut short"), (labels, "not an MNIST image file"), (empty, "not an MNIST image file")):
        with pytest.raises(ValueError, match=why) as raised:
            read_idx_images(path, 20)
        assert "download MNIST again" in str(raised.value)


@pytest.fixture
def cut_mnist(tmp_path, monkeypatch):
    """MNIST_ROOT pointing at a copy of MNIST whose training images stop after ten."""
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    whole = mnist_root() / "MNIST" / "raw"
    (raw / TRAIN_FILE).write_bytes((whole / TRAIN_FILE).read_bytes()[:16 + 784 * 10])
    (raw / TEST_FILE).write_bytes((whole / TEST_FILE).read_bytes())
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path / "mnist"))
    return tmp_path / "mnist"


def test_the_data_check_passes_on_the_graders_mnist():
    from autograder.grading import data
    data.check()


def test_the_data_check_says_what_is_wrong_and_how_to_fix_it(cut_mnist):
    from autograder.grading import data
    with pytest.raises(data.DataUnavailable, match="cut short") as raised:
        data.check()
    assert "set MNIST_ROOT" in str(raised.value) and str(cut_mnist) in str(raised.value), str(raised.value)


def test_the_class_command_grades_nobody_when_the_checks_cannot_read_mnist(cut_mnist, tmp_path):
    """Every hidden check would fail for the grader's missing images: refuse, before anyone is scored zero."""
    import subprocess
    import sys
    from assignment.environment import course_env
    from assignment.paths import SOURCE_NOTEBOOK
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "ada_vae.ipynb").write_bytes(SOURCE_NOTEBOOK.read_bytes())
    course = tmp_path / "course"
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(downloads), "--course", str(course)],
                            env=course_env(), capture_output=True, text=True, timeout=300)
    assert graded.returncode == 2 and "Not graded: the hidden checks cannot read MNIST" in graded.stderr, (
        f"exit {graded.returncode}: {graded.stdout[-500:]} {graded.stderr[-1000:]}")
    assert not (course / "gradebook.db").exists(), "the class command recorded something before refusing"


def test_every_staff_command_that_grades_says_what_to_fix_instead_of_a_traceback(cut_mnist):
    """The benchmark of a class grades through the same code as `vae-course grade`: it stops in words too."""
    import subprocess
    import sys
    from assignment.environment import course_env
    stopped = subprocess.run([sys.executable, "-m", "autograder", "benchmark-class", "--students", "1"],
                             env=course_env(), capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 2, f"exit {stopped.returncode}: {stopped.stderr[-1500:]}"
    assert "benchmark-class stopped: the hidden checks cannot read MNIST" in stopped.stderr, stopped.stderr[-1500:]
    assert "set MNIST_ROOT" in stopped.stderr and "Traceback" not in stopped.stderr, stopped.stderr[-1500:]


def test_checks_that_cannot_read_mnist_stop_instead_of_failing_every_check(cut_mnist, tmp_path):
    from assignment import notebooks
    from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
    from autograder.grading.extract import student_code
    from autograder.grading.run_checks import run_hidden_checks
    code = student_code(notebooks.read(SOURCE_NOTEBOOK), notebooks.read(RELEASE_NOTEBOOK))
    with pytest.raises(RuntimeError, match="exit code 3") as raised:
        run_hidden_checks(code, tmp_path, grade_ids={"p2c_train_autoencoder"})
    assert "cannot read MNIST" in str(raised.value), str(raised.value)[-1500:]


def test_a_silent_mirror_ends_the_download_with_the_fix_instead_of_hanging(tmp_path, monkeypatch):
    """A network that accepts connections and never answers (a firewall dropping replies) must not hold
    the class command forever: the data check gives up and says what to do."""
    from torchvision import datasets
    silent = socket.create_server(("127.0.0.1", 0))   # listens, never accepts, never answers
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{silent.getsockname()[1]}/"])
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 0.5)
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path / "nowhere"))
    for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)   # straight to the silent mirror, not to a proxy that answers
    outcome = []

    def check():
        try:
            data.check()
            outcome.append("passed")
        except data.DataUnavailable as error:
            outcome.append(str(error))

    started = time.monotonic()
    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(60)
    silent.close()
    assert outcome, f"the data check was still waiting for a silent mirror after {time.monotonic() - started:.0f} s"
    assert "set MNIST_ROOT" in outcome[0], f"the data check did not say how to fix it: {outcome[0]}"
