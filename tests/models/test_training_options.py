import numpy as np
import pytest

from keras_cvae.models import recommended_steps_per_execution
from tests.helpers import tiny_vae


@pytest.mark.parametrize(
    "image_shape, expected",
    [((8, 8, 1), 16), ((16, 16, 3), 16), ((28, 28, 1), 1), ((64, 1), 16), ((8, 8, 8, 1), 1)],
)
def test_recommended_steps_per_execution(image_shape, expected):
    assert recommended_steps_per_execution(image_shape) == expected


def test_bad_image_shape():
    with pytest.raises(ValueError, match=r"`image_shape`.*Received: image_shape=8"):
        recommended_steps_per_execution(8)


def test_compile_with_it_trains_every_step():
    vae = tiny_vae()
    vae.compile(optimizer="adam", steps_per_execution=recommended_steps_per_execution(vae.image_shape))
    x = np.random.default_rng(0).random((40, 8, 8, 1)).astype("float32")
    vae.fit(x, batch_size=8, epochs=2, verbose=0)
    assert vae.steps_per_execution == 16 and int(vae.optimizer.iterations) == 10
