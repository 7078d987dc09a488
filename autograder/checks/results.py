"""Validate what a probe handed back before a check uses it.

A probe runs after the student's code in the same interpreter, so everything it returns is a
claim: any key may be missing, any tensor may have another shape, NaN values or all zeros, and
weights may not fit the network they claim to be. The runner already refused objects that are
not plain data and tensors that are not plain, contiguous and fully stored; these helpers accept
only the form a check expects and otherwise fail that check with a message a student can act on.
"""
from __future__ import annotations

from typing import NoReturn

import pytest
import torch
import torch.nn as nn


def fail(message: str) -> NoReturn:
    """Fail the current check with `message` only (no traceback in the student's report)."""
    pytest.fail(message, pytrace=False)


def _get(out: dict, key: str, what: str):
    if not isinstance(out, dict) or key not in out:
        fail(f"The grader did not get {what} back from your code (the check's results were incomplete).")
    return out[key]


def tensor(out: dict, key: str, shape: tuple[int, ...] | list[int] | None = None, *, finite: bool = True,
           what: str | None = None) -> torch.Tensor:
    """out[key] as a float32 tensor, or the check fails: it must be a floating-point tensor of `shape`
    (when given: the same shape, hence the same number of elements) and, when `finite`, hold no NaN or inf."""
    what = what or key
    value = _get(out, key, what)
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        kind = f"a tensor of {value.dtype}" if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"
        fail(f"{what[:1].upper() + what[1:]} should be a tensor of floating-point numbers, got {kind}.")
    if shape is not None and (list(value.shape) != list(shape) or value.numel() != _count(shape)):
        fail(f"{what[:1].upper() + what[1:]} had shape {list(value.shape)} instead of {list(shape)}.")
    if finite and not torch.isfinite(value).all():
        bad = int((~torch.isfinite(value)).sum())
        fail(f"{what[:1].upper() + what[1:]} holds {bad} NaN or infinite value{'s' if bad > 1 else ''}: "
             "look for a division by zero, a log of 0, or training that diverged.")
    return value.float()


def _count(shape) -> int:
    count = 1
    for size in shape:
        count *= int(size)
    return count


def plain(out: dict, key: str, kind: type | tuple[type, ...], what: str | None = None):
    """out[key] if it is a plain value of `kind` (str, bool, list...), or the check fails."""
    what = what or key
    value = _get(out, key, what)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        fail(f"The grader got {what} back in an unexpected form ({type(value).__name__}).")
    return value


def weights(out: dict, key: str, module: nn.Module, what: str) -> nn.Module:
    """Load the state_dict out[key] into the grader's own `module` and return it, or the check fails.

    Every entry of the module's state_dict must be there, and nothing else, each a tensor of the
    module's dtype and shape with finite values: the weights of the network the grader built.
    """
    state = _get(out, key, what)
    expected = module.state_dict()
    if not isinstance(state, dict):
        fail(f"The grader did not get {what} back as weights.")
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        fail(f"{what[:1].upper() + what[1:]} do not fit the network the grader trained"
             + (f" (missing: {', '.join(missing[:3])})" if missing else "")
             + (f" (unexpected: {', '.join(extra[:3])})" if extra else "")
             + ": keep the networks the model is built with (self.encoder = Encoder(...), self.decoder = Decoder(...)).")
    for name, reference in expected.items():
        value = state[name]
        if not isinstance(value, torch.Tensor) or value.dtype != reference.dtype or value.shape != reference.shape:
            fail(f"{what[:1].upper() + what[1:]} do not fit the network the grader trained ({name}).")
        if value.is_floating_point() and not torch.isfinite(value).all():
            fail(f"{what[:1].upper() + what[1:]} hold NaN or infinite values ({name}): training diverged.")
    module.load_state_dict(state)
    return module
