"""Test loss while training, under BatchNorm's moving averages and under full-dataset statistics.

    python bench/batchnorm_lag.py                                   # digits_basic, seed 1, 16 epochs
    python bench/batchnorm_lag.py --preset digits_basic --learning-rate 2e-3 --epochs 16 --seed 0
    python bench/batchnorm_lag.py --batchnorm-momentum 0.9          # what `keras-cvae train` monitors with

Trains a digits preset's architecture from scratch on the embedded digits as
`keras-cvae train` sets it up (dequantized training images, KL warm-up over
20 epochs, Adam with cosine decay over the preset's epochs, from `N(0, I)`),
and after each of the first `--epochs` epochs prints the training loss and
the test loss twice: with the BatchNorm layers' moving averages (what
Keras's `val_loss` reports) and with statistics of the full training split
(`keras_cvae.recalibrate_batchnorm`, on a copy of the weights). When the
weights change fast, the moving averages lag behind them and the first test
loss spikes while the second falls. `--batchnorm-momentum` replaces the
preset's momentum (Keras's 0.99); the training itself does not depend on it.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits_basic",
                        choices=["digits_basic", "digits_bottleneck", "digits_basic_full"])
    parser.add_argument("--epochs", type=int, default=16, help="Epochs to run (of the preset's).")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Peak learning rate; defaults to the preset's.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batchnorm-momentum", type=float, default=None,
                        help="BatchNorm momentum of the moving averages; defaults to the preset's.")
    args = parser.parse_args()

    import keras

    import keras_cvae
    from keras_cvae.training.trainer import model_config
    from keras_cvae.validation import check_number
    from keras_cvae.zoo.registry import get_preset

    if args.batchnorm_momentum is not None:
        check_number("--batchnorm-momentum", args.batchnorm_momentum, minimum=0, maximum=1)
    training = get_preset(args.preset)["training"]
    learning_rate = training["learning_rate"] if args.learning_rate is None else args.learning_rate
    load = keras_cvae.datasets.load
    batch_size = training["batch_size"]
    train = load("digits", "train", batch_size=batch_size, dequantize=True, shuffle=True,
                 seed=args.seed)
    test = load("digits", "test", batch_size=batch_size, dequantize=True, seed=args.seed)
    steps = int(train.cardinality())

    keras.utils.set_random_seed(args.seed)
    base = keras_cvae.VAE.from_preset(args.preset, load_weights=False)
    overrides = {"kl_warmup_steps": training["warmup_epochs"] * steps}
    vae = keras.saving.deserialize_keras_object(
        model_config(base, overrides, args.seed, batchnorm_momentum=args.batchnorm_momentum))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, training["epochs"] * steps)
    vae.compile(optimizer=keras.optimizers.Adam(schedule))

    momentum = "the preset's" if args.batchnorm_momentum is None else args.batchnorm_momentum
    print(f"{args.preset}, seed {args.seed}, learning rate {learning_rate:g}, BatchNorm momentum "
          f"{momentum}; test loss (nats) with the moving averages / with full-dataset statistics")
    for epoch in range(1, args.epochs + 1):
        train_loss = vae.fit(train, epochs=1, verbose=0).history["loss"][-1]
        moving = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
        weights = vae.get_weights()
        keras_cvae.recalibrate_batchnorm(vae, train)
        recalibrated = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
        vae.set_weights(weights)
        print(f"epoch {epoch:3d}: train {train_loss:8.2f}   test {moving:8.2f} / {recalibrated:8.2f}",
              flush=True)


if __name__ == "__main__":
    main()
