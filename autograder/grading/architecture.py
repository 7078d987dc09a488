"""Rebuild a student's network from the plain data its probe exported, and run it in the grading process.

The probe (sandbox/graph_export.py) describes each network: a torch.fx trace of forward (a list
of nodes), its layers (type and constructor arguments) and its tensors. Every part of that
description is a claim, so none of it is executed as code: layers are built from LAYERS,
operations come from FUNCTIONS and METHODS (whitelists of torch functions and tensor methods),
tensors are matched against the layers that should hold them, and anything else is refused
with a message saying what the grader could not read and how to write it instead. No eval, no
getattr on names taken from the description, no pickle, no torch.jit.

Sizes are bounded before anything is allocated: counts and tensor sizes when the description
is read, and every forward pass runs first on the meta device (shapes only, no memory), which
refuses a network whose activations or multiply-adds exceed the limits below. Only then does
the real forward pass run, on the grader's inputs.

    network = rebuild(description, "Decoder(16)")   # raises Unreadable
    images = network.run("forward", codes)          # raises Unreadable
"""
from __future__ import annotations

import contextlib
import copy
import math
import operator
import re
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.sandbox.graph_export import EXPORT_LAYERS, EXPORT_MAX_ELEMENTS

MAX_ELEMENTS = EXPORT_MAX_ELEMENTS      # all tensors of one network (15M: a 12M-parameter network fits)
MAX_TENSORS = 2000
MAX_MODULES = 1000
MAX_NODES = 3000
MAX_NAME = 300                          # characters of a module, tensor or node name
MAX_ITEMS = 256                         # elements of a list or tuple, in arguments or computed
MAX_DEPTH = 8                           # nesting of arguments
MAX_TRACE_VALUES = 100_000              # arguments and their items in one trace
MAX_INT = 2**40                         # magnitude of a Python integer an argument or a node may hold
MAX_TENSOR_ELEMENTS = 2**24             # one activation (the widest honest one is about 4M at batch 10)
MAX_FORWARD_ELEMENTS = 2**26            # all activations of one forward pass (autograd keeps them)
MAX_FORWARD_MACS = 2 * 10**10           # multiply-adds of one forward pass (batches of at most 10)


class Unreadable(Exception):
    """What the grader could not read or run, in plain words for the student's report."""


# --- the layers --------------------------------------------------------------------------------

def _int(lo, hi):
    def check(v):
        if type(v) is not int or not lo <= v <= hi:
            raise ValueError(f"an integer from {lo} to {hi}")
        return v
    return check


def _float(lo, hi):
    def check(v):
        if type(v) not in (int, float) or not math.isfinite(v) or not lo <= v <= hi:
            raise ValueError(f"a number from {lo:g} to {hi:g}")
        return float(v)
    return check


def _bool(v):
    if type(v) is not bool:
        raise ValueError("True or False")
    return v


def _false(v):
    if v is not False:
        raise ValueError("False (the grader does not run layers that return indices)")
    return v


def _choice(*options):
    def check(v):
        if type(v) is not str or v not in options:
            raise ValueError("one of " + ", ".join(map(repr, options)))
        return v
    return check


def _optional(check):
    def optional(v):
        return None if v is None else check(v)
    return optional


def _ints(n, lo, hi, allow_none=False):
    """An int or a list of n of them (as the layer stores it: a tuple)."""
    item = _optional(_int(lo, hi)) if allow_none else _int(lo, hi)

    def check(v):
        if isinstance(v, list):
            if not 1 <= len(v) <= n:
                raise ValueError(f"at most {n} integers")
            return tuple(item(x) for x in v)
        return item(v)
    return check


def _either(*checks):
    def check(v):
        problems = []
        for c in checks:
            try:
                return c(v)
            except ValueError as e:
                problems.append(str(e))
        raise ValueError(" or ".join(problems))
    return check


def _floats(n, lo, hi):
    item = _float(lo, hi)

    def check(v):
        if isinstance(v, list):
            if not 1 <= len(v) <= n:
                raise ValueError(f"at most {n} numbers")
            return tuple(item(x) for x in v)
        return item(v)
    return check


_CHANNELS, _FEATURES, _KERNEL, _PAD, _DIM = _int(1, 2**16), _int(1, 2**24), _ints(2, 1, 64), _ints(2, 0, 64), _int(-8, 8)
_EPS, _MOMENTUM, _SLOPE = _float(1e-12, 1.0), _optional(_float(0.0, 1.0)), _float(-1e6, 1e6)
_NORM = {"num_features": _CHANNELS, "eps": _EPS, "momentum": _MOMENTUM, "affine": _bool, "track_running_stats": _bool}
_DROP = {"p": _float(0.0, 1.0)}

