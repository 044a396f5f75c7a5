"""The datasets the app can train on: MNIST (the default) and Fashion-MNIST, their class names and loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.labels import DIGITS
from nn.data import MnistDataset, load_fashion_mnist
from nn.data.fashion import CLASS_NAMES as FASHION_NAMES


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # as in a URL: data=fashion
    title: str
    class_names: tuple[str, ...]
    noun: str  # what one class is called
    install: str  # how to get it when it is missing ("" when the app fetches it itself)
    pictures: str  # what its 70,000 images are, in a few words
    task: str  # what a network trained on it learns to do, after "learn to"
    draw_title: str  # the Draw page's title (and navigation label) on this dataset
    load: Callable[[], MnistDataset] | None = None  # None: the app's MNIST loader (dashboard/data.py)

    @property
    def short(self) -> str:
        """The dataset's own name: "MNIST", "Fashion-MNIST"."""
        return self.title.rsplit(" ", 1)[0]


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", "MNIST digits", DIGITS, "digit", "", "handwritten digits", "read digits",
                         "Draw a digit"),
    "fashion": DatasetInfo(
        "fashion", "Fashion-MNIST clothes", tuple(FASHION_NAMES), "item",
        "Fashion-MNIST is not installed on this server: `apt-get install dataset-fashion-mnist` (Debian), or set "
        "FASHION_MNIST_DIR to a folder with its four IDX .gz files, then reload.",
        "photos of clothes and shoes", "tell clothes apart", "Look at one item",
        load=load_fashion_mnist),
}
DEFAULT = "mnist"


def dataset_info(name: str | None) -> DatasetInfo:
    """The dataset called ``name``; anything unknown (e.g. a hostile URL value) is the default."""
    return DATASETS.get(str(name), DATASETS[DEFAULT])
