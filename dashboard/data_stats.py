"""Dataset statistics for the Data page, computed once per server process (the dataset never changes)."""

from __future__ import annotations

import streamlit as st

from lab.dataset_stats import DataStats, data_stats as compute_data_stats
from nn.data import MnistDataset


@st.cache_resource(show_spinner="Computing dataset statistics once for this server...")
def data_stats(_dataset: MnistDataset, key: str) -> DataStats:
    """``key`` names the dataset (its arrays are not hashed: 47 MB)."""
    return compute_data_stats(_dataset.x_train, _dataset.y_train)
