"""A forger: the submission replaces the grader's probes as they are loaded, so that every probe
returns favourable data without calling anything (the claims the old checks trusted: the
loop's own list of unchanged parameters, falling losses, the expected path next to the path,
posteriors, reconstructions and samples measured by the probe), plus degenerate values (all-zero
losses and histories, NaN rows, zero gradients).

The probe runs after the submission's code in the same interpreter, and the child loads it
with exec(): rebinding builtins.exec at import lets the submission rewrite the probe's namespace.
Appended to the reference solution; tests/test_checks_recompute.py grades it: every check fails
but those its data pass as a working implementation's would (samples of the right law, shapes).
"""
import builtins

_real_exec = builtins.exec


def _forged_train_autoencoder(student, inputs):
    losses = torch.linspace(180.0, 40.0, inputs["epochs"] * len(inputs["images"]) // inputs["batch_size"])
    return {"type": "list", "item_types": ["float"], "losses": losses, "first_batch_sse": 180.0, "unchanged_params": []}


def _forged_train_vae(student, inputs):
    n = inputs["epochs"] * len(inputs["images"]) // inputs["batch_size"]
    out = {"type": "dict", "keys": ["kl_loss", "loss", "rec_loss"], "unchanged_params": []}
    for key in ("loss", "rec_loss", "kl_loss"):
        out[f"item_types_{key}"], out[f"values_{key}"] = ["float"], torch.zeros(n)
    return out


def _forged_sample_prior(student, inputs):
    # The old probe's decoder showed its codes as images: perfect N(0, I) "codes" that nothing decoded.
    draw = lambda seed: torch.randn(inputs["n"], 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    return {"a": draw(inputs["seed"]), "b": draw(inputs["seed"]), "c": draw(inputs["seed"] + 1),
            "requires_grad": False, "real_shape": [5, 1, 28, 28]}


def _forged_interpolation(student, inputs):
    path = torch.zeros(inputs["steps"], 1, 28, 28)
    return {"path_AutoEncoder": path, "expected_AutoEncoder": path, "path_VAE": path, "expected_VAE": path}


def _forged_vae_regime(student, inputs):
    # All-zero outputs: a posterior exactly at the prior, black reconstructions and samples.
    nz = inputs["nz"]
    return {"q": torch.zeros(256, 2 * nz), "rec": torch.zeros(256, 1, 28, 28), "samples": torch.zeros(64, 1, 28, 28), "nz": nz}


def _forged_vae_loss(student, inputs):
    # A constant zero loss, "reconstructions" equal to the images, q exactly the prior's.
    images, zero = inputs["images"], torch.tensor(0.0)
    out = {"zero_rec_loss": zero, "zero_kl_loss": zero, "zero_total": zero,
           "reconstruct_a": torch.zeros(16, 1, 28, 28), "reconstruct_b": torch.zeros(16, 1, 28, 28)}
    for nz in (8, 16):
        out[f"keys_{nz}"], out[f"q_{nz}"], out[f"rec_{nz}"] = ["q", "rec"], torch.zeros(16, 2 * nz), images.clone()
        out[f"total_requires_grad_{nz}"] = True
        for beta in (0.0, 0.5, 3.0):
            out[f"total_{nz}_{beta}"], out[f"rec_loss_{nz}_{beta}"], out[f"kl_loss_{nz}_{beta}"] = zero, zero, zero
    return out


def _forged_reparameterize(student, inputs):
    # Samples of the right law, but NaN rows and zero noise where the checks look at single draws.
    out = {name: mu + log_sigma.exp() * torch.randn(mu.shape) for name, (mu, log_sigma) in inputs["cases"].items()}
    out.update({"grad_mu": torch.ones(6, 3), "grad_log_sigma": torch.zeros(6, 3), "z_for_grad": torch.zeros(6, 3),
                "same_rows": torch.full((8, 5), float("nan"))})
    return out


_FORGED = {"train_autoencoder": _forged_train_autoencoder, "train_vae": _forged_train_vae,
           "sample_prior": _forged_sample_prior, "interpolation": _forged_interpolation,
           "vae_regime": _forged_vae_regime, "vae_loss": _forged_vae_loss, "reparameterize": _forged_reparameterize}


def _forging_exec(source, globals=None, locals=None):
    _real_exec(source, globals, locals)
    if isinstance(globals, dict) and globals.get("__name__") == "probe":
        globals.update(_FORGED)


builtins.exec = _forging_exec
