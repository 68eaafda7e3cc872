"""Coded training of a small PyTorch CNN on scikit-learn's digits (10 classes, offline data).

Rows are flat 64-pixel vectors; the CNN's first layer (nn.Unflatten) makes them 1x8x8 images.
8 workers, 2 of them straggling every round (chosen at random, 50 ms late). Uncoded training
waits for them; the cyclic code (s=2) decodes the exact gradient from the first 6 replies:

    python examples/torch_cnn_digits.py [--rounds 100] [--delay 0.05]
"""

from __future__ import annotations

import argparse

import numpy as np

import gradcode as gc
from gradcode.data.bundled import digits
from gradcode.data.datasets import train_test_indices
from gradcode.delays import RandomStragglers
from gradcode.models.torch import CNN, TorchModel
from gradcode.optim_torch import TorchAdam

N, S = 8, 2


def load(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits 0..9, 80/20 split, pixels scaled to [0, 1]."""
    X, y = digits()
    train, test = train_test_indices(y.size, 0.2, seed)
    return X[train] / 16, y[train], X[test] / 16, y[test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.05, help="stragglers' extra seconds")
    args = parser.parse_args()
    X, y, X_test, y_test = load()
    model = TorchModel(CNN(channels=(8, 16), outputs=10), criterion="cross-entropy", l2=1e-4)
    stragglers = RandomStragglers(count=S, delay=args.delay, seed=0)
    print(f"{model}: {model.init(X.shape[1]).size} parameters, n={N} workers, {S} stragglers")
    for scheme, s in (("naive", 0), ("cyclic", S)):
        result = gc.train(
            scheme,
            X,
            y,
            n=N,
            s=s,
            model=model,
            optimizer=TorchAdam(lr=0.01),
            rounds=args.rounds,
            delay=stragglers,
            eval_every=0,
        )
        wall = result.wall_s
        acc = model.accuracy(result.theta, X_test, y_test)
        print(
            f"{scheme:>7} (s={s}): {wall.sum():5.2f} s, {1e3 * wall.mean():5.1f} ms/round, "
            f"test accuracy {acc:.3f}"
        )


if __name__ == "__main__":
    main()
