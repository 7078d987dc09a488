"""The fixed MNIST subset every grading run and every calibration run uses.

Read straight from the IDX files of torchvision's layout (`<MNIST_ROOT>/MNIST/raw/`): importing
torchvision costs the checks' process two seconds of CPU (it imports torch._dynamo), on the path
every student's grading waits for. torchvision is used only to download MNIST when it is not there.
"""
from __future__ import annotations

import struct
from pathlib import Path

import torch

from assignment.paths import mnist_root

TRAIN_IMAGES, HELD_OUT_IMAGES = 2048, 256
TRAIN_FILE, TEST_FILE = "train-images-idx3-ubyte", "t10k-images-idx3-ubyte"
IMAGES_MAGIC = 2051   # the IDX header of a file of uint8 images: 0x00000803


def read_idx_images(path: Path, count: int) -> torch.Tensor:
    """The first `count` images of an IDX file of 28x28 images, [count, 1, 28, 28] in [0, 1]."""
    fix = f"download MNIST again into {path.parents[2]}"   # <root>/MNIST/raw/<file>
    with open(path, "rb") as f:
        header = f.read(16)
        magic, stored, rows, cols = struct.unpack(">IIII", header) if len(header) == 16 else (0, 0, 0, 0)
        if magic != IMAGES_MAGIC or stored < count or (rows, cols) != (28, 28):
            raise ValueError(f"{path} is not an MNIST image file with at least {count} images of 28x28 "
                             f"(magic {magic}, {stored} images of {rows}x{cols}): {fix}")
        pixels = f.read(count * rows * cols)
    if len(pixels) != count * rows * cols:
        raise ValueError(f"{path} is cut short: {fix}")
    return torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(count, 1, rows, cols).float() / 255.0


def grading_subset() -> dict[str, torch.Tensor]:
    """The first 2,048 training images and the first 256 test images, [N, 1, 28, 28] in [0, 1]."""
    root = mnist_root()
    raw = root / "MNIST" / "raw"
    if not ((raw / TRAIN_FILE).is_file() and (raw / TEST_FILE).is_file()):
        from torchvision import datasets   # downloads MNIST where the notebook would (online machines only)
        datasets.MNIST(str(root), train=True, download=True)
        datasets.MNIST(str(root), train=False, download=True)
    return {"train": read_idx_images(raw / TRAIN_FILE, TRAIN_IMAGES), "test": read_idx_images(raw / TEST_FILE, HELD_OUT_IMAGES)}
