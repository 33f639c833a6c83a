"""Numbers from the papers that more than one chapter quotes, or that a chapter's claims quote, each stated once
with its table (a claims cell runs on its own, so the numbers its sources quote must live here).

A number that only one chapter's text and tables quote stays in that chapter, beside the experiment it is compared
with.

Used in: chapters 1, 4, 5, 6 and 8.
"""
from __future__ import annotations

__all__ = ["NEGATIVE_SAMPLING_T1_ALL", "NEGATIVE_SAMPLING_T1", "NEGATIVE_SAMPLING_T3", "NEGATIVE_SAMPLING_NOISE",
           "NEGATIVE_SAMPLING_T5", "NEGATIVE_SAMPLING_STEPS", "NEGATIVE_SAMPLING_T2", "PAE_T1", "PAE_T2", "PAE_T2_QUOTED", "ROSCA_APP_E"]

_FM, _M, _L = "fashion-mnist", "mnist", "emnist-letters"
NEGATIVE_SAMPLING_T1_ALL = {
    ("bpd", _FM, _M, "Bernoulli"): ((0.46, 0.05), (1.00, 0.00), (0.70, 0.13)),
    ("bpd", _FM, _M, "Gaussian"): ((0.98, 0.00), (1.00, 0.00), (0.80, 0.04)),
    ("bpd", _FM, _L, "Bernoulli"): ((0.61, 0.01), (0.99, 0.00), (0.78, 0.07)),
    ("bpd", _FM, _L, "Gaussian"): ((0.97, 0.00), (1.00, 0.00), (0.85, 0.04)),
    ("bpd", _M, _FM, "Bernoulli"): ((1.00, 0.00), (1.00, 0.00), (1.00, 0.00)),
    ("bpd", _M, _FM, "Gaussian"): ((0.97, 0.00), (1.00, 0.00), (0.98, 0.01)),
    ("bpd", _M, _L, "Bernoulli"): ((0.99, 0.00), (0.99, 0.00), (0.98, 0.00)),
    ("bpd", _M, _L, "Gaussian"): ((0.78, 0.14), (0.93, 0.08), (0.79, 0.04)),
    ("bpd", _L, _FM, "Bernoulli"): ((0.98, 0.00), (0.98, 0.00), (0.99, 0.00)),
    ("bpd", _L, _FM, "Gaussian"): ((0.80, 0.07), (0.76, 0.08), (0.93, 0.04)),
    ("bpd", _L, _M, "Bernoulli"): ((0.58, 0.02), (0.58, 0.02), (0.73, 0.07)),
    ("bpd", _L, _M, "Gaussian"): ((0.67, 0.17), (0.58, 0.20), (0.65, 0.04)),
    ("kl", _FM, _M, "Bernoulli"): ((0.61, 0.09), (1.00, 0.00), (0.88, 0.07)),
    ("kl", _FM, _M, "Gaussian"): ((0.26, 0.03), (1.00, 0.00), (0.74, 0.05)),
    ("kl", _FM, _L, "Bernoulli"): ((0.68, 0.07), (1.00, 0.00), (0.84, 0.04)),
    ("kl", _FM, _L, "Gaussian"): ((0.38, 0.04), (0.99, 0.00), (0.79, 0.05)),
    ("kl", _M, _FM, "Bernoulli"): ((0.73, 0.14), (1.00, 0.00), (0.94, 0.10)),
    ("kl", _M, _FM, "Gaussian"): ((0.71, 0.04), (1.00, 0.00), (0.98, 0.01)),
    ("kl", _M, _L, "Bernoulli"): ((0.64, 0.03), (0.76, 0.03), (0.89, 0.02)),
    ("kl", _M, _L, "Gaussian"): ((0.54, 0.07), (0.75, 0.08), (0.74, 0.04)),
    ("kl", _L, _FM, "Bernoulli"): ((0.66, 0.14), (0.54, 0.09), (0.98, 0.00)),
    ("kl", _L, _FM, "Gaussian"): ((0.54, 0.10), (0.49, 0.23), (0.91, 0.05)),
    ("kl", _L, _M, "Bernoulli"): ((0.37, 0.05), (0.45, 0.03), (0.75, 0.06)),
    ("kl", _L, _M, "Gaussian"): ((0.36, 0.08), (0.43, 0.10), (0.64, 0.04)),
}
"""The negative-sampling paper's Table 1, whole: for (score, inlier, outlier, likelihood), the AUROC (mean, standard
deviation over 5 runs) of the baseline VAE, of negative sampling with the third dataset as auxiliary negatives, and
with adversarial negatives, in that order. ``"bpd"``: bits/dim; ``"kl"``: KL[q(z|x) ‖ p(z)]. Datasets by
:func:`vaebook.load`'s names. Chapters 1 and 4."""

NEGATIVE_SAMPLING_T1 = {(lik, score): baseline[0] for (score, inlier, outlier, lik), (baseline, _, _)
                        in NEGATIVE_SAMPLING_T1_ALL.items() if (inlier, outlier) == (_FM, _M)}
"""Table 1's baseline VAE for Fashion-MNIST (in) against MNIST, the book's main pair: the mean AUROC by likelihood
and score, ``{("Bernoulli", "bpd"): 0.46, …}``. Chapters 1, 4 and 8."""

