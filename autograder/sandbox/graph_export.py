"""Networks as plain data: a torch.fx trace of forward, the layers it uses, and the weights.

Runs inside the sandbox, after the student's code: probe_source() ships it as source text
after networks.py and before probes.py, so it may import only torch and the standard library.
What it returns is a description, never a verdict: the grader (autograder/grading/architecture.py)
rebuilds each network from a whitelist of layers and operations, loads the weights and runs it
on inputs of its own. A forged description can only describe some network, which the grader
then runs as it would run the student's.

The trace is torch.fx's symbolic trace with two additions, for the networks students write:
Python control flow on a value (`if x.dim() == 2`, `assert x.shape[1] == 1`) takes the branch the
example input takes (every traced value is also computed), and `len(x)` is recorded like
`x.size(0)`. The layers of torch.nn in EXPORT_LAYERS are leaves, described by their type and the
constructor arguments read from their attributes; a student's own module is traced through.
"""
import builtins
import operator

import torch
import torch.fx
import torch.nn as nn
import torch.nn.utils.parametrize

EXPORT_MAX_ELEMENTS = 15_000_000   # the tensors of one probe's networks (its result file holds at most 64 MiB)
EXPORT_MAX_VALUES = 30_000         # the plain values describing them (the runner reads a bounded structure)

# The layers the grader rebuilds, and the constructor arguments read back from their attributes
# ("bias" means: has a bias). autograder/grading/architecture.py validates each one.
EXPORT_LAYERS = {
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
               "padding_mode"),
    "ConvTranspose2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
                        "groups", "bias", "dilation", "padding_mode"),
    "Linear": ("in_features", "out_features", "bias"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "InstanceNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine", "bias"),
    "GroupNorm": ("num_groups", "num_channels", "eps", "affine"),
    "ReLU": (), "ReLU6": (), "SELU": (), "SiLU": (), "Mish": (), "Sigmoid": (), "Tanh": (), "Hardsigmoid": (),
    "Hardswish": (), "Softsign": (), "Identity": (),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "CELU": ("alpha",),
    "GELU": ("approximate",),
    "Softplus": ("beta", "threshold"),
    "Hardtanh": ("min_val", "max_val"),
    "PReLU": ("num_parameters",),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "Flatten": ("start_dim", "end_dim"),
    "Unflatten": ("dim", "unflattened_size"),
    "Dropout": ("p",), "Dropout1d": ("p",), "Dropout2d": ("p",), "AlphaDropout": ("p",),
    "Upsample": ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size", "return_indices"),
    "ZeroPad2d": ("padding",), "ConstantPad2d": ("padding", "value"), "ReflectionPad2d": ("padding",),
    "ReplicationPad2d": ("padding",),
}


class ExportError(Exception):
    """What could not be exported, in plain words."""


def _gx_layer_type(module):
    """The name of the whitelisted torch.nn layer `module` is (or subclasses without a forward of its own), or None."""
    for cls in type(module).__mro__:
        if cls.__name__ in EXPORT_LAYERS and getattr(nn, cls.__name__, None) is cls:
            return cls.__name__ if type(module).forward is cls.forward else None
    return None


def _gx_is_torch_layer(module):
    return type(module).__module__.startswith("torch.") and not isinstance(module, nn.Sequential)


