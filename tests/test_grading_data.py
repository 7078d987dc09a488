"""The checks' MNIST subset, read without torchvision, is exactly the images torchvision gives."""
from __future__ import annotations

import pytest
import torch

from assignment.paths import mnist_root
from autograder.grading.data import HELD_OUT_IMAGES, TRAIN_FILE, TRAIN_IMAGES, grading_subset, read_idx_images


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
