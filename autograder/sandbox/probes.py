"""Probes: trusted code that runs inside the sandbox, next to the student's code.

Each probe calls the student's functions on the inputs the grader chose and returns plain
data (tensors, numbers, strings, lists of them). It decides nothing: the checks in
autograder/checks/ compare that data with expectations in the grading process.

This file is shipped to the child as source text, after sandbox/networks.py (probe_source());
it may import only torch and the standard library, and gets the student's namespace as a dict.
"""

import torch
import torch.nn as nn


def architecture(student, inputs):
    """Encoder(nz) and Decoder(nz) of each nz as plain data (graph_export.py); the grader rebuilds and runs them.

    A network that would not fit in this result beside the others is left for a probe of its own
    ({"deferred": True}): inputs["networks"] says which of "encoder" and "decoder" to export.
    """
    out, total, values = {}, 0, 0
    for nz in inputs["nzs"]:
        for key in inputs.get("networks", ("encoder", "decoder")):
            name, example = ("Encoder", inputs["images"]) if key == "encoder" else ("Decoder", inputs["codes"][:, :nz])
            description = export_built(student, name, nz, {"forward": ("", example)})
            size, count = export_elements(description), export_values(description)
            if out and (total + size > EXPORT_MAX_ELEMENTS or values + count > EXPORT_MAX_VALUES):
                description = {"deferred": True}
            else:
                total, values = total + size, values + count
                description = export_bounded({key: description})[key]
            out[f"{key}_{nz}"] = description
    return out


def autoencoder_forward(student, inputs):
    """AutoEncoder(nz) as plain data, with traces of its forward and of its encoder; the grader runs them."""
    graphs = {"forward": ("", inputs["images"]), "encoder": ("encoder", inputs["images"])}
    return export_bounded({"autoencoder": export_built(student, "AutoEncoder", inputs["nz"], graphs)})


def _loader(images, batch_size):
    dataset = torch.utils.data.TensorDataset(images, torch.zeros(len(images), dtype=torch.long))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)


def _weights(module):
    """A module's state_dict as plain tensors: what the grader loads into its own copy of the network."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def train_autoencoder(student, inputs):
    """The student's loop trains an AutoEncoder built on the reference networks; the trained weights go back.

    The grader builds the same networks from the same seed, so it knows the initial weights, and
    measures the loss before and after training itself from the returned weights.
    """
    student["Encoder"], student["Decoder"] = ReferenceEncoder, ReferenceDecoder
    torch.manual_seed(inputs["seed"])
    model = student["AutoEncoder"](inputs["nz"])
    losses = student["train_autoencoder"](model, _loader(inputs["images"], inputs["batch_size"]),
                                          inputs["epochs"], inputs["lr"], torch.device("cpu"))
    return {
        "type": type(losses).__name__,
        "item_types": sorted({type(v).__name__ for v in losses}) if isinstance(losses, list) else [],
        "losses": torch.tensor([float(v) for v in losses]) if isinstance(losses, list) else torch.zeros(0),
        "encoder": _weights(model.encoder),
        "decoder": _weights(model.decoder),
    }


def sample_prior(student, inputs):
    """The student's sample_prior on a decoder the grader can invert (networks._InvertibleDecoder), and on its Decoder."""
    sample = student["sample_prior"]
    decoder = _InvertibleDecoder(inputs["basis"], inputs["scale"], inputs["shift"])
    nz = inputs["basis"].shape[1]
    a = sample(decoder, inputs["n"], nz, generator=torch.Generator().manual_seed(inputs["seed"]))
    b = sample(decoder, inputs["n"], nz, generator=torch.Generator().manual_seed(inputs["seed"]))
    c = sample(decoder, inputs["n"], nz, generator=torch.Generator().manual_seed(inputs["seed"] + 1))
    real = sample(student["Decoder"](inputs["nz"]), 5, inputs["nz"])
    return {"a": a.detach(), "b": b.detach(), "c": c.detach(), "requires_grad": a.requires_grad,
            "real_shape": list(real.shape)}


def kl(student, inputs):
    f = student["kl_divergence"]
    out = {}
    for name, (mu1, ls1, mu2, ls2) in inputs["cases"].items():
        value = f(mu1, ls1, mu2, ls2)
        out[name] = value.detach() if torch.is_tensor(value) else torch.tensor(float("nan"))
    mu1 = inputs["cases"]["random"][0].clone().requires_grad_(True)
    value = f(mu1, *inputs["cases"]["random"][1:])
    value.sum().backward()
    out["grad_mu1"] = mu1.grad if mu1.grad is not None else torch.zeros(0)
    return out


def reparameterize(student, inputs):
    torch.manual_seed(inputs["seed"])
    vae = student["VAE"](4)
    out = {}
    for name, (mu, log_sigma) in inputs["cases"].items():
        out[name] = vae.reparameterize(mu, log_sigma).detach()
    mu = torch.zeros(6, 3, requires_grad=True)
    log_sigma = torch.zeros(6, 3, requires_grad=True)
    z = vae.reparameterize(mu, log_sigma)
    z.sum().backward()
    out["grad_mu"] = mu.grad if mu.grad is not None else torch.zeros(0)
    out["grad_log_sigma"] = log_sigma.grad if log_sigma.grad is not None else torch.zeros(0)
    out["z_for_grad"] = z.detach()
    out["same_rows"] = vae.reparameterize(torch.zeros(8, 5), torch.zeros(8, 5)).detach()
    return out


