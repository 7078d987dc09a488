"""2a/2b grade networks the grader rebuilt itself: honest architectures survive the round trip, forgeries earn nothing.

The probe exports a network as plain data (autograder/sandbox/graph_export.py); the grader
rebuilds it from a whitelist and runs it (autograder/grading/architecture.py). Most tests here export in
this process (no sandbox: seconds each) and check that the rebuilt network computes exactly what
the student's does, or that a description the grader must refuse is refused in plain words
without allocating what it claims. Two run the real 2a/2b checks (their measurement and assertions,
called in this process) with real probes in the sandbox: the release's stubs with a hook that swaps
the probes for forgers, and a 12M-parameter network.
"""
from __future__ import annotations

import copy
import io
import resource
import tempfile
import time
from pathlib import Path

import pytest
import torch

from assignment import notebooks
from autograder.grading.architecture import MAX_ELEMENTS, Unreadable, rebuild
from autograder.grading.extract import student_code
from autograder.checks import test_p2a_architecture as p2a
from autograder.checks import test_p2b_forward_shapes as p2b
from autograder.sandbox import probe_source
from autograder.sandbox.graph_export import export_built, export_network
from autograder.sandbox.limits import MAX_RESULT_BYTES, ProbeLimits
from autograder.sandbox.policy import available
from autograder.sandbox.runner import ProbeServer, _invalid

PRELUDE = "import math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
IMAGES = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))

REFERENCE = '''
class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        layers, channels = [], [1, 32, 64, 128, 256]
        for (cin, cout), (k, s, p) in zip(zip(channels, channels[1:]), [(4, 2, 1), (4, 2, 1), (3, 2, 1), (4, 1, 0)]):
            layers += [nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(256, nz))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 256)
        self.net = nn.Sequential(nn.BatchNorm2d(256), nn.ReLU(),
                                 nn.ConvTranspose2d(256, 128, 4, 1, 0), nn.BatchNorm2d(128), nn.ReLU(),
                                 nn.ConvTranspose2d(128, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                                 nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 256, 1, 1))
'''

EXPLICIT_LAYERS = '''
class Encoder(nn.Module):
    """Layers as attributes, functional activations, x.size(0) and x.shape[0]."""
    def __init__(self, nz, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(2 * width)
        self.fc = nn.Linear(2 * width * 7 * 7, nz)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.leaky_relu(self.bn(self.conv2(h)), negative_slope=0.1)
        h = h.view(x.size(0), -1) if x.shape[0] > 0 else h
        return self.fc(h)


class Decoder(nn.Module):
    def __init__(self, nz, width=16):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(nz, 2 * width * 7 * 7)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).reshape(z.shape[0], 2 * self.width, 7, 7)
        return torch.sigmoid(self.up2(F.elu(self.up1(h))))
'''

HELPER_MODULES = '''
class Block(nn.Module):
    """A student's own module of standard layers, used several times, in a ModuleList."""
    def __init__(self, cin, cout, transposed=False):
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = conv(cin, cout, 4, 2, 1)
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class Scaled(nn.Linear):
    """A subclass of a standard layer with its own initialisation (no forward of its own)."""
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out)
        nn.init.xavier_uniform_(self.weight)


class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.blocks = nn.ModuleList([Block(1, 16), Block(16, 32)])
        self.head = Scaled(32 * 7 * 7, nz)
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("mean", torch.tensor(0.5))

    def forward(self, x):
        assert x.dim() == 4, "images come as [B, 1, 28, 28]"
        x = x - self.mean
        for block in self.blocks:
            x = block(x)
        return self.head(torch.flatten(x, 1)) * self.scale


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Sequential(Scaled(nz, 32 * 7 * 7), nn.GELU(), nn.Unflatten(1, (32, 7, 7)))
        self.blocks = nn.Sequential(Block(32, 16, transposed=True), nn.ConvTranspose2d(16, 1, 4, 2, 1))

    def forward(self, z):
        if z.dim() == 1:
            z = z.unsqueeze(0)
        return torch.sigmoid(self.blocks(self.fc(z)))
'''

