"""The names and signatures that the hidden checks and outside test suites call."""
from __future__ import annotations

import ast

import pytest

FUNCTIONS = {
    "train_autoencoder": ["model", "loader", "epochs", "lr", "device"],
    "sample_prior": ["decoder", "n", "nz", "generator"],
    "kl_divergence": ["mu1", "log_sigma1", "mu2", "log_sigma2"],
    "train_vae": ["model", "loader", "epochs", "lr", "device"],
    "interpolate": ["model", "x_start", "x_end", "steps"],
}
CLASSES = {
    "Encoder": {"__init__": ["self", "nz"], "forward": ["self", "x"]},
    "Decoder": {"__init__": ["self", "nz"], "forward": ["self", "z"]},
    "AutoEncoder": {"__init__": ["self", "nz"], "forward": ["self", "x"], "reconstruct": ["self", "x"]},
    "VAE": {"__init__": ["self", "nz", "beta"], "reparameterize": ["self", "mu", "log_sigma"],
            "forward": ["self", "x"], "loss": ["self", "x", "outputs"], "reconstruct": ["self", "x"],
            "sample": ["self", "n", "generator"]},
}


def definitions(nb) -> ast.Module:
    return ast.parse("\n".join(c.source for c in nb.cells if c.cell_type == "code"))


def arg_names(node: ast.FunctionDef) -> list[str]:
    return [a.arg for a in node.args.args]


@pytest.mark.parametrize("which", ["source", "release"])
def test_notebook_defines_the_promised_api(which, source_nb, release_nb):
    tree = definitions(source_nb if which == "source" else release_nb)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name, args in FUNCTIONS.items():
        assert name in functions and arg_names(functions[name]) == args, f"{name}({', '.join(args)}) in the {which}"
    for name, methods in CLASSES.items():
        assert name in classes, f"class {name} in the {which}"
        defined = {n.name: n for n in classes[name].body if isinstance(n, ast.FunctionDef)}
        for method, args in methods.items():
            assert method in defined and arg_names(defined[method]) == args, f"{name}.{method}({', '.join(args)})"


def test_source_sets_best_beta_to_a_float(source_nb):
    assigned = [n for n in ast.walk(definitions(source_nb)) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "best_beta" for t in n.targets)]
    assert assigned and isinstance(assigned[-1].value, ast.Constant) and isinstance(assigned[-1].value.value, float)
