"""The Train page's learning-rate range test: a button, the curve, the suggestion, and a button to use it."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from dashboard.knobs import LRS
from figures.lr_range import range_test_figure
from nn.config import TrainConfig
from nn.lr_range import RangeTest, lr_range_test

RESULT = "lr_range_result"  # (the config tested, without its lr; the result)
STEPS = 200


def nearest_grid_lr(lr: float) -> float:
    """The learning-rate knob's value closest to ``lr`` on a log scale."""
    return min(LRS, key=lambda v: abs(math.log(v) - math.log(lr)))


def _use(lr: float) -> None:
    st.session_state["k_lr"] = lr  # a callback: runs before the knob is drawn


def _key(config: TrainConfig) -> str:
    return config.replace(lr=1.0).to_json()


def panel(config: TrainConfig | None, images: np.ndarray, labels: np.ndarray) -> None:
    """In an expander: run the test for these settings, show it, offer its suggestion for the knob."""
    with st.expander("Find a learning rate (range test)", icon=":material/troubleshoot:"):
        st.caption(f"Trains a throwaway copy of this network for {STEPS} batches while the learning rate grows "
                   "from 0.000001 upwards, and plots the loss against it (Smith 2017). Your run is not touched.")
        if config is None:
            st.caption("Fix the settings first.")
            return
        if st.button("Run the range test", key="lr_range_run", icon=":material/play_arrow:",
                     help=f"{STEPS} training steps of these settings (a few seconds for the default network)."):
            with st.spinner("Sweeping the learning rate…"):
                st.session_state[RESULT] = (_key(config), lr_range_test(config, images, labels, steps=STEPS))
        stored = st.session_state.get(RESULT)
        if stored is None:
            return
        tested, result = stored
        _show(result, stale=tested != _key(config))


def _show(result: RangeTest, *, stale: bool) -> None:
    st.plotly_chart(range_test_figure(result), key="lr_range_chart", width="stretch")
    suggestion = nearest_grid_lr(result.suggested_lr)
    end = "until the loss exploded" if result.stopped_early else "to the end of the sweep"
    st.caption(f"Read it left to right: flat (too small to learn), then falling (learning), then rising "
               f"({end}). The smoothed loss was lowest at {result.best_lr:.2g}; a tenth of that, "
               f"{result.suggested_lr:.2g}, learns fast and stays stable.")
    if stale:
        st.caption(":material/info: The settings changed since this test; run it again for them.")
    st.button(f"Use {suggestion:g}", key="lr_range_use", on_click=_use, args=(suggestion,), disabled=stale,
              icon=":material/check:", help="Set the learning-rate knob to the suggestion (the nearest value "
                                            "of the knob's scale).")
