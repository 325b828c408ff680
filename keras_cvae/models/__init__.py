"""The Gaussian VAE: encoder, decoder, priors, model, and what is computed from a trained one."""

from keras_cvae.models.gaussian_decoder import GaussianDecoder
from keras_cvae.models.gaussian_encoder import GaussianEncoder
from keras_cvae.models.gaussian_mixture_prior import GaussianMixturePrior
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from keras_cvae.models.vae import VAE
from keras_cvae.models.batchnorm_recalibration import recalibrate_batchnorm
from keras_cvae.models.density_evaluation import evaluate_density
from keras_cvae.models.prior_fitting import fit_gaussian_mixture
from keras_cvae.models.training_options import recommended_steps_per_execution
