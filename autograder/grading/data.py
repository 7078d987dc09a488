"""The fixed MNIST subset every grading run and every calibration run uses.

Read straight from the IDX files of torchvision's layout (`<MNIST_ROOT>/MNIST/raw/`): importing
torchvision costs the checks' process two seconds of CPU (it imports torch._dynamo), on the path
every student's grading waits for. torchvision is used only to download MNIST when it is not there.

`check()` is the class command's look at the data before it grades anyone, as policy.check() is
for the sandbox: without the subset every hidden check would fail, and every student would get
zero for the grader's missing files. It reads only the files' headers, so torch is imported only
by what reads the images.
"""
from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from assignment.paths import mnist_root

if TYPE_CHECKING:
    import torch

TRAIN_IMAGES, HELD_OUT_IMAGES = 2048, 256
TRAIN_FILE, TEST_FILE = "train-images-idx3-ubyte", "t10k-images-idx3-ubyte"
IMAGES_MAGIC = 2051   # the IDX header of a file of uint8 images: 0x00000803
IMAGE_SIDE = 28
DOWNLOAD_TIMEOUT = 30   # seconds a mirror may stay silent before torchvision gives up on it


class DataUnavailable(RuntimeError):
    """The hidden checks cannot read their MNIST subset here: grading refuses to start rather than score everyone zero."""

    def __init__(self, reason: str):
        super().__init__(f"the hidden checks cannot read MNIST ({reason}). To fix it, set MNIST_ROOT to the folder "
                         "that holds torchvision's MNIST (MNIST/raw/ inside it), or grade once on a machine that is "
                         "online, which downloads it there")


def _fix(path: Path) -> str:
    return f"download MNIST again into {path.parents[2]}"   # <root>/MNIST/raw/<file>


def _image_count(path: Path, count: int) -> int:
    """Check that `path` is an IDX file of at least `count` 28x28 images, whole; return the bytes they take."""
    with open(path, "rb") as f:
        header = f.read(16)
        size = f.seek(0, 2)
    magic, stored, rows, cols = struct.unpack(">IIII", header) if len(header) == 16 else (0, 0, 0, 0)
    if magic != IMAGES_MAGIC or stored < count or (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"{path} is not an MNIST image file with at least {count} images of 28x28 "
                         f"(magic {magic}, {stored} images of {rows}x{cols}): {_fix(path)}")
    if size < 16 + count * rows * cols:
        raise ValueError(f"{path} is cut short: {_fix(path)}")
    return count * rows * cols


def read_idx_images(path: Path, count: int) -> torch.Tensor:
    """The first `count` images of an IDX file of 28x28 images, [count, 1, 28, 28] in [0, 1]."""
    import torch

    length = _image_count(path, count)
    with open(path, "rb") as f:
        f.seek(16)
        pixels = f.read(length)
    if len(pixels) != length:   # shortened since it was checked
        raise ValueError(f"{path} is cut short: {_fix(path)}")
    return torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(count, 1, IMAGE_SIDE, IMAGE_SIDE).float() / 255.0


@contextlib.contextmanager
def _silence_limit(seconds: float) -> Iterator[None]:
    """Give up on a connection silent for `seconds`: torchvision's download sets no timeout of its own,
    and a network that drops packets would otherwise hold the class command forever."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _raw_folder() -> Path:
    """<MNIST_ROOT>/MNIST/raw, after downloading MNIST there if its image files are missing (online machines only)."""
    root = mnist_root()
    raw = root / "MNIST" / "raw"
    if not ((raw / TRAIN_FILE).is_file() and (raw / TEST_FILE).is_file()):
        from torchvision import datasets   # downloads MNIST where the notebook would
        with _silence_limit(DOWNLOAD_TIMEOUT):
            datasets.MNIST(str(root), train=True, download=True)
            datasets.MNIST(str(root), train=False, download=True)
    return raw


def _subset(read: Callable[[Path, int], object]) -> dict:
    """`read(path, count)` of the training and the held-out images; any failure as DataUnavailable."""
    try:
        raw = _raw_folder()
        return {"train": read(raw / TRAIN_FILE, TRAIN_IMAGES), "test": read(raw / TEST_FILE, HELD_OUT_IMAGES)}
    except (OSError, ValueError, RuntimeError, ImportError) as e:   # RuntimeError: torchvision's failed download
        raise DataUnavailable(str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}") from e


def check() -> None:
    """Raise DataUnavailable, saying why and how to fix it, unless the grading subset can be read here."""
    _subset(_image_count)


def grading_subset() -> dict[str, torch.Tensor]:
    """The first 2,048 training images and the first 256 test images, [N, 1, 28, 28] in [0, 1]; or DataUnavailable."""
    return _subset(read_idx_images)
