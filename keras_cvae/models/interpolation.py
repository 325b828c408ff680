"""Latent interpolation: decoder means along a path between two images' posterior means."""

import numpy as np
from keras import ops

from keras_cvae.utils.image_validation import validate_images
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_int
from keras_cvae.validation import invalid

PATHS = ("linear", "spherical")


def interpolation_codes(z_a, z_b, num_steps, path="linear"):
    """`num_steps` codes from `z_a` to `z_b` (both included), per pair.

    At `t = i / (num_steps − 1)`:

    - `"linear"`: `(1 − t) z_a + t z_b`, the straight line.
    - `"spherical"`: the direction moves along the great circle from
      `z_a / ‖z_a‖` to `z_b / ‖z_b‖` (slerp, Shoemake 1985), and the norm
      goes linearly from `‖z_a‖` to `‖z_b‖`. Under `N(0, I)` in `Z`
      dimensions the mass sits near the sphere of radius `√Z`; a straight
      line between two codes there passes closer to the origin, where
      codes are rarer (White 2016), while this path keeps the norm. For
      (nearly) parallel or opposite directions, where the great circle is
      not defined, the direction is interpolated linearly.

    The first and last codes are `z_a` and `z_b` exactly.

    Args:
        z_a: `(B, Z)` codes, the start of each path.
        z_b: `(B, Z)` codes, the end of each path.
        num_steps: int >= 2. Codes per path.
        path: `"linear"` or `"spherical"`. Defaults to `"linear"`.

    Returns:
        `(B, num_steps, Z)` float32 tensor.

    Example:

    >>> from keras_cvae.models.interpolation import interpolation_codes
    >>> z_a, z_b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    >>> np.asarray(interpolation_codes(z_a, z_b, 3)).round(3).astype(float).tolist()
    [[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]]
    >>> codes = interpolation_codes(z_a, z_b, 3, path="spherical")
    >>> np.asarray(codes, "float64").round(3).tolist()
    [[[1.0, 0.0], [0.707, 0.707], [0.0, 1.0]]]
    """
    num_steps = check_int("num_steps", num_steps, minimum=2)
    path = check_choice("path", path, PATHS)
    z_a = ops.cast(ops.convert_to_tensor(z_a), "float32")
    z_b = ops.cast(ops.convert_to_tensor(z_b), "float32")
    if len(z_a.shape) != 2 or tuple(z_a.shape) != tuple(z_b.shape):
        raise invalid("z_b", f"codes of the shape of `z_a`, {tuple(z_a.shape)}, (B, Z)",
                      received=f"codes of shape {tuple(z_b.shape)}")
    t = ops.reshape(ops.linspace(0.0, 1.0, num_steps), (1, num_steps, 1))
    a, b = z_a[:, None, :], z_b[:, None, :]
    if path == "linear":
        inner = (1.0 - t) * a + t * b
    else:
        inner = _spherical(a, b, t)
    # Exact endpoints, whatever the rounding of the path's formula.
    return ops.concatenate([a, inner[:, 1:-1], b], axis=1)


def interpolate(vae, images_a, images_b, num_steps, path="linear"):
    """Decoder means along a latent path between the posterior means of two images, per pair.

    Encodes `images_a` and `images_b` to their posterior means `f(x)`, lays
    `num_steps` codes on the path between each pair (`interpolation_codes`)
    and decodes them: the first image of each row is `g(f(a))`, the last
    `g(f(b))` (the reconstructions, not the inputs).

    Args:
        vae: `keras_cvae.VAE`.
        images_a: `(B, *image_shape)` images in [0, 1], the start of each path.
        images_b: `(B, *image_shape)` images, the end of each path.
        num_steps: int >= 2. Images per path, the ends included.
        path: `"linear"` (a straight line in latent space) or `"spherical"`
            (along the sphere, keeping the codes where the prior's mass is).
            Defaults to `"linear"`.

    Returns:
        `(B, num_steps, *image_shape)` tensor of decoder means `g(z)`.

    Example:

    >>> from keras_cvae.models.interpolation import interpolate
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> images = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    >>> interpolate(vae, images[:2], images[2:], num_steps=5, path="spherical").shape
    TensorShape([2, 5, 8, 8, 1])
    """
    num_steps = check_int("num_steps", num_steps, minimum=2)
    path = check_choice("path", path, PATHS)
    image_shape = tuple(vae.image_shape)
    images_a = np.asarray(validate_images(images_a, image_shape, name="images_a"), "float32")
    images_b = np.asarray(validate_images(images_b, image_shape, name="images_b"), "float32")
    if images_b.shape != images_a.shape:
        raise invalid("images_b", f"images of the shape of `images_a`, {images_a.shape}",
                      received=f"array of shape {images_b.shape}")
    batch = len(images_a)
    z_mean, _ = vae.encode(np.concatenate([images_a, images_b]))
    codes = interpolation_codes(z_mean[:batch], z_mean[batch:], num_steps, path)
    x_mean, _ = vae.decode(ops.reshape(codes, (batch * num_steps, vae.latent_dim)))
    return ops.reshape(x_mean, (batch, num_steps, *image_shape))


def _spherical(a, b, t):
    """Slerp of the directions of `a` and `b` `(B, 1, Z)` at `t` `(1, T, 1)`, norms linear."""
    norm_a = ops.norm(a, axis=-1, keepdims=True)
    norm_b = ops.norm(b, axis=-1, keepdims=True)
    tiny = 1e-12
    u_a, u_b = a / ops.maximum(norm_a, tiny), b / ops.maximum(norm_b, tiny)
    cos = ops.clip(ops.sum(u_a * u_b, axis=-1, keepdims=True), -1.0, 1.0)
    omega = ops.arccos(cos)
    sin = ops.sin(omega)
    great_circle = sin > 1e-4
    safe_sin = ops.where(great_circle, sin, 1.0)
    slerp = (ops.sin((1.0 - t) * omega) * u_a + ops.sin(t * omega) * u_b) / safe_sin
    line = (1.0 - t) * u_a + t * u_b
    line = line / ops.maximum(ops.norm(line, axis=-1, keepdims=True), tiny)
    direction = ops.where(great_circle, slerp, line)
    return ((1.0 - t) * norm_a + t * norm_b) * direction