# type name -> (class, {constructor argument: validator}); the arguments are exactly graph_export.EXPORT_LAYERS'
LAYERS = {
    "Conv2d": (nn.Conv2d, {"in_channels": _CHANNELS, "out_channels": _CHANNELS, "kernel_size": _KERNEL,
                           "stride": _KERNEL, "padding": _either(_choice("same", "valid"), _PAD),
                           "dilation": _ints(2, 1, 16), "groups": _CHANNELS, "bias": _bool,
                           "padding_mode": _choice("zeros", "reflect", "replicate", "circular")}),
    "ConvTranspose2d": (nn.ConvTranspose2d, {"in_channels": _CHANNELS, "out_channels": _CHANNELS, "kernel_size": _KERNEL,
                                             "stride": _KERNEL, "padding": _PAD, "output_padding": _PAD,
                                             "groups": _CHANNELS, "bias": _bool, "dilation": _ints(2, 1, 16),
                                             "padding_mode": _choice("zeros")}),
    "Linear": (nn.Linear, {"in_features": _FEATURES, "out_features": _FEATURES, "bias": _bool}),
    "BatchNorm1d": (nn.BatchNorm1d, _NORM),
    "BatchNorm2d": (nn.BatchNorm2d, _NORM),
    "InstanceNorm2d": (nn.InstanceNorm2d, _NORM),
    "LayerNorm": (nn.LayerNorm, {"normalized_shape": _ints(4, 1, 2**16), "eps": _EPS, "elementwise_affine": _bool,
                                 "bias": _bool}),
    "GroupNorm": (nn.GroupNorm, {"num_groups": _CHANNELS, "num_channels": _CHANNELS, "eps": _EPS, "affine": _bool}),
    "ReLU": (nn.ReLU, {}), "ReLU6": (nn.ReLU6, {}), "SELU": (nn.SELU, {}), "SiLU": (nn.SiLU, {}), "Mish": (nn.Mish, {}),
    "Sigmoid": (nn.Sigmoid, {}), "Tanh": (nn.Tanh, {}), "Hardsigmoid": (nn.Hardsigmoid, {}),
    "Hardswish": (nn.Hardswish, {}), "Softsign": (nn.Softsign, {}), "Identity": (nn.Identity, {}),
    "LeakyReLU": (nn.LeakyReLU, {"negative_slope": _SLOPE}),
    "ELU": (nn.ELU, {"alpha": _SLOPE}),
    "CELU": (nn.CELU, {"alpha": _SLOPE}),
    "GELU": (nn.GELU, {"approximate": _choice("none", "tanh")}),
    "Softplus": (nn.Softplus, {"beta": _SLOPE, "threshold": _SLOPE}),
    "Hardtanh": (nn.Hardtanh, {"min_val": _SLOPE, "max_val": _SLOPE}),
    "PReLU": (nn.PReLU, {"num_parameters": _CHANNELS}),
    "Softmax": (nn.Softmax, {"dim": _optional(_DIM)}),
    "LogSoftmax": (nn.LogSoftmax, {"dim": _optional(_DIM)}),
    "Flatten": (nn.Flatten, {"start_dim": _DIM, "end_dim": _DIM}),
    "Unflatten": (nn.Unflatten, {"dim": _DIM, "unflattened_size": _ints(8, -1, 2**24)}),
    "Dropout": (nn.Dropout, _DROP), "Dropout1d": (nn.Dropout1d, _DROP), "Dropout2d": (nn.Dropout2d, _DROP),
    "AlphaDropout": (nn.AlphaDropout, _DROP),
    "Upsample": (nn.Upsample, {"size": _optional(_ints(3, 1, 4096)), "scale_factor": _optional(_floats(3, 1e-3, 16.0)),
                               "mode": _choice("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"),
                               "align_corners": _optional(_bool), "recompute_scale_factor": _optional(_bool)}),
    "MaxPool2d": (nn.MaxPool2d, {"kernel_size": _KERNEL, "stride": _optional(_KERNEL), "padding": _PAD,
                                 "dilation": _ints(2, 1, 16), "return_indices": _false, "ceil_mode": _bool}),
    "AvgPool2d": (nn.AvgPool2d, {"kernel_size": _KERNEL, "stride": _optional(_KERNEL), "padding": _PAD,
                                 "ceil_mode": _bool, "count_include_pad": _bool,
                                 "divisor_override": _optional(_int(1, 2**16))}),
    "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d, {"output_size": _ints(2, 1, 4096, allow_none=True)}),
    "AdaptiveMaxPool2d": (nn.AdaptiveMaxPool2d, {"output_size": _ints(2, 1, 4096, allow_none=True),
                                                 "return_indices": _false}),
    "ZeroPad2d": (nn.ZeroPad2d, {"padding": _ints(4, 0, 64)}),
    "ConstantPad2d": (nn.ConstantPad2d, {"padding": _ints(4, 0, 64), "value": _SLOPE}),
    "ReflectionPad2d": (nn.ReflectionPad2d, {"padding": _ints(4, 0, 64)}),
    "ReplicationPad2d": (nn.ReplicationPad2d, {"padding": _ints(4, 0, 64)}),
}
assert {k: tuple(v[1]) for k, v in LAYERS.items()} == EXPORT_LAYERS, "LAYERS and graph_export.EXPORT_LAYERS disagree"

_SUPPORTED_LAYERS = "Conv2d, ConvTranspose2d, Linear, BatchNorm1d/2d, LayerNorm, GroupNorm, the usual activations " \
                    "(ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, ...), Flatten, Unflatten, Dropout, Upsample, " \
                    "MaxPool2d, AvgPool2d, Identity, or your own nn.Module made of these"


