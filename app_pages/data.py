"""Data: what MNIST (or Fashion-MNIST) looks like, and what augmentation does to it."""

import numpy as np
import streamlit as st

from dashboard.data import dataset_now, get_dataset
from dashboard.data_stats import data_stats
from dashboard.knobs import HELP
from dashboard.session import get_session
from figures.data import (
    augmentation_figure,
    average_digits_figure,
    class_counts_figure,
    pixel_histogram_figure,
    sample_grid_figure,
)
from lab.dataset_stats import pick_per_class
from lab.format import fmt_pct
from lab.labels import noun
from nn.augment import preview
from nn.config import AugmentConfig
from nn.data import MNIST_SHA256

session = get_session()
info = dataset_now()
digits = info.name == "mnist"  # a few facts below are MNIST's own
st.title(f"The data: {info.short}")
st.caption(f"70,000 {info.pictures}, each 28×28 grey pixels with its true label: 60,000 to learn from and "
           "10,000 kept aside to test on.")
dataset = get_dataset()

with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Training images", f"{len(dataset.x_train):,}")
    c2.metric("Test images", f"{len(dataset.x_test):,}")
    c3.metric("Image size", "28 × 28", help="784 pixels, 0 (paper) to 255 (ink).")
    c4.metric("Verified", "yes" if dataset.verified else "no",
              help=f"The SHA-256 of all four arrays matched the published {info.short} on this load." if digits
              else f"{info.short} has no published hashes: its files are checked for their sizes and image counts.")
    st.markdown(f"**Source:** {dataset.source}" + (f"  \n**Cached at:** `{dataset.cache_path}`"
                                                   if dataset.cache_path else ""))
    if digits:  # Fashion-MNIST has no published hashes of its arrays to check
        with st.expander("How we know this is the real MNIST"):
            st.markdown("Whatever the source, the decoded arrays are hashed and compared with the SHA-256 of the true "
                        "MNIST before anything is cached; a copy that differs by one pixel is rejected.")
            # A markdown table, not st.code: a newcomer's browser would first fetch the code block's highlighter.
            st.markdown("| array | SHA-256 |\n|---|---|\n" + "\n".join(
                f"| {name} | `{digest}` |" for name, digest in MNIST_SHA256.items()))
            st.caption("MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.")
    else:
        st.caption("Fashion-MNIST by Han Xiao, Kashif Rasul and Roland Vollgraf (Zalando Research), MIT licence.")

st.subheader(f"What the {noun(plural=True)} look like")
c1, c2 = st.columns([3, 1])
per_class = c2.slider(f"Examples per {noun()}", 4, 16, 10, key="data_per_class",
                      help=f"How many random training images to show for each {noun()}.")
if c2.button("Show other examples", icon=":material/shuffle:", key="data_shuffle",
             help="Draw a new random set of examples."):
    st.session_state["data_seed"] = st.session_state.get("data_seed", 0) + 1
rng = np.random.default_rng(st.session_state.get("data_seed", 0))
idx = pick_per_class(dataset.y_train, per_class, rng)
with c1:
    st.plotly_chart(sample_grid_figure(dataset.x_train[idx]), key="data_grid", width="stretch")
    st.caption(f"Each row is one {noun()}, each tile one training image as the network sees it: 784 numbers from "
               + ("0 (white paper) to 255 (black ink). Notice how differently people write the same digit." if digits
                  else "0 (background) to 255 (brightest). Notice how different one class's items look."))

stats = data_stats(dataset, f"{dataset.source}:{len(dataset.x_train)}")  # once per server; after the grid
c1, c2 = st.columns(2)
with c1:
    st.plotly_chart(class_counts_figure(dataset.y_train, dataset.y_test), key="data_counts", width="stretch")
    st.caption(f"The ten {noun(plural=True)} are " + ("roughly equally common (1 is the most frequent, 5 the least)"
                                                      if digits else "equally common") +
               ", so a model cannot score well by favouring one.")
with c2:
    st.plotly_chart(pixel_histogram_figure(stats.pixel_counts), key="data_hist", width="stretch")
    st.caption(f"About {fmt_pct(stats.pixel_counts[0] / stats.pixel_counts.sum())} of all pixels are blank "
               + ("paper (0); ink is mostly fully dark, with a soft grey edge from the scanning." if digits else
                  "background (0); the rest spreads over every grey, the shades of a photo."))

st.plotly_chart(average_digits_figure(stats.means), key="data_means", width="stretch")
st.caption(f"Averaging every training image of a {noun()} gives a blurry prototype: where the average is dark, most "
           f"{'people put ink' if digits else 'items of the class are'}. A network with no hidden layer learns "
           "templates much like these.")

st.subheader(f"Augmentation: the same {noun(plural=True)}, moved a little")
knobs = session.knobs
st.caption("During training each batch can be randomly shifted, rotated and noised, so the network learns that "
           f"these changes do not change the {noun()}. These sliders are the Train page's settings.")


def _sync(name: str) -> None:
    session.knobs = {**session.knobs, name: st.session_state[f"d_{name}"]}


for name in ("shift", "rotate", "noise"):
    st.session_state.setdefault(f"d_{name}", knobs[name])
    st.session_state[f"d_{name}"] = session.knobs[name]
c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
c1.slider("Shift (px)", 0, 8, key="d_shift", on_change=_sync, args=("shift",), help=HELP["shift"])
c2.slider("Rotate (°)", 0.0, 90.0, step=1.0, key="d_rotate", on_change=_sync, args=("rotate",), help=HELP["rotate"])
c3.slider("Noise", 0.0, 1.0, step=0.05, key="d_noise", on_change=_sync, args=("noise",), help=HELP["noise"])
if c4.button("Try the usual settings", key="d_usual", help="Shift 2 px, rotate 10°, noise 0.1."):
    session.knobs = {**session.knobs, "shift": 2, "rotate": 10.0, "noise": 0.1}
    st.rerun()
cfg = AugmentConfig(shift=int(session.knobs["shift"]), rotate=float(session.knobs["rotate"]),
                    noise=float(session.knobs["noise"]))
if not cfg.enabled:
    st.info("Augmentation is off in the current settings: every variant below equals the original. Move a slider "
            "to see its effect.", icon=":material/info:")
show = idx[:, 0][:6]  # one example each of classes 0-5
variants = preview(dataset.x_train[show], cfg, np.random.default_rng(st.session_state.get("data_seed", 0)),
                   n_variants=8)
st.plotly_chart(augmentation_figure(dataset.x_train[show], variants, labels=dataset.y_train[show]),
                key="data_augment", width="stretch")
st.caption(f"Shift up to {cfg.shift} px, rotate up to {cfg.rotate:g}°, noise σ = {cfg.noise:g}: each row starts "
           f"with the untouched image; if a variant no longer looks like its {noun()}, the settings are too strong.")
