"""vaebook: the small PyTorch library behind the book *Where variational autoencoders fail*.

Import it as ``import vaebook as vb``, before ``torch``; the names below are the public API.
"""
from . import runtime

runtime.prepare()  # OpenMP settings must be in place before torch loads (see vaebook.runtime)

from . import (aae, aggregate, baselines, cache, claims, data, flows, frechet, likelihoods, metrics, negative,
               optimal_decoder, pae, papers, plot, ratio, scorecard, scores, settings, tables, widgets)
from .claims import Claim, Ours, Paper
from .data import DataError, ImageSet, load, load_optional, to_tensor
from .distributions import (GaussianMixture, GeneralizedGaussianMixture, GeneralizedNormal, PixelCategorical,
                            QuantizedNormal, ShiftedNormal, StandardNormal, two_mode_means)
from .flows import (ActNorm, AffineCoupling, ChannelMix, ConvCoupling, Flow, FlowDistribution, ImageFlow, Permutation,
                    Reverse, dequantize, realnvp)
from .likelihoods import Bernoulli, Categorical256, DiscretizedGaussian, Gaussian
from .metrics import auroc, batched, logsumexp_chunked
from .nets import (MLP, ConvDecoder, ConvEncoder, ConvNets, DCGANDecoder, DCGANEncoder, DCGANNets, KamoiColourDecoder,
                   KamoiColourNets, KamoiDecoder, KamoiNets,
                   MLPDecoder, MLPEncoder, MLPNets)
from .profiles import (ParameterError, batches_cap, current_profile, device, epochs_cap, param, pick, profile_value,
                       progress, run_parameters, seed_everything, set_profile, steps_cap)
from .results import ResultsError, glue, glue_parameters, read_record, read_results, record
from .settings import Settings
from .scores import KL, BitsPerDim, NegativeLogLikelihood, PAEScores, Score, ood_scores
from .tables import reproduction_table, row
from .train import FitConfig, fit, train_or_load
from .vae import VAE, Decoder, Encoder, FlowEncoder, bits_per_dim, kl

runtime.flush_denormals()  # arithmetic on denormal floats is many times slower on x86 (see vaebook.runtime)

__version__ = "0.1.0"
