"""Numbers from the papers that more than one chapter quotes, each stated once with its table.

A number that only one chapter quotes stays in that chapter, beside the experiment it is compared with.

Used in: chapters 1, 4, 5 and 8.
"""
from __future__ import annotations

__all__ = ["NEGATIVE_SAMPLING_T1", "NEGATIVE_SAMPLING_T2", "PAE_T2", "PAE_T2_QUOTED"]

NEGATIVE_SAMPLING_T1 = {("Bernoulli", "bpd"): 0.46, ("Gaussian", "bpd"): 0.98, ("Bernoulli", "kl"): 0.61,
                        ("Gaussian", "kl"): 0.26}
"""The negative-sampling paper's Table 1, baseline VAE: AUROC of Fashion-MNIST (in) against MNIST, by likelihood
and score (``"bpd"``: bits/dim, ``"kl"``: KL[q(z|x) ‖ p(z)]). Chapters 1 and 8."""

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

PAE_T2_QUOTED = {"likelihood ratio": {"MNIST": 0.996},
                 "WAIC": {"MNIST": 0.766, "Omniglot": 0.796, "h-flip": 0.624, "v-flip": 0.704}}
"""The other rows of the PAE paper's Table 2, which quote other papers: Ren et al.'s likelihood ratios (MNIST
only) and Choi et al.'s WAIC. Chapter 8, through :data:`vaebook.ood.PUBLISHED`."""
