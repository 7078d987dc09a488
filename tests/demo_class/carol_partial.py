"""Carol got the auto-encoder right, stopped in the middle of part 3, and answered one question."""
FILE = "carol_vae.ipynb"
STUDENT = None

CELLS = {
    "p2a_encoder_decoder_solution": solution("p2a_encoder_decoder_solution"),
    "p2c_train_autoencoder_solution": solution("p2c_train_autoencoder_solution"),
    "p2e_sample_prior_solution": solution("p2e_sample_prior_solution"),
    "p3a_kl_divergence_solution": solution("p3a_kl_divergence_solution"),
    "p2f_answer_ae_samples": (
        "The encoder only has to put each training digit somewhere it can decode it from, so the codes "
        "end up in a few scattered clumps. The prior N(0, I) knows nothing about those clumps, so most "
        "samples land between them, where the decoder never learned anything and outputs blurry blobs."
    ),
}