def vae_loss(student, inputs):
    out = {}
    images = inputs["images"]
    for nz in (8, 16):
        torch.manual_seed(inputs["seed"])
        vae = student["VAE"](nz, beta=1.0)
        outputs = vae(images)
        out[f"keys_{nz}"] = sorted(outputs) if isinstance(outputs, dict) else []
        out[f"q_{nz}"] = outputs["q"].detach()
        out[f"rec_{nz}"] = outputs["rec"].detach()
        for beta in (0.0, 0.5, 3.0):
            vae.beta = beta
            total, parts = vae.loss(images, outputs)
            out[f"total_{nz}_{beta}"] = total.detach()
            out[f"rec_loss_{nz}_{beta}"] = parts["rec_loss"].detach()
            out[f"kl_loss_{nz}_{beta}"] = parts["kl_loss"].detach()
        out[f"total_requires_grad_{nz}"] = total.requires_grad
    vae = student["VAE"](8, beta=2.0)
    with torch.no_grad():
        for p in vae.parameters():
            p.zero_()
    total, parts = vae.loss(images, vae(images))
    out["zero_rec_loss"], out["zero_kl_loss"], out["zero_total"] = parts["rec_loss"].detach(), parts["kl_loss"].detach(), total.detach()
    vae = student["VAE"](8)
    out["reconstruct_a"] = vae.reconstruct(images).detach()
    out["reconstruct_b"] = vae.reconstruct(images).detach()
    return out


def train_vae(student, inputs):
    """The student's loop trains the reference VAE (networks.ReferenceVAE: the loop alone is judged here);
    the history and the trained weights go back."""
    torch.manual_seed(inputs["seed"])
    model = ReferenceVAE(inputs["nz"], beta=inputs["beta"])
    history = student["train_vae"](model, _loader(inputs["images"], inputs["batch_size"]),
                                   inputs["epochs"], inputs["lr"], torch.device("cpu"))
    out = {"type": type(history).__name__, "keys": sorted(history) if isinstance(history, dict) else [],
           "encoder": _weights(model.encoder), "decoder": _weights(model.decoder)}
    if isinstance(history, dict):
        for key, values in history.items():
            if isinstance(values, list):
                out[f"item_types_{key}"] = sorted({type(v).__name__ for v in values})
                out[f"values_{key}"] = torch.tensor([float(v) for v in values])
    return out


def vae_regime(student, inputs):
    """Train the student's VAE (its reparameterisation, KL and loss) in a fixed loop; return the trained weights.

    The student's VAE is built on the grader's fixed encoder and decoder (inputs["network"], a
    key of networks.REGIME_NETWORKS: the reference networks or the light ones): the beta regimes
    are a property of the objective, the thresholds were calibrated on those architectures, and a
    slower-learning but correct architecture (graded in 2a) must not fail them. The grader
    loads the weights into its own copy of those networks and measures them on held-out images.
    """
    student["Encoder"], student["Decoder"] = REGIME_NETWORKS[inputs["network"]]
    torch.manual_seed(inputs["seed"])
    model = student["VAE"](inputs["nz"], beta=inputs["beta"])
    optimizer = torch.optim.Adam(model.parameters(), lr=inputs["lr"])
    images, generator, step = inputs["images"], torch.Generator().manual_seed(inputs["seed"]), 0
    model.train()
    while step < inputs["iterations"]:
        for batch in torch.randperm(len(images), generator=generator).split(inputs["batch_size"]):
            x = images[batch]
            total, _ = model.loss(x, model(x))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            step += 1
            if step == inputs["iterations"]:
                break
    return {"encoder": _weights(model.encoder), "decoder": _weights(model.decoder)}


def interpolation(student, inputs):
    """The student's interpolate on a real AutoEncoder and VAE whose networks are the grader's fixed ones.

    An untrained network decodes almost linearly, so a path blended in pixel space would pass
    for a path in latent space; these networks (networks._CodeEncoder, _CurvedDecoder, with the
    grader's weights) tell them apart, and isolate interpolate from the student's architecture.
    Only the paths go back: the grader decodes the expected path itself.
    """
    out = {}
    nz = inputs["nz"]
    for kind, code_size in (("AutoEncoder", nz), ("VAE", 2 * nz)):
        model = student[kind](nz)
        model.encoder, model.decoder = _CodeEncoder(code_size), _CurvedDecoder(nz)
        model.encoder.load_state_dict(inputs["networks"][kind]["encoder"])
        model.decoder.load_state_dict(inputs["networks"][kind]["decoder"])
        model.eval()
        path = student["interpolate"](model, inputs["start"], inputs["end"], inputs["steps"])
        out[f"path_{kind}"] = path.detach()
    return out


def best_beta(student, inputs):
    """best_beta, and the grid of the search (BETA_CANDIDATES) as numbers, when it is a list of them."""
    value = student.get("best_beta")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    grid = _real_numbers(student.get("BETA_CANDIDATES"))
    return {"defined": "best_beta" in student, "is_number": is_number,
            "value": float(value) if is_number else float("nan"), "type": type(value).__name__,
            "grid_defined": "BETA_CANDIDATES" in student, "grid_is_numbers": grid is not None,
            "grid": torch.tensor(grid if grid else [], dtype=torch.float64)}


def _real_numbers(values):
    """`values` as a list of floats when it is a collection of real numbers however written (a list, a tuple, a
    range, dict keys, a numpy array or a tensor, numpy scalars), else None."""
    import numbers
    if isinstance(values, (str, bytes)) or values is None:
        return None
    try:
        items = values.tolist() if hasattr(values, "tolist") else list(values)
        if not isinstance(items, list) or len(items) > 1000:
            return None
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items):
            return None
        return [float(v) for v in items]
    except Exception:
        return None
