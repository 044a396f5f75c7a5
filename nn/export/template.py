"""The exported script, top to bottom: settings, data, network, optimizer, loop, test.

A line ending in ``#?flag`` is kept only when the run uses ``flag`` (``#?!flag``: only when it does
not; several tags: all must hold). A line that is only ``$piece`` becomes that piece (from the
textbook, nn/export/textbook.py), indented like the line, or nothing; ``$name`` elsewhere is a name
or an expression. The arithmetic is the textbook's, operation for operation (to_float is
nn/data/split.py's, augment is nn/augment.py's), so tests/test_export.py can ask for the same numbers.
"""

from __future__ import annotations

import re
from string import Template

SCRIPT = '''#!/usr/bin/env python3
"""$title, trained again from scratch with NumPy alone, then tested.

Usage: python this_script.py --data MNIST_DIR [--save weights.npz] [--compare the_apps_run.npz]
$about
"""

import argparse
import gzip
import math
from pathlib import Path

import numpy as np

# ----- this run's settings
$settings

# ----- the data: MNIST's IDX files, pixels scaled to [0, 1] as the app does
def read_idx(folder: Path, name: str) -> np.ndarray:  # IDX: 0, 0, 8 (uint8), ndim, the sizes, the bytes
    path = next(folder.glob(f"{name}*"), folder / name)  # NAME or NAME.gz
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read(48_000_000)  # at most: the largest MNIST file holds 47 MB
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(np.frombuffer(raw, ">u4", raw[3], 4))

def to_float(images: np.ndarray) -> np.ndarray:
    return images.reshape(-1, 784) * np.float32(1 / 255)  #?!float64
    return (images.reshape(-1, 784) * np.float32(1 / 255)).astype(DTYPE)  #?float64

# ----- the network: activation, loss, initial weights, forward and backward pass (nn/model.py)
$activations

$losses

def init_weight(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    $init
    return w.astype(DTYPE, copy=False)

def forward(weights, biases, X, rng=None):  #?dropout
    \"\"\"Logits Z_L (n, 10) for images X (n, 784), and what backward needs; dropout with rng.\"\"\"  #?dropout
    H, inputs, acts, masks = X, [X], [], []  #?dropout
def forward(weights, biases, X):  #?!dropout
    \"\"\"Logits Z_L (n, 10) for images X (n, 784), and each layer's input H for backward.\"\"\"  #?!dropout
    H, inputs = X, [X]  #?!dropout
    for l in range(len(weights) - 1):  #?hidden
        Z = H @ weights[l] + biases[l]  # Z_l = H_{l-1} W_l + b_l  #?hidden
        H = $f(Z, np.empty_like(Z))  # H_l = A_l = f(Z_l)  #?hidden  #?!dropout
        A = $f(Z, np.empty_like(Z))  # A_l = f(Z_l)  #?dropout
        M = 1.0  # M_l: the dropout mask, 0 or 1/keep per unit while training  #?dropout
        if rng is not None$partial:  #?dropout
            M = (rng.random(A.shape, dtype=DTYPE) < KEEP[l]).astype(DTYPE) * (1.0 / KEEP[l])  #?dropout
        H = A * M  # H_l = A_l * M_l  #?dropout
        acts.append(A)  #?dropout
        masks.append(M)  #?dropout
        inputs.append(H)  #?hidden
    return H @ weights[-1] + biases[-1], ($cache_tuple)  # Z_L, the logits

def backward(weights, dZ, $cache_args):
    \"\"\"Gradients [dW_1, db_1, ..., dW_L, db_L] from dZ = dL/dZ_L, by the chain rule from the top down.\"\"\"
    grads = []
    for l in reversed(range(len(weights))):
        grads = [inputs[l].T @ dZ, dZ.sum(axis=0)] + grads  # dW_l = H_{l-1}^T dZ_l, db_l = sum_i dZ_l[i]
        if l > 0:  # dZ_{l-1} = dZ_l W_l^T$mask_math * f'(Z_{l-1})  #?hidden
            dZ = dZ @ weights[l].T$mask * $df($a, np.empty_like($a))  #?hidden
    return grads

def evaluate(weights, biases, images, labels):  # mean loss and accuracy, no dropout
    logits = forward(weights, biases, to_float(images))[0]
    return softmax_cross_entropy(logits, labels)[0], float(np.mean(np.argmax(logits, axis=1) == labels))

# ----- the optimizer (nn/optim.py$schedule_file)
def update($update_args):  # $optimizer: one array p, in place, from its gradient g
    $update

def learning_rate(step: int, steps_per_epoch: int) -> float:  # $factors at step 0, 1, ...  #?schedule
    $schedule

$augment

# ----- training: the loop of nn/fit.py
def train(images: np.ndarray, labels: np.ndarray) -> tuple[list, list]:
    seeds = np.random.SeedSequence(SEED).spawn(5)  # one random stream for each of these:
    split_rng, init_rng, shuffle_rng, $more_rngs = map(np.random.default_rng, seeds)
    order = split_rng.permutation(len(images))
    train_idx, val_idx = np.sort(order[VAL_SIZE:]), np.sort(order[:VAL_SIZE])  # VAL_SIZE held out  #?val
    train_idx = np.sort(order)  #?!val
    train_idx = np.sort(split_rng.choice(train_idx, min(TRAIN_SUBSET, train_idx.size), replace=False))  #?subset
    weights = [init_weight(m, n, init_rng) for m, n in zip(SIZES[:-1], SIZES[1:])]
    biases = [np.zeros(n, DTYPE) for n in SIZES[1:]]
    params = [a for pair in zip(weights, biases) for a in pair]  # W_1, b_1, W_2, ...: updated in place
    states = [{} for _ in params]  # per array: its velocity or moments  #?state
    batches, step = math.ceil(train_idx.size / BATCH_SIZE), 0  #?schedule
    step = 0  #?step  #?!schedule
    best_loss, waited = math.inf, 0  #?stop
    for epoch in range(1, EPOCHS + 1):
        order, loss_sum = shuffle_rng.permutation(train_idx), 0.0
        for idx in np.split(order, range(BATCH_SIZE, order.size, BATCH_SIZE)):  # BATCH_SIZE at a time
            X = augment(to_float(images[idx]), augment_rng)  #?augment
            logits, cache = forward(weights, biases, $batch$dropout_rng)  # forward
            loss, dZ = softmax_cross_entropy(logits, labels[idx])  # loss
            grads = backward(weights, dZ, *cache)  # backward
            lr, step = learning_rate(step, batches), step + 1  # this step's rate; steps taken  #?schedule
            step += 1  # steps taken  #?step  #?!schedule
            for $loop_vars in zip(params, grads$loop_states):  # update, one array at a time
                if p.ndim == 2:  # weight decay: weights only, never biases  #?weight_decay
                    g = g + WEIGHT_DECAY * p  # g <- g + wd p  #?coupled
                    p *= 1.0 - $lr * WEIGHT_DECAY  # p <- p (1 - lr wd)  #?decoupled
                update($update_call)
            loss_sum += loss * idx.size
        val_loss, val_acc = evaluate(weights, biases, images[val_idx], labels[val_idx])  #?val
        print(f"epoch {epoch}: train loss {loss_sum / train_idx.size:.4f}, val loss {val_loss:.4f}, "  #?val
              f"val accuracy {val_acc:.4f}", flush=True)  #?val
        print(f"epoch {epoch}: train loss {loss_sum / train_idx.size:.4f}", flush=True)  #?!val
        if val_loss < best_loss:  # early stopping: keep the best weights  #?stop
            best_loss, best, waited = val_loss, [p.copy() for p in params], 0  #?stop
        elif (waited := waited + 1) == PATIENCE:  # no better for PATIENCE epochs: stop  #?stop
            return best[0::2], best[1::2]  #?stop
    return weights, biases

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder with the four MNIST files")
    parser.add_argument("--save", type=Path, help="write the trained weights here (.npz: W1, b1, W2, ...)")
    parser.add_argument("--compare", type=Path, help="the app's .npz of this run: how far are its weights?")
    args = parser.parse_args()
    names = "train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"
    try:
        x_train, y_train, x_test, y_test = [read_idx(args.data, f"{n}-ubyte") for n in names]
        if any(x.shape != (len(y), 28, 28) for x, y in [(x_train, y_train), (x_test, y_test)]):
            raise ValueError("these are not 28x28 images with a label each")
    except (OSError, ValueError, IndexError, EOFError) as error:
        raise SystemExit(f"cannot read MNIST in {args.data}: {error}") from None
    weights, biases = train(x_train, y_train)
    print("test loss {:.4f}, test accuracy {:.4f}".format(*evaluate(weights, biases, x_test, y_test)))
    arrays = {f"W{l}": W for l, W in enumerate(weights, 1)} | {f"b{l}": b for l, b in enumerate(biases, 1)}
    if args.save:
        np.savez(args.save, **arrays)
    if args.compare:  # after --save: a wrong file loses nothing
        try:
            with np.load(args.compare) as app:
                gap = max(np.abs(app[k] - a).max() for k, a in arrays.items())
        except (OSError, KeyError, ValueError) as error:  # not an .npz, a weight missing or of another shape
            raise SystemExit(f"cannot compare with {args.compare}: {error}") from None
        print(f"largest difference from the app's weights: {gap:.3g}")
'''

