"""`VAE.fit`'s progress bar counts batches and ends at its total with several steps per execution."""

import re

import keras

from tests.helpers import digits
from tests.helpers import tiny_vae


def _plain(output):
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def _bar_counts(output):
    return [(int(seen), int(total)) for seen, total in re.findall(r"(\d+)/(\d+) ", output)]


def test_the_bar_never_runs_past_the_epoch(capsys):
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=16)
    vae.fit(digits("train")[:1400], batch_size=64, epochs=1, verbose=1)  # 22 batches
    output = _plain(capsys.readouterr().out)
    counts = _bar_counts(output)
    assert counts and all(seen <= total == 22 for seen, total in counts), counts
    assert counts[-1] == (22, 22)
    assert not re.search(r"\s-\d+(ms|s)\b", output), output  # no negative ETA


def test_silent_fit_prints_nothing(capsys):
    vae = tiny_vae()
    vae.compile(optimizer="adam", steps_per_execution=4)
    vae.fit(digits("train")[:256], batch_size=64, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
