"""The one exception users of the data layer need to catch.

Readers raise ``ValueError`` for a malformed file (the file is wrong). The
loader raises :class:`DataError` when no source could supply verified MNIST
(the situation is wrong: no network, no files, a bad mirror). Both are
expected failures: the CLI prints them as one line, never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attempt:
    """One source the loader tried, and why it did not deliver."""

    source: str  # "cache", "files", "pypi", "mirror"
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


HOW_TO_SUPPLY = (
    "To supply MNIST yourself, download the four IDX files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), a Keras mnist.npz, "
    "or mnist_train.csv + mnist_test.csv, then pass them with load_mnist(paths=DIR), "
    "`python -m nn fetch --path DIR`, or the MNIST_FILES environment variable."
)


class DataError(Exception):
    """No source delivered verified MNIST; the message names every source tried and why it failed."""

    def __init__(self, attempts: list[Attempt] | tuple[Attempt, ...], hint: str = HOW_TO_SUPPLY) -> None:
        self.attempts = tuple(attempts)
        self.hint = hint
        lines = ["could not obtain verified MNIST; sources tried:"]
        lines += [f"  - {a}" for a in self.attempts]
        lines.append(hint)
        super().__init__("\n".join(lines))

    def one_line(self) -> str:
        """The same message on one line, for a terminal or a log."""
        tried = "; ".join(str(a) for a in self.attempts) or "none"
        return f"could not obtain verified MNIST (tried {tried}). {self.hint}"


class SourceFailed(Exception):
    """Raised by one source to say why it could not deliver; the loader moves on to the next."""


class VerificationError(ValueError):
    """Arrays whose SHA-256 differs from the expected one; such data is never cached."""