MLP = '''
class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU(), nn.Dropout(0.2), nn.Linear(400, nz))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, 400), nn.Tanh(), nn.Linear(400, 784), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).view(len(z), 1, 28, 28)
'''

UPSAMPLING = '''
class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding="same"), nn.ReLU(), nn.AvgPool2d(2),
                                      nn.AdaptiveAvgPool2d((4, 4)))
        self.fc = nn.Linear(16 * 16 + 16, nz)
        self.offset = torch.zeros(1)   # a plain tensor attribute: a constant of the trace

    def forward(self, x):
        h = self.features(x + self.offset)
        pooled = h.mean(dim=(2, 3))
        return self.fc(torch.cat([h.flatten(1), pooled], dim=1))


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 16 * 7 * 7)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(16, 8, 3, padding=1)
        self.out = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(8, 1, 3))

    def forward(self, z):
        b = z.shape[0]
        h = self.up(F.relu(self.fc(z)).view(b, 16, 7, 7))
        h = F.interpolate(F.gelu(self.conv(h)), size=(28, 28), mode="bilinear", align_corners=False)
        return torch.clamp(torch.sigmoid(self.out(h)), 0.0, 1.0)
'''

WIDE = '''
class Encoder(nn.Module):
    """64 to 512 channels: about 6M parameters each, 12M together."""
    def __init__(self, nz):
        super().__init__()
        c = [1, 64, 128, 256, 512, 512]
        spec = [(3, 1, 1), (4, 2, 1), (4, 2, 1), (3, 2, 1), (4, 1, 0)]
        layers = []
        for (cin, cout), (k, s, p) in zip(zip(c, c[1:]), spec):
            layers += [nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, nz))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 512)
        c = [512, 512, 256, 128, 64]
        spec = [(4, 1, 0), (3, 2, 1), (4, 2, 1), (4, 2, 1)]
        layers = []
        for (cin, cout), (k, s, p) in zip(zip(c, c[1:]), spec):
            layers += [nn.ConvTranspose2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Conv2d(64, 1, 3, 1, 1), nn.Sigmoid())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 512, 1, 1))
'''

QUIRKS = '''
class Encoder(nn.Module):
    """A layer made inside forward, x.to(device), *args, a view of a star-unpacked shape."""
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(784, nz)

    def forward(self, x, *args):
        device = next(self.parameters()).device
        x = x.to(device).view(x.shape[0], *x.shape[1:]).flatten(1)
        return self.fc(nn.Identity()(x))


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 784)
        self.shape = (1, 28, 28)

    def forward(self, z, temperature=1.0):
        return nn.Sigmoid()(self.fc(z) / temperature).view(-1, *self.shape).type_as(z)
'''

ASSORTED = '''
from collections import OrderedDict


class Encoder(nn.Sequential):
    """An nn.Sequential subclass with named layers, inplace activations, assorted layers; self.training in forward,
    a weight-normalised layer."""
    def __init__(self, nz):
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, 8, 3, padding=1)), ("gn", nn.GroupNorm(2, 8)), ("act1", nn.ReLU(inplace=True)),
            ("pool", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
            ("conv2", nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)), ("inorm", nn.InstanceNorm2d(16, affine=True)),
            ("act2", nn.PReLU(16)), ("gap", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()),
            ("ln", nn.LayerNorm(16)), ("act3", nn.Mish()), ("fc", nn.Linear(16, nz)),
        ]))


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(nz, 64), nn.BatchNorm1d(64), nn.Softplus(), nn.Linear(64, 32 * 7 * 7),
                                nn.Hardswish(), nn.Unflatten(1, (32, 7, 7)))
        self.up = nn.utils.parametrizations.weight_norm(nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1,
                                                                           output_padding=1))
        self.out = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, z):
        h = F.dropout(self.fc(z), 0.1, self.training)
        h = F.leaky_relu(self.up(h), 0.1, inplace=True)
        return (torch.tanh(self.out(h)) + 1) / 2
'''

HONEST = {"reference": REFERENCE, "quirks": QUIRKS, "assorted": ASSORTED, "explicit_layers": EXPLICIT_LAYERS, "helper_modules": HELPER_MODULES, "mlp": MLP,
          "upsampling": UPSAMPLING, "wide": WIDE}