# --- the operations ----------------------------------------------------------------------------

def _qualified(fn) -> str:
    """The name torch.fx records for `fn` (graph_export._gx_qualified), computed here on trusted objects."""
    return torch.fx.node._get_qualified_name(fn)


def _is_number(v) -> bool:
    return type(v) in (int, float, bool)


def _operands(*values):
    if not all(isinstance(v, torch.Tensor) or _is_number(v) for v in values):
        kinds = ", ".join(type(v).__name__ for v in values)
        raise Unreadable(f"arithmetic on {kinds}, which the grader runs only on tensors and numbers")


def _arithmetic(op, sequences=False):
    def run(a, b):
        if sequences and isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
            return op(tuple(a), tuple(b))
        _operands(a, b)
        return op(a, b)
    return run


def _comparison(op):
    def run(a, b):
        if not all(isinstance(v, (torch.Tensor, tuple, list)) or _is_number(v) for v in (a, b)):
            raise Unreadable(f"a comparison of {type(a).__name__} and {type(b).__name__}")
        return op(a, b)
    return run


def _power(a, b):
    _operands(a, b)
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor) and abs(b) > 64:
        raise Unreadable(f"a power of {b} of a number")
    return operator.pow(a, b)


def _unary(op):
    def run(a):
        _operands(a)
        return op(a)
    return run


def _getitem(container, index):
    if not isinstance(container, (torch.Tensor, tuple, list)):
        raise Unreadable(f"indexing a {type(container).__name__}")
    return container[index]


_ATTRIBUTES = {"shape": lambda t: t.shape, "ndim": lambda t: t.ndim}


def _attribute(obj, name):
    if not isinstance(obj, torch.Tensor) or name not in _ATTRIBUTES:
        raise Unreadable(f"the attribute .{name} of a {type(obj).__name__} (the grader reads only x.shape and x.ndim)")
    return _ATTRIBUTES[name](obj)


def _length(obj):
    if not isinstance(obj, (torch.Tensor, tuple, list)):
        raise Unreadable(f"len() of a {type(obj).__name__}")
    return len(obj)


def _to(x, *args, **kwargs):
    """x.to(device or dtype): the grader's networks stay where the grader put them; float32 and float64 only."""
    dtype = kwargs.pop("dtype", None)
    for arg in args:
        if isinstance(arg, torch.dtype):
            dtype = arg
        elif not isinstance(arg, _Device):
            raise Unreadable(f"x.to() with a {type(arg).__name__}")
    if not set(kwargs) <= {"device", "non_blocking", "copy"} or not isinstance(kwargs.get("device", _Device()), _Device):
        raise Unreadable("x.to() with arguments other than a device or a dtype")
    return x if dtype is None else x.to(dtype)


def _type_as(x, other):
    if not isinstance(other, torch.Tensor) or other.dtype not in (torch.float32, torch.float64):
        raise Unreadable("x.type_as() of something else than a float tensor")
    return x.to(other.dtype)


def _math(fn):
    def run(*args):
        if not all(_is_number(a) or isinstance(a, (tuple, list)) and all(_is_number(x) for x in a) for a in args):
            raise Unreadable(f"math.{fn.__name__} of something else than numbers")
        return fn(*args)
    return run


_TORCH_FUNCTIONS = [
    torch.flatten, torch.reshape, torch.cat, torch.concat, torch.concatenate, torch.stack, torch.unflatten,
    torch.relu, torch.sigmoid, torch.tanh, torch.clamp, torch.clip, torch.unsqueeze, torch.squeeze, torch.permute,
    torch.transpose, torch.exp, torch.log, torch.sqrt, torch.abs, torch.neg, torch.add, torch.sub, torch.mul, torch.div,
    torch.matmul, torch.mm, torch.bmm, torch.sum, torch.mean, torch.chunk, torch.split, torch.softmax,
    torch.log_softmax, torch.conv2d, torch.conv_transpose2d, torch.zeros_like, torch.ones_like,
    F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.silu, F.mish, F.gelu, F.softplus, F.hardtanh,
    F.hardsigmoid, F.hardswish, F.sigmoid, F.tanh, F.softsign, F.interpolate, F.pad, F.dropout, F.dropout1d,
    F.dropout2d, F.linear, F.batch_norm, F.layer_norm, F.group_norm, F.instance_norm, F.max_pool2d, F.avg_pool2d,
    F.adaptive_avg_pool2d, F.softmax, F.log_softmax, F.normalize,
]
FUNCTIONS = {_qualified(fn): fn for fn in _TORCH_FUNCTIONS}
FUNCTIONS.update({
    _qualified(operator.add): _arithmetic(operator.add, sequences=True),
    _qualified(operator.sub): _arithmetic(operator.sub),
    _qualified(operator.mul): _arithmetic(operator.mul),
    _qualified(operator.truediv): _arithmetic(operator.truediv),
    _qualified(operator.floordiv): _arithmetic(operator.floordiv),
    _qualified(operator.mod): _arithmetic(operator.mod),
    _qualified(operator.matmul): _arithmetic(operator.matmul),
    _qualified(operator.pow): _power,
    _qualified(operator.neg): _unary(operator.neg),
    _qualified(operator.pos): _unary(operator.pos),
    _qualified(operator.abs): _unary(operator.abs),
    _qualified(operator.getitem): _getitem,
    **{_qualified(op): _comparison(op) for op in (operator.eq, operator.ne, operator.lt, operator.le, operator.gt,
                                                   operator.ge)},
    _qualified(getattr): _attribute,
    _qualified(len): _length,
    _qualified(math.sqrt): _math(math.sqrt), _qualified(math.prod): _math(math.prod),
    _qualified(math.ceil): _math(math.ceil), _qualified(math.floor): _math(math.floor),
})

