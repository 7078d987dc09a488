"""sample_prior draws codes from U(0, 1) instead of N(0, I).

loses: p2e_sample_prior
"""


@torch.no_grad()
def sample_prior(decoder, n, nz, generator=None):
    decoder.eval()
    return decoder(torch.rand(n, nz, generator=generator))