def student(source: str) -> dict:
    namespace = {"__name__": "submission"}
    exec(compile(PRELUDE + source, "submission.py", "exec"), namespace)
    return namespace


def export(namespace: dict, name: str, nz: int) -> dict:
    example = IMAGES[:2] if name == "Encoder" else torch.randn(2, nz)
    return export_built(namespace, name, nz, {"forward": ("", example)})


def roundtrip(namespace: dict, name: str, nz: int):
    """(the student's network, the grader's network rebuilt from its export)."""
    original = namespace[name](nz)
    saved = copy.deepcopy(original.state_dict())   # tracing runs forward once in train mode (BatchNorm's statistics)
    example = IMAGES[:2] if name == "Encoder" else torch.randn(2, nz)
    description = export_network(original, {"forward": ("", example)}, namespace)
    assert not description["errors"], description["errors"]
    original.load_state_dict(saved)
    return original, rebuild(description, f"{name}({nz})")


# --- honest networks -----------------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(HONEST))
def test_an_honest_network_is_rebuilt_exactly(variant):
    namespace = student(HONEST[variant])
    torch.manual_seed(0)
    for name, x in (("Encoder", IMAGES[:3]), ("Decoder", torch.randn(3, 16) * 30)):
        original, network = roundtrip(namespace, name, 16)
        original.eval()
        with torch.no_grad():
            expected, got = original(x), network.run("forward", x)
        assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6), (variant, name)
        # and in train mode every parameter the student's network trains gets a gradient in the grader's
        network.run("forward", x, train=True).sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in network.named_parameters()), (variant, name)
        if variant != "assorted":   # a weight-normalised layer is graded as the plain layer with its weights
            assert sum(p.numel() for _, p in network.named_parameters()) == sum(p.numel() for p in original.parameters())


def test_a_wide_network_fits_in_a_probes_result():
    """12M parameters (64 to 512 channels) pass the runner's validation and its size limit."""
    namespace = student(WIDE)
    data = {"encoder_2": export(namespace, "Encoder", 2), "decoder_2": export(namespace, "Decoder", 2)}
    assert not _invalid(data)
    buffer = io.BytesIO()
    torch.save(data, buffer)
    assert buffer.tell() < ProbeLimits().file_bytes and buffer.tell() < MAX_RESULT_BYTES + 2**20
    assert 11e6 < sum(t.numel() for d in data.values() for t in d["tensors"].values()) < MAX_ELEMENTS


def test_no_grad_and_detach_in_forward_are_kept():
    namespace = student('''
class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(784, nz)
    def forward(self, x):
        with torch.no_grad():
            h = self.fc(x.flatten(1))
        return h

class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 784)
    def forward(self, z):
        return torch.sigmoid(self.fc(z)).detach().view(-1, 1, 28, 28)
''')
    for name, x in (("Encoder", IMAGES[:2]), ("Decoder", torch.randn(2, 8))):
        _, network = roundtrip(namespace, name, 8)
        assert not network.run("forward", x).requires_grad, name


# --- what the grader refuses, in plain words -----------------------------------------------------

def unreadable(description, graph="forward", x=None) -> str:
    with pytest.raises(Unreadable) as caught:
        rebuild(description, "Decoder(16)").run(graph, torch.randn(3, 16) if x is None else x)
    return str(caught.value)


def test_an_operation_outside_the_whitelist_is_named_with_a_fix():
    namespace = student('''
class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 784)
    def forward(self, z):
        return torch.sigmoid(self.fc(z).cumsum(1)).view(-1, 1, 28, 28)
''')
    message = unreadable(export(namespace, "Decoder", 16))
    assert "x.cumsum(...)" in message and "which the grader does not run" in message and "x.view(...)" in message


def test_a_layer_outside_the_whitelist_is_named():
    namespace = student('''
class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.rnn = nn.GRUCell(nz, 784)
    def forward(self, z):
        return torch.sigmoid(self.rnn(z)).view(-1, 1, 28, 28)
''')
    message = unreadable(export(namespace, "Decoder", 16))
    assert "self.rnn" in message and "nn.GRUCell" in message and "does not rebuild" in message


