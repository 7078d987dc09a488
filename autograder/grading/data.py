"""The fixed MNIST subset every grading run and every calibration run uses."""
from __future__ import annotations

import torch

from assignment.paths import mnist_root

TRAIN_IMAGES, HELD_OUT_IMAGES = 2048, 256


def grading_subset() -> dict[str, torch.Tensor]:
    """The first 2,048 training images and the first 256 test images, [N, 1, 28, 28] in [0, 1]."""
    from torchvision import datasets
    train = datasets.MNIST(str(mnist_root()), train=True, download=True)
    test = datasets.MNIST(str(mnist_root()), train=False, download=True)
    return {"train": train.data[:TRAIN_IMAGES].unsqueeze(1).float() / 255.0,
            "test": test.data[:HELD_OUT_IMAGES].unsqueeze(1).float() / 255.0}
