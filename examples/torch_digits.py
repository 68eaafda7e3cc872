"""Coded training of a PyTorch MLP or small CNN on scikit-learn's digits (10 classes, offline data).

8 workers, 2 of them straggling every round (chosen at random, 50 ms late). Uncoded training
waits for them; the cyclic code (s=2) decodes the exact gradient from the first 6 replies. The
CNN takes the flat 64-pixel rows; its first layer (nn.Unflatten) makes them 1x8x8 images.

    python examples/torch_digits.py --model mlp [--rounds 150] [--delay 0.05]
    python examples/torch_digits.py --model cnn [--rounds 100]
"""

from __future__ import annotations

import argparse

import numpy as np

import gradcode as gc
from gradcode.data.bundled import digits
from gradcode.data.datasets import standardize_features, train_test_indices
from gradcode.delays import RandomStragglers
from gradcode.models.torch import CNN, MLP, TorchModel
from gradcode.optim_torch import TorchAdam

N, S = 8, 2
NETWORKS = {
    "mlp": lambda: MLP(hidden=(64,), outputs=10),
    "cnn": lambda: CNN(channels=(8, 16), outputs=10),
}


def load(network: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits 0..9, 80/20 split; standardized for the MLP, pixels scaled to [0, 1] for the CNN."""
    X, y = digits()
    train, test = train_test_indices(y.size, 0.2, seed)
    if network == "cnn":
        return X[train] / 16, y[train], X[test] / 16, y[test]
    X_train, X_test = standardize_features(X[train], X[test])
    return X_train, y[train], X_test, y[test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(NETWORKS), default="mlp")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--delay", type=float, default=0.05, help="stragglers' extra seconds")
    args = parser.parse_args()
    X, y, X_test, y_test = load(args.model)
    model = TorchModel(NETWORKS[args.model](), criterion="cross-entropy", l2=1e-4)
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