def test_a_forward_that_cannot_be_traced_says_so():
    namespace = student('''
class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 784)
    def forward(self, z):
        return torch.sigmoid(self.fc(z)).view(int(z.shape[0]), 1, 28, 28)
''')
    message = unreadable(export(namespace, "Decoder", 16))
    assert "could not trace" in message and "torch.fx" in message


@pytest.fixture(scope="module")
def honest():
    """An honest description of the reference decoder, to corrupt."""
    return export(student(REFERENCE), "Decoder", 16)


def corrupted(description, change) -> dict:
    description = copy.deepcopy(description)
    change(description)
    return description


def node(op, name, target, *args, **kwargs):
    return {"op": op, "name": name, "target": target, "args": list(args), "kwargs": kwargs, "no_grad": False}


def forged(nodes, modules=None, tensors=None, kinds=None) -> dict:
    tensors = tensors or {}
    return {"format": "fx-1", "modules": modules or {}, "unknown": {}, "tensors": tensors,
            "kinds": kinds or {k: "parameter" for k in tensors}, "graphs": {"forward": {"nodes": nodes}}, "errors": {}}


def _set_weight(d, value):
    d["tensors"]["fc.weight"] = value


def _drop(d, name):
    del d["tensors"][name], d["kinds"][name]


@pytest.mark.parametrize("change, words", [
    (lambda d: _set_weight(d, torch.zeros(300, 16)), "do not match its layers: fc.weight is a parameter of shape [300, 16]"),
    (lambda d: _set_weight(d, torch.zeros(256, 16, dtype=torch.float64)), "rebuilds float32 networks"),
    (lambda d: _set_weight(d, torch.zeros(1).expand(256, 16)), "not a plain tensor"),
    (lambda d: _drop(d, "fc.bias"), "miss fc.bias"),
    (lambda d: d["kinds"].update({"fc.bias": "buffer"}), "do not match its layers"),
    (lambda d: d["modules"]["fc"]["args"].update(in_features=10**9), "in_features=1000000000"),
    (lambda d: d["modules"]["fc"]["args"].update(in_features="16"), "in_features=16, which the grader accepts only as an integer"),
    (lambda d: d["modules"]["fc"].update(type="Module"), "a Module, which the grader does not rebuild"),
    (lambda d: d["modules"].update({"_modules": {"type": "ReLU", "args": {}}}), "clashes with another name"),
    (lambda d: d["modules"].update({"__class__": {"type": "ReLU", "args": {}}}), "clashes with another name"),
    (lambda d: d["modules"].update({"a b": {"type": "ReLU", "args": {}}}), "not a name of attributes"),
    (lambda d: d["modules"].update({f"m{i}": {"type": "ReLU", "args": {}} for i in range(2000)}), "more than the grader reads"),
    (lambda d: d["graphs"]["forward"]["nodes"].insert(1, node("call_function", "e", "eval", "1")), "eval, which the grader does not run"),
    (lambda d: d["graphs"]["forward"]["nodes"].insert(1, node("call_method", "e", "__reduce_ex__", {"node": "z"}, 2)),
     "x.__reduce_ex__(...), which the grader does not run"),
    (lambda d: d["graphs"]["forward"]["nodes"].insert(1, node("get_attr", "e", "training")), "not one of its tensors"),
    (lambda d: d["graphs"]["forward"]["nodes"].insert(1, node("call_module", "e", "nowhere", {"node": "z"})), "does not rebuild"),
    (lambda d: d["graphs"]["forward"]["nodes"].insert(1, node("call_function", "e", "torch.rand", 3, 1, 28, 28)), "torch.rand"),
    (lambda d: d["graphs"]["forward"]["nodes"][1]["args"].append({"node": "later"}), "not an earlier step"),
    (lambda d: d["graphs"]["forward"]["nodes"][1]["args"].append({"pickle": "x"}), "not one the grader reads"),
    (lambda d: d["graphs"]["forward"]["nodes"].pop(), "does not end with its output"),
    (lambda d: d["graphs"].clear(), "no trace of its forward"),
    (lambda d: d.update(format="pickle"), "not of the expected form"),
])
def test_a_corrupted_description_is_refused_in_plain_words(honest, change, words):
    assert words in unreadable(corrupted(honest, change))


