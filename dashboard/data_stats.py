"""Dataset statistics for the Data page, computed once per server process (the dataset never changes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from figures.data import class_means, pixel_counts
from nn.data import MnistDataset


@dataclass(frozen=True)
class DataStats:
    means: np.ndarray  # (10, 28, 28) float32, mean training image per digit
    pixel_counts: np.ndarray  # (256,) over every training pixel


@st.cache_resource(show_spinner="Computing dataset statistics once for this server...")
def data_stats(_dataset: MnistDataset, key: str) -> DataStats:
    """``key`` names the dataset (its arrays are not hashed: 47 MB)."""
    means = class_means(_dataset.x_train, _dataset.y_train)
    counts = pixel_counts(_dataset.x_train)
    for a in (means, counts):
        a.flags.writeable = False
    return DataStats(means=means, pixel_counts=counts)
