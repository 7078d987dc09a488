"""Erin did everything right, and downloaded her notebook from Colab without renaming it."""
FILE = "Copy of vae.ipynb"
STUDENT = "erin"

CELLS = {grade_id: solution(grade_id) for grade_id in (
    "p2a_encoder_decoder_solution", "p2c_train_autoencoder_solution", "p2e_sample_prior_solution",
    "p3a_kl_divergence_solution", "p3a_vae_solution", "p3b_train_vae_solution", "p3d_tuning_solution",
    "p4_interpolate_solution")}
CELLS["p4_answer_interpolation"] = (
    "The auto-encoder's path passes through blurry images that are not digits, because the straight line "
    "between two codes leaves the region where codes of real digits lie. The VAE's path morphs smoothly, "
    "since its KL term packs the codes into the prior's ball, where every point decodes to a digit."
)