def test_an_argument_that_shares_one_list_many_times_over_is_refused_quickly(honest):
    # 5 levels of 256 references to one list: 256**5 items once unfolded, a few kilobytes in a result file
    shared = 1
    for _ in range(5):
        shared = {"list": [shared] * 256}
    started = time.perf_counter()
    message = unreadable(corrupted(honest, lambda d: d["graphs"]["forward"]["nodes"][1]["kwargs"].update(x=shared)))
    assert "more than 100,000 arguments" in message and time.perf_counter() - started < 5


def test_an_attribute_other_than_shape_is_refused_when_run():
    nodes = [node("placeholder", "z", "z"), node("call_function", "cls", "getattr", {"node": "z"}, "__class__"),
             node("output", "output", "output", {"node": "cls"})]
    assert "the attribute .__class__ of a Tensor" in unreadable(forged(nodes))


def test_weights_beyond_the_limit_are_refused_before_anything_is_built():
    big = torch.zeros(MAX_ELEMENTS + 1)
    message = unreadable(forged([node("placeholder", "z", "z"), node("output", "output", "output", {"node": "z"})],
                                tensors={"w": big}))
    assert "more than the grader reads" in message


def peak_memory_grows_by_less_than(megabytes, action):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    action()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < megabytes * 1024
    assert time.perf_counter() - started < 5


def test_an_absurd_layer_is_refused_without_allocating_it():
    # a Linear of 2**24 x 2**24 numbers (1 PiB), described without its weights
    modules = {"fc": {"type": "Linear", "args": {"in_features": 2**24, "out_features": 2**24, "bias": False}}}
    nodes = [node("placeholder", "z", "z"), node("call_module", "fc", "fc", {"node": "z"}),
             node("output", "output", "output", {"node": "fc"})]
    peak_memory_grows_by_less_than(100, lambda: pytest.raises(Unreadable, rebuild, forged(nodes, modules), "D"))


def test_absurd_activations_are_refused_on_the_meta_device_first():
    # three 16x upsamplings of 28x28 images: 1.3e10 numbers per image
    modules = {f"up{i}": {"type": "Upsample", "args": {"size": None, "scale_factor": 16.0, "mode": "nearest",
                                                        "align_corners": None, "recompute_scale_factor": None}}
               for i in range(3)}
    nodes = [node("placeholder", "x", "x")] + [node("call_module", f"up{i}", f"up{i}", {"node": "x" if i == 0 else f"up{i - 1}"})
                                               for i in range(3)] + [node("output", "output", "output", {"node": "up2"})]
    network = rebuild(forged(nodes, modules), "Encoder(16)")
    def run():
        with pytest.raises(Unreadable, match="larger than the grader computes"):
            network.run("forward", IMAGES)
    peak_memory_grows_by_less_than(200, run)


def test_too_much_computation_is_refused_before_it_runs():
    # 40 convolutions of 64 channels on 112x112 images: 1.5e11 multiply-adds for 8 images
    modules = {"up": {"type": "Upsample", "args": {"size": None, "scale_factor": 4.0, "mode": "nearest",
                                                   "align_corners": None, "recompute_scale_factor": None}}}
    tensors, nodes, previous = {}, [node("placeholder", "x", "x"), node("call_module", "up", "up", {"node": "x"})], "up"
    for i in range(41):
        modules[f"c{i}"] = {"type": "Conv2d", "args": {"in_channels": 1 if i == 0 else 64, "out_channels": 64,
                                                       "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1],
                                                       "dilation": [1, 1], "groups": 1, "bias": False,
                                                       "padding_mode": "zeros"}}
        tensors[f"c{i}.weight"] = torch.zeros(64, 1 if i == 0 else 64, 3, 3)
        nodes.append(node("call_module", f"c{i}", f"c{i}", {"node": previous}))
        previous = f"c{i}"
    nodes.append(node("output", "output", "output", {"node": previous}))
    network = rebuild(forged(nodes, modules, tensors), "Encoder(16)")

    def run():
        with pytest.raises(Unreadable, match="more memory or computation than the grader allows"):
            network.run("forward", IMAGES)
    peak_memory_grows_by_less_than(200, run)