_TENSOR_METHODS = [
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "size", "dim", "numel", "unsqueeze", "squeeze",
    "permute", "transpose", "t", "contiguous", "relu", "sigmoid", "tanh", "clamp", "clip", "clamp_min", "clamp_max",
    "mul", "add", "sub", "div", "neg", "exp", "log", "sqrt", "abs", "pow", "matmul", "mean", "sum", "detach",
    "float", "chunk", "split", "softmax", "log_softmax",
]
METHODS = {name: getattr(torch.Tensor, name) for name in _TENSOR_METHODS}   # fixed names, not the description's
METHODS.update({"to": _to, "cpu": lambda x: x, "cuda": lambda x, *args, **kwargs: x, "type_as": _type_as})

_HINTS = {
    "numpy": "the grader runs only torch operations: use x.view(...), x.reshape(...) or torch.flatten instead of numpy",
    "item": "it turns a tensor into a Python number, which the grader cannot follow: keep tensors (x.size(0) for sizes)",
    "tolist": "it turns a tensor into Python numbers, which the grader cannot follow: keep tensors",
    "numpy_method": "it leaves torch: keep tensors",
}
_GENERIC_HINT = ("write forward with the layers of torch.nn and torch operations such as torch.flatten, torch.cat, "
                 "x.view(...), F.relu or torch.sigmoid")


def _shown(op: str, target: str) -> str:
    if op == "call_method":
        return f"x.{target}(...)"
    return target.replace("_operator.", "operator.").replace("torch._C._nn.", "torch.nn.functional.")


def _hint(op: str, target: str) -> str:
    if target.startswith("numpy."):
        return _HINTS["numpy"]
    if op == "call_method":
        return _HINTS.get("numpy_method" if target == "numpy" else target, _GENERIC_HINT)
    return _GENERIC_HINT


# --- reading the description -------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z|[0-9]+\Z")
_NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPS = ("placeholder", "get_attr", "call_module", "call_function", "call_method", "output")
_DTYPES = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64}
_TENSOR_DTYPES = {"parameter": (torch.float32,), "buffer": (torch.float32, torch.int64, torch.bool),
                  "constant": (torch.float32, torch.int64, torch.bool)}


def _text(value, what: str, limit: int = MAX_NAME) -> str:
    if type(value) is not str or not value or len(value) > limit:
        raise Unreadable(f"{what} is not a name of at most {limit} characters")
    return value


def _path(value, what: str) -> list[str]:
    parts = _text(value, what).split(".")
    for part in parts:
        if not _NAME.match(part):
            raise Unreadable(f"{what} {value[:80]!r} is not a name of attributes")
    return parts


def _mapping(value, what: str, limit: int) -> dict:
    if not isinstance(value, dict) or not all(type(k) is str for k in value):
        raise Unreadable(f"{what} is missing or not a table")
    if len(value) > limit:
        raise Unreadable(f"{what} has {len(value)} entries, more than the grader reads ({limit})")
    return value


def _free(owner: nn.Module, name: str) -> bool:
    """Whether `name` may be added to `owner` without shadowing anything it has (no getattr on `name`)."""
    return (name not in vars(owner) and name not in owner._modules and name not in owner._parameters
            and name not in owner._buffers and not any(name in vars(cls) for cls in type(owner).__mro__))


class _Container(nn.Module):
    """A module of the student's that holds others (nn.Sequential, their own classes): only a place for them."""


def _owner(root: nn.Module, parts: list[str], create: bool, what: str) -> nn.Module:
    module = root
    for part in parts:
        child = module._modules.get(part)
        if child is None:
            if not create or not _free(module, part):
                raise Unreadable(f"{what}: no place for it in the network")
            child = _Container()
            module.add_module(part, child)
        module = child
    return module


def _layer(kind, args, path: str) -> nn.Module:
    if type(kind) is not str or kind not in LAYERS:
        raise Unreadable(f"the layer self.{path} is a {str(kind)[:60]}, which the grader does not rebuild: "
                         f"use {_SUPPORTED_LAYERS}")
    cls, spec = LAYERS[kind]
    args = _mapping(args, f"the arguments of self.{path}", len(spec))
    if set(args) != set(spec):
        raise Unreadable(f"the {kind} self.{path} is described with the arguments {sorted(args)}, not {sorted(spec)}")
    checked = {}
    for name, check in spec.items():
        try:
            checked[name] = check(args[name])
        except ValueError as e:
            raise Unreadable(f"the {kind} self.{path} has {name}={str(args[name])[:40]}, which the grader accepts "
                             f"only as {e}") from None
    try:
        with torch.device("meta"):
            return cls(**checked)
    except Exception as e:
        raise Unreadable(f"the {kind} self.{path} cannot be built with {checked}: {str(e)[:200]}") from None