NEGATIVE_SAMPLING_T3 = {
    "bpd": {"baseline": (0.46, 0.05), "uniform noise": (0.47, 0.05), "KMNIST": (1.00, 0.00),
            "EMNIST-Letters": (1.00, 0.00), "adversarial": (0.70, 0.13)},
    "kl": {"baseline": (0.61, 0.09), "uniform noise": (0.56, 0.08), "KMNIST": (1.00, 0.00),
           "EMNIST-Letters": (1.00, 0.00), "adversarial": (0.88, 0.07)},
    "test bpd": {"baseline": (0.30, 0.00), "uniform noise": (0.30, 0.00), "KMNIST": (0.30, 0.00),
                 "EMNIST-Letters": (0.30, 0.00), "adversarial": (0.47, 0.09)},
    "ood bpd": {"baseline": (0.35, 0.08), "uniform noise": (0.32, 0.04), "KMNIST": (1.10, 0.09),
                "EMNIST-Letters": (1.44, 0.20), "adversarial": (1018, 1019)}}
"""The negative-sampling paper's Table 3, Fashion-MNIST (in) against MNIST, Bernoulli: by row (AUROC by bits/dim
and by KL, the test bits/dim of the inliers and of the outliers) and source of negatives, (mean, standard
deviation). Chapters 4 and 8."""

NEGATIVE_SAMPLING_NOISE = {"sigma": 0.25, "bpd": (0.44, 0.01), "kl": (0.70, 0.09)}
"""The negative-sampling paper's §4.1: the inliers with additive Gaussian noise of standard deviation ``sigma`` as
negatives, AUROC (mean, standard deviation) by bits/dim and by KL (Fashion-MNIST against MNIST, Bernoulli). Chapter
4."""

NEGATIVE_SAMPLING_T5 = {10: {"bpd": 0.46, "kl": 0.61}, 50: {"bpd": 0.15, "kl": 0.76}, 100: {"bpd": 0.35, "kl": 0.73},
                        250: {"bpd": 0.39, "kl": 0.42}, 500: {"bpd": 0.34, "kl": 0.64}}
"""The negative-sampling paper's Table 5: the baseline Bernoulli VAE's AUROC (Fashion-MNIST in, MNIST out) by latent
dimension, by bits/dim and by KL (means; no spread given beyond D = 10). Chapter 1."""

NEGATIVE_SAMPLING_STEPS = {"epochs": 100, "images": 60_000, "batch_size": 50}
"""The negative-sampling paper's training of its grey-image VAEs (App. A.1): 100 epochs of Fashion-MNIST's 60,000
training images in batches of 50, 120,000 steps. Chapters 1 and 4."""

NEGATIVE_SAMPLING_T2 = {
    ("CIFAR-10", "SVHN", "Bernoulli"): {"baseline": (0.59, 0.29), "adversarial": (0.81, 0.81)},
    ("CIFAR-10", "SVHN", "Gaussian"): {"baseline": (0.25, 0.25), "adversarial": (0.84, 0.84)},
    ("CIFAR-10", "SVHN", "Q. Gaussian"): {"baseline": (0.19, 0.28), "adversarial": (0.82, 0.82)},
    ("SVHN", "CIFAR-10", "Bernoulli"): {"baseline": (0.51, 0.87), "adversarial": (0.70, 0.70)},
    ("SVHN", "CIFAR-10", "Gaussian"): {"baseline": (0.92, 0.74), "adversarial": (0.75, 0.74)}}
"""The negative-sampling paper's Table 2 (means of 5 runs): (AUROC by bits/dim, AUROC by KL) of the baseline VAE
and of the model trained with adversarial negatives, per (inlier, outlier, likelihood). Chapters 1 and 4."""

PAE_T2 = {("latent density", 64): {"MNIST": 0.997, "Omniglot": 0.981, "h-flip": 0.698, "v-flip": 0.891},
          ("reconstruction error", 4): {"MNIST": 0.986, "Omniglot": 0.916, "h-flip": 0.689, "v-flip": 0.880}}
"""The PAE paper's Table 2: AUROC of Fashion-MNIST (in) against each outlier set, by score and latent size K.
Chapters 5 and 8."""

PAE_T1 = {"FID": {"AE": 102.9, "VAE": 102.4, "β-VAE": 56.3, "PAE": 35.4},
          "reconstruction error": {"β-VAE": 0.114, "PAE": 0.077}}
"""The PAE paper's Table 1 at K = 32 (Fashion-MNIST): the samples' FID (Inception features) of the autoencoder
decoding z ~ N(0, I), the VAE, the tuned β-VAE (β = 100, C = 15) and the PAE, and the mean reconstruction error of
test images (over images and pixels). Chapter 5 (its table and its claims)."""

PAE_T2_QUOTED = {"likelihood ratio": {"MNIST": 0.996},
                 "WAIC": {"MNIST": 0.766, "Omniglot": 0.796, "h-flip": 0.624, "v-flip": 0.704}}
"""The other rows of the PAE paper's Table 2, which quote other papers: Ren et al.'s likelihood ratios (MNIST
only) and Choi et al.'s WAIC. Chapter 8, through :data:`vaebook.ood.PUBLISHED`."""

ROSCA_APP_E = {"ColorMNIST": {"marginal KL": 12.3, "ratio estimates": (2.3, 3.3, 3.1)},
               "CelebA": {"marginal KL": 100.3, "ratio estimates": (17.7, 14.8, 18.8, 19.0, 18.0, 18.1)}}
"""Rosca et al.'s App. E, Tables 1–2: the marginal KL of a VAE by Monte Carlo, and its density-ratio estimates by
classifiers of 5,000 units per layer with the other settings of each row, in nats. The rows trained with activation
noise are left out: they overestimate by orders of magnitude (25,812.8 and 720,140.9), which the paper puts down to an
over-confident classifier. Chapter 6 (its claims and its table)."""