@pytest.mark.parametrize("nodes, words", [
    ([node("call_method", "n", "size", {"node": "z"}, 0), node("call_function", "p", "_operator.pow", {"node": "n"}, 10**6)],
     "a power of 1000000"),
    ([node("call_method", "n", "size", {"node": "z"}, 0), node("call_function", "p", "_operator.pow", {"node": "n"}, 64)],
     "far too large"),
    ([node("call_function", "s", "getattr", {"node": "z"}, "shape")]
     + [node("call_function", f"t{i}", "_operator.add", {"node": f"t{i - 1}" if i else "s"}, {"node": f"t{i - 1}" if i else "s"})
        for i in range(12)], "a sequence of"),
    ([node("call_function", "s", "getattr", {"node": "z"}, "shape"), node("call_function", "m", "_operator.mul", {"node": "s"}, 10**9)],
     "arithmetic on Size, int"),
])
def test_python_arithmetic_stays_small(nodes, words):
    nodes = [node("placeholder", "z", "z")] + nodes + [node("output", "output", "output", {"node": "z"})]
    def run():
        assert words in unreadable(forged(nodes))
    peak_memory_grows_by_less_than(100, run)


# --- end to end, in the sandbox ------------------------------------------------------------------

FORGER_HOOK = '''
import builtins
_real_exec = builtins.exec


def _claims_architecture(student, inputs):
    """The most favourable claims the old checks accepted, and descriptions that describe nothing."""
    out = {"params_without_grad": [], "n_params": 100000}
    for nz in inputs["nzs"]:
        for batch in (1, 3, 8):
            out[f"enc_{nz}_{batch}"] = torch.randn(batch, nz)
            out[f"dec_{nz}_{batch}"] = torch.rand(batch, 1, 28, 28)
        out[f"dec_extreme_{nz}"] = torch.rand(8, 1, 28, 28)
        out[f"encoder_{nz}"] = out[f"decoder_{nz}"] = {"deferred": True}
    return out


def _claims_autoencoder(student, inputs):
    return {"codes_shape": [10, inputs["nz"]], "rec_shape": [10, 1, 28, 28], "rec_requires_grad": True,
            "autoencoder": {"format": "fx-1", "modules": {}, "unknown": {}, "tensors": {}, "kinds": {}, "errors": {},
                            "graphs": {}, "codes": torch.randn(10, inputs["nz"]), "rec": torch.rand(10, 1, 28, 28)}}


def _forging_exec(source, namespace=None, *rest):
    result = _real_exec(source, namespace, *rest)
    if isinstance(namespace, dict) and namespace.get("__name__") == "probe":
        namespace["architecture"], namespace["autoencoder_forward"] = _claims_architecture, _claims_autoencoder
    return result


builtins.exec = _forging_exec
'''


CONFINED = available()
P2A_CHECKS = [f for name, f in vars(p2a).items() if name.startswith("test_")]


@pytest.fixture(scope="module")
def probe_server():
    with ProbeServer(ProbeLimits(threads=1, confined=CONFINED)) as server:
        yield server


def stubs_with(release_nb, source: str) -> list[tuple[str, int, str]]:
    """The code the checks run for the release with `source` as its 2a solution cell.

    The release's setup cell is replaced by its torch imports: matplotlib and torchvision would cost
    seconds in every probe, and the checks of 2a and 2b need neither.
    """
    notebook = copy.deepcopy(release_nb)
    cells = notebooks.cells_by_grade_id(notebook)
    cells["setup"].source = PRELUDE + "from torch.utils.data import DataLoader, TensorDataset\n"
    cells["p2a_encoder_decoder_solution"].source = source
    return student_code(notebook, notebook).statements