def _decode(value, names: set, budget: list, depth: int = 0):
    """A node's argument: plain values, node references (_Ref), containers and slices, all bounded.

    `budget` counts the values read in the whole trace: a loaded result may share one list many
    times over (pickle's memo), a tree far larger than the file.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise Unreadable(f"its trace has more than {MAX_TRACE_VALUES:,} arguments")
    if depth > MAX_DEPTH:
        raise Unreadable("an argument is nested too deeply")
    if value is None or type(value) in (bool, float):
        return value
    if type(value) is int:
        if abs(value) > MAX_INT:
            raise Unreadable(f"the number {value} is too large")
        return value
    if type(value) is str:
        return _text(value, "a text argument", 64)
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "node":
            if inner not in names:
                raise Unreadable(f"an argument refers to {str(inner)[:60]!r}, which is not an earlier step")
            return _Ref(inner)
        if tag in ("tuple", "list") and isinstance(inner, list):
            if len(inner) > MAX_ITEMS:
                raise Unreadable(f"an argument is a list of {len(inner)} items")
            items = [_decode(v, names, budget, depth + 1) for v in inner]
            return tuple(items) if tag == "tuple" else _List(items)
        if tag == "slice" and isinstance(inner, list) and len(inner) == 3:
            return _Slice(*(_decode(v, names, budget, depth + 1) for v in inner))
        if tag == "ellipsis" and inner is True:
            return Ellipsis
        if tag == "dtype" and inner in _DTYPES:
            return _DTYPES[inner]
        if tag == "device" and inner in ("cpu", "cuda", "mps"):
            return _Device()
    raise Unreadable(f"an argument {str(value)[:60]} is not one the grader reads")


class _Device:
    """A device argument: the grader runs every network where it built it, so any device means that one."""


@dataclass(frozen=True)
class _Ref:
    name: str


class _List(list):
    """A list argument, kept apart from tuples until it is materialised."""


@dataclass(frozen=True)
class _Slice:
    start: object
    stop: object
    step: object


def _materialise(value, env: dict):
    if isinstance(value, _Ref):
        return env[value.name]
    if isinstance(value, _Slice):
        return slice(*(_materialise(v, env) for v in (value.start, value.stop, value.step)))
    if isinstance(value, _List):
        return [_materialise(v, env) for v in value]
    if isinstance(value, tuple):
        return tuple(_materialise(v, env) for v in value)
    if isinstance(value, dict):
        return {k: _materialise(v, env) for k, v in value.items()}
    return value


@dataclass
class _Node:
    op: str
    name: str
    target: str
    args: tuple
    kwargs: dict
    no_grad: bool


def _graph(raw, modules: dict, tensors: set, unknown: dict) -> tuple[list[_Node], list[_Node]]:
    """The nodes of one trace in train mode and in eval mode (the same when forward ignores self.training)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list) or not set(raw) <= {"nodes", "eval_nodes"}:
        raise Unreadable("its trace is missing")
    train = _nodes(raw["nodes"], modules, tensors, unknown)
    return train, (_nodes(raw["eval_nodes"], modules, tensors, unknown) if "eval_nodes" in raw else train)


def _nodes(raw_nodes, modules: dict, tensors: set, unknown: dict) -> list[_Node]:
    """The nodes of one trace, every target checked against what the grader runs (raises Unreadable)."""
    if not isinstance(raw_nodes, list):
        raise Unreadable("its trace is missing")
    if len(raw_nodes) > MAX_NODES:
        raise Unreadable(f"its forward has {len(raw_nodes)} steps, more than the grader runs ({MAX_NODES})")
    nodes, names, refused, inputs, budget = [], set(), [], 0, [MAX_TRACE_VALUES]
    for raw_node in raw_nodes:
        if not isinstance(raw_node, dict) or set(raw_node) != {"op", "name", "target", "args", "kwargs", "no_grad"}:
            raise Unreadable("a step of its trace is not of the expected form")
        op, name = raw_node["op"], _text(raw_node["name"], "a step's name", 100)
        target = _text(raw_node["target"], "a step's target")
        if op not in _OPS or not _NODE_NAME.match(name) or name in names or type(raw_node["no_grad"]) is not bool:
            raise Unreadable("a step of its trace is not of the expected form")
        if not isinstance(raw_node["args"], list) or len(raw_node["args"]) > MAX_ITEMS:
            raise Unreadable(f"the step {name} has arguments the grader does not read")
        kwargs = _mapping(raw_node["kwargs"], f"the keyword arguments of {name}", 32)
        if any(not _NODE_NAME.match(k) or k == "out" for k in kwargs):
            raise Unreadable(f"the step {name} has keyword arguments the grader does not read")
        node = _Node(op, name, target, tuple(_decode(a, names, budget) for a in raw_node["args"]),
                     {k: _decode(v, names, budget) for k, v in kwargs.items()}, raw_node["no_grad"])
        if op == "call_module" and target not in modules:
            kind = unknown.get(target) if isinstance(unknown, dict) else None
            what = f"nn.{kind}" if type(kind) is str and _NODE_NAME.match(kind) and len(kind) < 60 else "a layer"
            refused.append(f"it calls self.{target[:80]}, {what} the grader does not rebuild: use {_SUPPORTED_LAYERS}")
        elif op == "get_attr" and target not in tensors:
            refused.append(f"it reads self.{target[:80]}, which is not one of its tensors")
        elif op == "call_function" and target not in FUNCTIONS:
            refused.append(f"its forward uses {_shown(op, target)[:80]}, which the grader does not run: {_hint(op, target)}")
        elif op == "call_method" and target not in METHODS:
            refused.append(f"its forward uses {_shown(op, target)[:80]}, which the grader does not run: {_hint(op, target)}")
        elif op == "placeholder" and not target.startswith("*"):
            inputs += 1
            if inputs > 1 and len(node.args) != 1:
                refused.append("its forward takes more than one input without a default value")
        nodes.append(node)
        names.add(name)
    if not nodes or nodes[-1].op != "output" or sum(n.op == "output" for n in nodes) != 1 or len(nodes[-1].args) != 1:
        raise Unreadable("its trace does not end with its output")
    if not nodes[0].op == "placeholder":
        raise Unreadable("its forward takes no input")
    if refused:
        raise Unreadable(refused[0] + (f" (and {len(refused) - 1} more such steps)" if len(refused) > 1 else ""))
    return nodes