def _gx_plain(value, what):
    """A constructor argument or graph constant as plain data (tuples become lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_gx_plain(v, what) for v in value]
    raise ExportError(f"{what} is a {type(value).__name__}")


def _gx_layer_args(module, kind):
    args = {}
    for name in EXPORT_LAYERS[kind]:
        value = getattr(module, "bias", None) is not None if name == "bias" else getattr(module, name)
        args[name] = _gx_plain(value, f"the argument {name} of a {kind}")
    return args


def _gx_qualified(target):
    try:
        return torch.fx.node._get_qualified_name(target)
    except Exception:
        return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _gx_len(obj):
    """len(), recorded in the trace when applied to a traced value (put in the student's namespace while tracing)."""
    if isinstance(obj, torch.fx.Proxy):
        return obj.tracer.create_proxy("call_function", builtins.len, (obj,), {})
    return builtins.len(obj)


def _gx_proxy_len(proxy):
    """len() of a traced value where Python asks for it implicitly (`f(*x.shape[1:])`): its length on the example."""
    if isinstance(proxy.tracer, _GxTracer):
        return builtins.len(proxy.tracer.gx_values[proxy.node])
    raise RuntimeError("'len' is not supported in symbolic tracing")


class _GxTracer(torch.fx.Tracer):
    """torch.fx's tracer that also computes every traced value on an example input."""

    def __init__(self, example):
        super().__init__()
        self.gx_example = example
        self.gx_values = {}
        self.gx_concrete = False
        self.gx_placeholders = 0

    def trace(self, root, concrete_args=None):
        self.gx_installed = {id(m) for m in root.modules()}
        return super().trace(root, concrete_args)

    def is_leaf_module(self, m, module_qualified_name):
        return _gx_layer_type(m) is not None or _gx_is_torch_layer(m)

    def call_module(self, m, forward, args, kwargs):
        # a layer made inside forward (`nn.Sigmoid()(x)`) is not part of the network: trace through it
        if self.gx_concrete or id(m) not in self.gx_installed:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self.gx_concrete:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["gx_grad"] = torch.is_grad_enabled()
        if kind != "output":
            self.gx_values[node] = self._gx_evaluate(node)
        return node

    def _gx_evaluate(self, node):
        args = torch.fx.node.map_arg(node.args, lambda n: self.gx_values[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.gx_values[n])
        self.gx_concrete = True
        try:
            if node.op == "placeholder":
                self.gx_placeholders += 1
                if str(node.target).startswith("**"):
                    return {}
                if str(node.target).startswith("*"):
                    return ()
                return self.gx_example if self.gx_placeholders == 1 else (args[0] if args else None)
            if node.op == "get_attr":
                value = self.root
                for part in node.target.split("."):
                    value = getattr(value, part)
                return value
            if node.op == "call_module":
                return self.root.get_submodule(node.target)(*args, **kwargs)
            if node.op == "call_function":
                return node.target(*args, **kwargs)
            if node.op == "call_method":
                return getattr(args[0], node.target)(*args[1:], **kwargs)
            raise ExportError(f"a node of kind {node.op}")
        finally:
            self.gx_concrete = False

    def to_bool(self, obj):
        return builtins.bool(self.gx_values[obj.node])

    def iter(self, obj):
        return iter([obj[i] for i in range(builtins.len(self.gx_values[obj.node]))])


def _gx_argument(value, depth=0):
    """A node's argument as plain data: node references, containers and slices tagged by a one-key dict."""
    if depth > 8:
        raise ExportError("an argument nested too deeply")
    if isinstance(value, torch.fx.Node):
        return {"node": value.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, slice):
        return {"slice": [_gx_argument(v, depth + 1) for v in (value.start, value.stop, value.step)]}
    if isinstance(value, tuple):
        return {"tuple": [_gx_argument(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return {"list": [_gx_argument(v, depth + 1) for v in value]}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"device": value.type}
    raise ExportError(f"an argument of type {type(value).__name__} ({str(value)[:60]})")


# Steps that compute only Python values for control flow (`if x.dim() == 2`); dropped when nothing uses them.
_GX_PURE_FUNCTIONS = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge, operator.not_,
                      operator.getitem, builtins.getattr, builtins.len)
_GX_PURE_METHODS = ("size", "dim", "numel")


def _gx_prune(graph):
    changed = True
    while changed:
        changed = False
        for node in reversed(list(graph.nodes)):
            pure = ((node.op == "call_function" and any(node.target is f for f in _GX_PURE_FUNCTIONS))
                    or (node.op == "call_method" and node.target in _GX_PURE_METHODS))
            if pure and not node.users:
                graph.erase_node(node)
                changed = True


def _gx_trace(module, example, prefix, namespace):
    """The nodes of `module`'s forward, targets named from the exported root (`prefix`), and its tensor constants."""
    tracer = _GxTracer(example)
    had_len, old_len = "len" in namespace, namespace.get("len")
    namespace["len"] = _gx_len
    proxy_len, torch.fx.Proxy.__len__ = torch.fx.Proxy.__len__, _gx_proxy_len
    try:
        graph = tracer.trace(module)
    finally:
        torch.fx.Proxy.__len__ = proxy_len
        if had_len:
            namespace["len"] = old_len
        else:
            namespace.pop("len", None)
    _gx_prune(graph)
    nodes, get_attrs = [], {}
    for node in graph.nodes:
        if node.op == "call_function":
            target = _gx_qualified(node.target)
        elif node.op in ("call_module", "get_attr"):
            target = prefix + node.target
            if node.op == "get_attr":
                get_attrs[target] = tracer.gx_values[node]
        else:
            target = str(node.target)
        nodes.append({"op": node.op, "name": node.name, "target": target,
                      "args": [_gx_argument(a) for a in node.args],
                      "kwargs": {k: _gx_argument(v) for k, v in node.kwargs.items()},
                      "no_grad": not node.meta.get("gx_grad", True)})
    return nodes, get_attrs


def _gx_trace_message(error):
    text = f"{type(error).__name__}: {error}"
    return text[:400]


def export_network(root, graphs, namespace):
    """`root` as plain data, with a trace per entry of `graphs` ({name: (submodule path, example input)}).

    Returns {"modules", "unknown", "tensors", "kinds", "graphs", "errors"}: each graph is traced in
    train mode ("nodes") and, when forward reads self.training, in eval mode too ("eval_nodes"); a
    graph that could not be traced has an entry in errors instead (plain words for the student).
    """
    modules, unknown = {}, {}
    for name, module in root.named_modules():
        kind = _gx_layer_type(module)
        if kind is not None:
            modules[name] = {"type": kind, "args": _gx_layer_args(module, kind)}
        elif name and _gx_is_torch_layer(module):
            unknown[name] = type(module).__name__
    tensors, kinds = {}, {}
    for name, p in root.named_parameters():
        tensors[name], kinds[name] = p.detach().clone(), "parameter"
    for name, b in root.named_buffers():
        tensors[name], kinds[name] = b.detach().clone(), "buffer"
    for name in modules:   # a parametrized layer (weight_norm, spectral_norm) is exported with its current weights
        module = root.get_submodule(name)
        if torch.nn.utils.parametrize.is_parametrized(module):
            prefix = f"{name}." if name else ""
            for tensor_name in list(module.parametrizations):
                for key in [k for k in tensors if k.startswith(f"{prefix}parametrizations.{tensor_name}.")]:
                    del tensors[key], kinds[key]
                tensors[prefix + tensor_name] = getattr(module, tensor_name).detach().clone()
                kinds[prefix + tensor_name] = "parameter"
    paths = {id(m): name for name, m in root.named_modules()}
    out_graphs, errors = {}, {}
    for graph_name, (path, example) in graphs.items():
        submodule = root.get_submodule(path) if path else root
        prefix = paths[id(submodule)] + "." if paths[id(submodule)] else ""
        try:   # in train mode and in eval mode: forward may read self.training (F.dropout(x, p, self.training))
            submodule.train()
            nodes, get_attrs = _gx_trace(submodule, example, prefix, namespace)
            submodule.eval()
            eval_nodes, eval_attrs = _gx_trace(submodule, example, prefix, namespace)
        except Exception as e:
            errors[graph_name] = _gx_trace_message(e)
            continue
        finally:
            submodule.train()
        get_attrs.update(eval_attrs)
        for target, value in get_attrs.items():
            if target not in tensors:
                if not isinstance(value, torch.Tensor):
                    errors[graph_name] = f"ExportError: self.{target} is a {type(value).__name__}, not a tensor"
                    break
                tensors[target], kinds[target] = value.detach().clone(), "constant"
        else:
            out_graphs[graph_name] = {"nodes": nodes} if eval_nodes == nodes else {"nodes": nodes, "eval_nodes": eval_nodes}
    return {"format": "fx-1", "modules": modules, "unknown": unknown, "tensors": tensors, "kinds": kinds,
            "graphs": out_graphs, "errors": errors}


def export_elements(description):
    return sum(t.numel() for t in description.get("tensors", {}).values())


def export_values(value):
    """How many plain values (dict entries, list items) describe `value`: what the runner counts."""
    if isinstance(value, dict):
        return 1 + sum(export_values(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(export_values(v) for v in value)
    return 1


def export_built(student, class_name, nz, graphs):
    """`student[class_name](nz)` exported (export_network), or {"error": plain words} when it cannot be."""
    who = f"{class_name}({nz})"
    if not isinstance(student.get(class_name), type):
        return {"error": f"there is no class {class_name} in your code"}
    try:
        network = student[class_name](nz)
    except Exception as e:
        return {"error": f"{who} raised {type(e).__name__}" + (f": {e}"[:400] if str(e) else "")}
    if not isinstance(network, nn.Module):
        return {"error": f"{who} is not an nn.Module"}
    try:
        return export_network(network, graphs, student)
    except Exception as e:
        return {"error": f"{who} could not be exported: {type(e).__name__}: {e}"[:400]}


def export_bounded(descriptions):
    """The descriptions, or an error for each when their tensors would not fit in the probe's result."""
    total = sum(export_elements(d) for d in descriptions.values())
    if total > EXPORT_MAX_ELEMENTS:
        message = (f"{'your networks hold' if len(descriptions) > 1 else 'it holds'} {total:,} numbers in "
                   f"{'their' if len(descriptions) > 1 else 'its'} weights, more than the grader reads "
                   f"({EXPORT_MAX_ELEMENTS:,}): use fewer channels or smaller layers")
        return {key: {"error": message} for key in descriptions}
    return descriptions
