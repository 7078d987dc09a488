"""KL written with variances and a log of their ratio."""


def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    var1, var2 = torch.exp(log_sigma1) ** 2, torch.exp(log_sigma2) ** 2
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mu1 - mu2) ** 2) / var2 - 1)