# --- running it --------------------------------------------------------------------------------

def _tensors_in(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors_in(v)


def _check_value(value, depth=0):
    """A node's result must be a tensor, a number or a short tuple of them (a number of bounded size)."""
    if isinstance(value, torch.Tensor) or value is None or type(value) in (bool, float):
        return
    if isinstance(value, dict) and not value:   # the **kwargs of a forward
        return
    if type(value) is int:
        if abs(value) > MAX_INT:
            raise Unreadable(f"it computes the number {value}, far too large for a size")
        return
    if isinstance(value, (tuple, list)) and depth < MAX_DEPTH:
        if len(value) > MAX_ITEMS:
            raise Unreadable(f"it builds a sequence of {len(value)} items")
        for v in value:
            _check_value(v, depth + 1)
        return
    raise Unreadable(f"it computes a {type(value).__name__}, which the grader does not follow")


def _prod(values) -> int:
    return math.prod(int(v) for v in values)


def _macs(node: _Node, module, args, out) -> int:
    """Multiply-adds of one step (shapes only: this runs on the meta device)."""
    outs = list(_tensors_in(out))
    size = sum(t.numel() for t in outs) + sum(t.numel() for t in _tensors_in(args))
    first = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if isinstance(module, nn.Conv2d):
        return outs[0].numel() * module.in_channels // module.groups * _prod(module.kernel_size)
    if isinstance(module, nn.ConvTranspose2d) and first is not None:
        return first.numel() * module.out_channels // module.groups * _prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return outs[0].numel() * module.in_features
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = module.kernel_size
        return outs[0].numel() * (_prod(k) if isinstance(k, tuple) else k * k)
    weight = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else node.kwargs.get("weight")
    if node.target == "torch.conv2d" and isinstance(weight, torch.Tensor) and outs:
        return outs[0].numel() * _prod(weight.shape[1:])
    if node.target == "torch.conv_transpose2d" and isinstance(weight, torch.Tensor) and first is not None:
        return first.numel() * _prod(weight.shape[1:])
    if node.target in ("torch._C._nn.linear",) and isinstance(weight, torch.Tensor) and outs:
        return outs[0].numel() * weight.shape[-1]
    if node.target in ("torch.matmul", "torch.mm", "torch.bmm", "_operator.matmul", "matmul") and first is not None and outs:
        return outs[0].numel() * (first.shape[-1] if first.dim() else 1)
    if node.target in ("torch.nn.functional.max_pool2d", "torch._C._nn.avg_pool2d") and outs:
        k = args[1] if len(args) > 1 else node.kwargs.get("kernel_size", 1)
        k = k if isinstance(k, (tuple, list)) else (k, k)
        return outs[0].numel() * _prod(x if type(x) is int and 0 < x <= 64 else 64 for x in k)
    return 4 * size


@dataclass
class _Root:
    module: nn.Module
    leaves: dict      # path -> layer
    tensors: dict     # name -> tensor (parameters, buffers, constants)


class Network:
    """A rebuilt network: runs its traces on the grader's inputs, checked on the meta device first."""

    def __init__(self, who: str, real: _Root, meta: _Root, graphs: dict, errors: dict):
        self.who = who
        self._real, self._meta = real, meta
        self._graphs, self._errors = graphs, errors

    @property
    def module(self) -> nn.Module:
        return self._real.module

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return list(self._real.module.named_parameters())

    def run(self, graph: str, x: torch.Tensor, train: bool = False):
        """The output of trace `graph` on input `x`, in train or eval mode (raises Unreadable)."""
        if graph not in self._graphs:
            raise Unreadable(self._errors.get(graph, f"{self.who}: the grader received no trace of its forward"))
        nodes = self._graphs[graph][0 if train else 1]
        self._meta.module.train(train)
        self._real.module.train(train)
        try:
            _execute(nodes, self._meta, torch.empty_like(x, device="meta"), budget=True)
        except Unreadable as e:
            raise Unreadable(f"{self.who}: {e}") from None
        except Exception as e:
            raise Unreadable(f"{self.who}: its forward failed when the grader ran it: "
                             f"{type(e).__name__}: {str(e)[:300]}") from None
        try:   # a copy: a forward that writes into its input (inplace=True) cannot change the grader's inputs
            return _execute(nodes, self._real, x.clone(), budget=False)
        except Unreadable as e:
            raise Unreadable(f"{self.who}: {e}") from None
        except Exception as e:
            raise Unreadable(f"{self.who}: its forward failed when the grader ran it: "
                             f"{type(e).__name__}: {str(e)[:300]}") from None


def _execute(nodes: list[_Node], root: _Root, x: torch.Tensor, budget: bool):
    env, first, elements, macs = {}, True, 0, 0
    for node in nodes:
        args, kwargs = _materialise(node.args, env), _materialise(node.kwargs, env)
        if node.op == "output":
            return args[0]
        with torch.no_grad() if node.no_grad else contextlib.nullcontext():
            module = None
            if node.op == "placeholder":
                if node.target.startswith("*"):
                    value = {} if node.target.startswith("**") else ()
                else:
                    value, first = (x if first else args[0]), False
            elif node.op == "get_attr":
                value = root.tensors[node.target]
            elif node.op == "call_module":
                module = root.leaves[node.target]
                value = module(*args, **kwargs)
            elif node.op == "call_function":
                value = FUNCTIONS[node.target](*args, **kwargs)
            else:
                if not args or not isinstance(args[0], torch.Tensor):
                    raise Unreadable(f"it calls .{node.target}() on something that is not a tensor")
                value = METHODS[node.target](*args, **kwargs)
        _check_value(value)
        if budget:
            for t in _tensors_in(value):
                if t.numel() > MAX_TENSOR_ELEMENTS:
                    raise Unreadable(f"its step {node.name} makes a tensor of shape {list(t.shape)}, larger than "
                                     f"the grader computes ({MAX_TENSOR_ELEMENTS:,} numbers)")
                if node.op not in ("get_attr", "placeholder"):
                    elements += t.numel()
            if node.op not in ("get_attr", "placeholder"):
                macs += _macs(node, module, args, value)
            if elements > MAX_FORWARD_ELEMENTS or macs > MAX_FORWARD_MACS:
                raise Unreadable(f"its forward needs more memory or computation than the grader allows "
                                 f"({MAX_FORWARD_ELEMENTS:,} numbers, {MAX_FORWARD_MACS:.0e} multiply-adds "
                                 f"for a batch of {x.shape[0] if x.dim() else 1}): use fewer channels or smaller layers")
        env[node.name] = value
    raise Unreadable("its trace does not end with its output")


def _tensor(value, name: str) -> torch.Tensor:
    if (type(value) is not torch.Tensor or value.layout != torch.strided or value.device.type != "cpu"
            or value.is_quantized or value.is_nested or not value.is_contiguous()):
        raise Unreadable(f"the tensor {name} is not a plain tensor")
    return value


def warm_up() -> None:
    """One small forward pass on the meta device, of the layers the course's networks are made of.

    The meta device's first operations import torch's symbolic-shape machinery and what it uses
    (sympy, torch._dynamo: about 900 modules, a second). The checks call this in a thread while
    their first probe waits for the probe server to start (checks/conftest.py), so that the first
    network rebuilt does not make the student's grade wait for it.
    """
    with torch.device("meta"):
        encoder = nn.Sequential(nn.Conv2d(1, 2, 4, 2, 1), nn.BatchNorm2d(2), nn.LeakyReLU(0.2), nn.Flatten(),
                                nn.Linear(392, 4))
        decoder = nn.Sequential(nn.Unflatten(1, (1, 2, 2)), nn.ConvTranspose2d(1, 1, 4, 2, 1), nn.BatchNorm2d(1),
                                nn.ReLU(), nn.Sigmoid())
    for train in (True, False):
        with torch.no_grad():
            decoder.train(train)(encoder.train(train)(torch.empty(2, 1, 28, 28, device="meta")))


def rebuild(description, who: str) -> Network:
    """The network `description` describes, rebuilt from the whitelist; raises Unreadable in plain words.

    `who` names it in messages ("Encoder(16)").
    """
    if isinstance(description, dict) and "error" in description:   # the probe's words: the network could not be exported
        error = description["error"]
        text = error[:600] if type(error) is str and error else "it could not be exported"
        raise Unreadable(text if text.startswith(who) else f"{who}: {text}")
    try:
        return _rebuild(description, who)
    except Unreadable as e:
        raise Unreadable(f"{who}: the grader could not read your network: {e}") from None


def _rebuild(description, who: str) -> Network:
    if not isinstance(description, dict):
        raise Unreadable("the grader received no description of it")
    if description.get("format") != "fx-1":
        raise Unreadable("its description is not of the expected form")
    modules = _mapping(description.get("modules"), "its table of layers", MAX_MODULES)
    tensors = _mapping(description.get("tensors"), "its table of tensors", MAX_TENSORS)
    kinds = _mapping(description.get("kinds"), "its table of tensor kinds", MAX_TENSORS)
    graphs = _mapping(description.get("graphs"), "its traces", 8)
    errors = _mapping(description.get("errors", {}), "its trace errors", 8)
    unknown = description.get("unknown", {})
    if set(kinds) != set(tensors):
        raise Unreadable("its tables of tensors and of tensor kinds disagree")
    for name, t in tensors.items():
        _tensor(t, _text(name, "a tensor's name")[:80])
    total = sum(t.numel() for t in tensors.values())
    if total > MAX_ELEMENTS:
        raise Unreadable(f"it has {total:,} numbers in its weights, more than the grader reads ({MAX_ELEMENTS:,}): "
                         "use fewer channels or smaller layers")

    # The layers, on the meta device (nothing allocated), parents before children.
    meta = _Container()
    leaves = {}
    for path in sorted(modules, key=lambda p: (p.count("."), p)):
        parts = _path(path, "a layer's name")
        entry = modules[path]
        if not isinstance(entry, dict) or set(entry) != {"type", "args"}:
            raise Unreadable(f"the layer self.{path} is not described as the grader expects")
        layer = _layer(entry["type"], entry["args"], path)
        owner = _owner(meta, parts[:-1], create=True, what=f"the layer self.{path}")
        if not _free(owner, parts[-1]):
            raise Unreadable(f"the layer self.{path} clashes with another name")
        owner.add_module(parts[-1], layer)
        leaves[path] = layer

    # The tensors: those of the layers must match them exactly; the others are added where they belong.
    expected = {**{n: ("parameter", p) for n, p in meta.named_parameters()},
                **{n: ("buffer", b) for n, b in meta.named_buffers()}}
    placed = {}   # name -> (owner parts, attribute, kind)
    for name in sorted(tensors, key=lambda n: (n.count("."), n)):
        parts, kind, t = _path(name, "a tensor's name"), kinds[name], tensors[name]
        if kind not in _TENSOR_DTYPES:
            raise Unreadable(f"the tensor {name} is of an unknown kind")
        if t.dtype not in _TENSOR_DTYPES[kind]:
            raise Unreadable(f"the {kind} {name} holds {str(t.dtype).removeprefix('torch.')} numbers: the grader "
                             "rebuilds float32 networks (leave out .double() and dtype=...)")
        if name in expected:
            want_kind, want = expected[name]
            if kind != want_kind or tuple(t.shape) != tuple(want.shape) or t.dtype != want.dtype:
                raise Unreadable(f"its weights do not match its layers: {name} is a {kind} of shape {list(t.shape)}, "
                                 f"where its layer has a {want_kind} of shape {list(want.shape)}")
        else:
            owner = _owner(meta, parts[:-1], create=True, what=f"the tensor {name}")
            if not _free(owner, parts[-1]):
                raise Unreadable(f"the tensor {name} clashes with another name")
            empty = torch.empty(t.shape, dtype=t.dtype, device="meta")
            if kind == "parameter":
                owner.register_parameter(parts[-1], nn.Parameter(empty))
            else:
                owner.register_buffer(parts[-1], empty, persistent=kind == "buffer")
        placed[name] = (parts[:-1], parts[-1], kind)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise Unreadable(f"its weights miss {', '.join(missing[:3])}" + (" and others" if len(missing) > 3 else ""))

    # The real network: a copy of the meta one, its tensors replaced by copies of the exported ones.
    real = copy.deepcopy(meta)
    real_tensors, meta_tensors = {}, {}
    for name, (owner_parts, attribute, kind) in placed.items():
        owner, meta_owner = _owner(real, owner_parts, False, name), _owner(meta, owner_parts, False, name)
        value = tensors[name].detach().clone()
        if kind == "parameter":
            owner._parameters[attribute] = nn.Parameter(value)
            real_tensors[name], meta_tensors[name] = owner._parameters[attribute], meta_owner._parameters[attribute]
        else:
            owner._buffers[attribute] = value
            real_tensors[name], meta_tensors[name] = value, meta_owner._buffers[attribute]
    if any(t.is_meta for t in real.parameters()) or any(t.is_meta for t in real.buffers()):
        raise Unreadable("some of its tensors were not given")
    real_leaves = {path: _owner(real, path.split("."), False, path) for path in leaves}

    traces, trace_errors = {}, {}
    for graph_name, raw in graphs.items():
        try:
            traces[graph_name] = _graph(raw, leaves, set(tensors), unknown)
        except Unreadable as e:
            trace_errors[graph_name] = f"{who}: the grader could not read your network: {e}"
    for graph_name, message in errors.items():
        trace_errors.setdefault(graph_name, f"{who}: the grader could not trace its forward with torch.fx: "
                                            f"{_text(message, 'a trace error', 600)}")
    return Network(who, _Root(real, real_leaves, real_tensors), _Root(meta, leaves, meta_tensors), traces, trace_errors)