AUGMENT = '''def augment(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """nn/augment.py: move each image by whole pixels, turn it about its centre, add noise."""  #?moves
    """nn/augment.py: add Gaussian noise to each pixel, clipped to [0, 1]."""  #?!moves
    m = X.shape[0]  #?moves
    dx, dy = rng.integers(-SHIFT, SHIFT + 1, size=m), rng.integers(-SHIFT, SHIFT + 1, size=m)  #?moves
    rng.uniform(-ROTATE, ROTATE, size=m)  # an angle per image, 0 here: the same random numbers follow  #?shift
    img = np.pad(X.reshape(m, 28, 28), ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))  # blank paper around  #?shift
    rows = np.arange(28)[:, None] + SHIFT - dy[:, None, None]  # out[r, c] = image[r - dy, c - dx]  #?shift
    cols = np.arange(28) + SHIFT - dx[:, None, None]  #?shift
    X = img[np.arange(m)[:, None, None], rows, cols].reshape(m, 784)  #?shift  #?noise
    return img[np.arange(m)[:, None, None], rows, cols].reshape(m, 784)  #?shift  #?!noise
    angles = np.deg2rad(rng.uniform(-ROTATE, ROTATE, size=m))[:, None]  #?rotate
    cos, sin = np.cos(angles).astype(DTYPE), np.sin(angles).astype(DTYPE)  #?rotate
    px = (np.arange(784) % 28 - 13.5 - dx[:, None]).astype(DTYPE)  # output pixel p - shift  #?rotate
    py = (np.arange(784) // 28 - 13.5 - dy[:, None]).astype(DTYPE)  # (from the centre)  #?rotate
    sx = np.clip(cos * px - sin * py + 14.5, 0, 29)  # its source R^-1 (p - shift) in the image  #?rotate
    sy = np.clip(sin * px + cos * py + 14.5, 0, 29)  # padded with blank paper one pixel wide  #?rotate
    x0, y0 = np.minimum(np.floor(sx), 28), np.minimum(np.floor(sy), 28)  # its top-left neighbour  #?rotate
    img = np.pad(X.reshape(m, 28, 28), ((0, 0), (1, 1), (1, 1)))  #?rotate
    i, r, c = np.arange(m)[:, None], y0.astype(int), x0.astype(int)  #?rotate
    top = img[i, r, c] + (img[i, r, c + 1] - img[i, r, c]) * (sx - x0)  # bilinear: along x,  #?rotate
    bottom = img[i, r + 1, c] + (img[i, r + 1, c + 1] - img[i, r + 1, c]) * (sx - x0)  #?rotate
    X = top + (bottom - top) * (sy - y0)  # then along y  #?rotate  #?noise
    return top + (bottom - top) * (sy - y0)  # then along y  #?rotate  #?!noise
    return np.clip(X + rng.standard_normal(X.shape, dtype=DTYPE) * NOISE, 0.0, 1.0)  #?noise
'''