def checks_2a_2b(server, code, tmp_path) -> dict[str, list[tuple[bool, str]]]:
    """The real 2a and 2b checks on `code`, in this process with real probes: (passed, message) per check."""
    def run_probe(entry, inputs, seconds=30):
        scratch = Path(tempfile.mkdtemp(prefix=f"{entry}-", dir=tmp_path))
        outcome = server.run(code, probe_source(), entry, inputs, scratch,
                             ProbeLimits(seconds=seconds, threads=1, confined=CONFINED))
        if not outcome.ok:
            pytest.fail(outcome.message, pytrace=False)
        return outcome.data

    def attempt(check, *args):
        try:
            check(*args)
        except (AssertionError, pytest.fail.Exception) as e:
            return False, str(e)
        return True, ""

    try:
        out = p2a.measure(run_probe, p2a.grader_inputs())
    except pytest.fail.Exception as e:
        results_2a = [(False, str(e))] * len(P2A_CHECKS)
    else:
        results_2a = [attempt(check, out) for check in P2A_CHECKS]
    digits = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return {"p2a_architecture": results_2a,
            "p2b_forward_shapes": [attempt(p2b.test_autoencoder_forward_pass_keeps_shapes_and_gradients, run_probe,
                                           {"test": digits})]}


def test_stubs_with_a_hook_that_forges_the_probes_earn_nothing(release_nb, probe_server, tmp_path):
    stubs = notebooks.cells_by_grade_id(release_nb)["p2a_encoder_decoder_solution"].source
    results = checks_2a_2b(probe_server, stubs_with(release_nb, stubs + "\n\n" + FORGER_HOOK), tmp_path)
    for grade_id, checks in results.items():
        assert checks and not any(passed for passed, _ in checks), (grade_id, checks)
        # each check says why, and the forged probes did run (the stubs alone would raise NotImplementedError)
        assert all(message.startswith(("Encoder(", "Decoder(", "AutoEncoder(")) and "NotImplementedError" not in message
                   for _, message in checks), (grade_id, checks)


def test_a_12m_parameter_network_gets_full_marks_on_2a_and_2b(release_nb, probe_server, tmp_path):
    results = checks_2a_2b(probe_server, stubs_with(release_nb, WIDE), tmp_path)
    for grade_id, checks in results.items():
        assert checks and all(passed for passed, _ in checks), (grade_id, checks)


def test_a_probe_that_defers_its_networks_forever_gets_nothing():
    def run_probe(entry, inputs, seconds=30):
        return {f"{key}_{nz}": {"deferred": True} for nz in inputs["nzs"] for key in ("encoder", "decoder")}
    out = p2a.measure(run_probe, p2a.grader_inputs())
    assert all(isinstance(v, str) and "not of the expected form" in v for v in out.values()), out


WARMED_UP_RUN = '''
import sys
import torch
from test_architecture_export import student, REFERENCE, IMAGES
from autograder.sandbox.graph_export import export_network
from autograder.grading import architecture
namespace = student(REFERENCE)
descriptions = {name: export_network(namespace[name](16), {"forward": ("", x)}, namespace)
                for name, x in (("Encoder", IMAGES[:2]), ("Decoder", torch.randn(2, 16)))}
assert "sympy" not in sys.modules, "the test no longer starts without the meta device's imports"
if WARM:
    architecture.warm_up()
before = set(sys.modules)
for name, x in (("Encoder", IMAGES[:3]), ("Decoder", torch.randn(3, 16))):
    network = architecture.rebuild(descriptions[name], name)
    for train in (False, True):
        network.run("forward", x, train=train)
print(len(set(sys.modules) - before))
'''


@pytest.mark.parametrize("warm", [True, False], ids=["after the warm-up", "without it"])
def test_the_warm_up_does_the_imports_that_the_first_rebuilt_network_would_wait_for(warm):
    """architecture.warm_up() (which the checks run while their first probe waits for the probe server) imports
    what the meta device needs, so that running the first rebuilt reference network imports nothing more."""
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", f"WARM = {warm}\n" + WARMED_UP_RUN], cwd=Path(__file__).parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = int(result.stdout.split()[-1])
    if warm:
        assert imported == 0, f"running the first rebuilt network still imported {imported} modules after the warm-up"
    else:   # the control: the imports the warm-up takes off the student's wait are there to take
        assert imported > 100, f"without the warm-up the first run imported only {imported} modules"
