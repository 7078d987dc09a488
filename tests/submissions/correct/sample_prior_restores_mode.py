"""sample_prior that restores the decoder's training mode and draws on the CPU generator."""


def sample_prior(decoder, n, nz, generator=None):
    was_training = decoder.training
    decoder.eval()
    try:
        with torch.no_grad():
            device = next(decoder.parameters()).device
            codes = torch.normal(torch.zeros(n, nz), torch.ones(n, nz), generator=generator)
            return decoder(codes.to(device))
    finally:
        decoder.train(was_training)