def fill(template: str, flags: dict[str, bool], values: dict[str, str]) -> str:
    """``template`` with the lines ``flags`` keep, its ``$piece`` lines indented, its ``$names`` replaced."""
    lines = []
    for line in template.splitlines():
        keep = True
        while tagged := re.fullmatch(r"(.*?)\s+#\?(!?)(\w+)", line):
            line, negated, flag = tagged.groups()
            keep = keep and flags[flag] != bool(negated)
        if not keep:
            continue
        piece = re.fullmatch(r"( *)\$(\w+)", line)
        if piece:
            indent, name = piece.groups()
            lines += [indent + row if row else "" for row in values[name].splitlines()] or [None]
            continue
        lines.append(Template(line).substitute(values) if "$" in line else line)
    text = "\n".join(line for line in lines if line is not None)
    return align(re.sub(r"\n{3,}", "\n\n", text).strip("\n")) + "\n"


def align(text: str, width: int = 110) -> str:
    """Trailing comments lined up within each run of commented lines, all within ``width`` columns.

    A run that does not fit at one column keeps each comment two spaces after its code; a comment
    that does not fit there either goes on its own line above.
    """
    split = [re.fullmatch(r"(.*?\S)\s+(# .*)", line) if not line.lstrip().startswith(("#", '"')) else None
             for line in text.splitlines()]
    out, run = [], []
    for line, found in zip([*text.splitlines(), ""], [*split, None]):
        if found:
            run.append(found.groups())
            continue
        fits = [len(code) + 2 + len(comment) <= width for code, comment in run]
        column = max((len(code) + 2 for (code, _), ok in zip(run, fits) if ok), default=0)
        aligned = all(column + len(comment) <= width for (_, comment), ok in zip(run, fits) if ok)
        for code, comment in run:
            at = column if aligned else len(code) + 2
            indent = code[: len(code) - len(code.lstrip())]
            out += [f"{code:<{at}}{comment}"] if at + len(comment) <= width else [indent + comment, code]
        run = []
        out.append(line)
    return "\n".join(out[:-1])
