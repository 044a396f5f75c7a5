"""Inspect's prototypes section: each digit as the network would draw it, and what excites the filter opened in
the Filters section."""

from __future__ import annotations

import streamlit as st

from dashboard import why
from dashboard.session import ModelView
from figures.prototypes import prototypes_figure, score_rise_figure, unit_prototype_figure
from lab.labels import noun
from nn.explain.prototypes import PrototypeParams

DEFAULTS = PrototypeParams()


def _params() -> PrototypeParams:
    with st.expander("Settings of the ascent (what keeps the pictures drawable)"):
        a, b, c, d = st.columns(4)
        l2 = a.slider("L2 weight", 0.0, 2.0, DEFAULTS.l2, 0.05, key="proto_l2",
                      help="Penalises ink everywhere (½·weight·|x|²): only ink that raises the score a lot stays.")
        blur = b.slider("Blur weight", 0.0, 20.0, DEFAULTS.blur, 0.5, key="proto_blur",
                        help="Penalises what a Gaussian blur would remove (½·weight·|x − blur(x)|²): speckle.")
        sigma = c.slider("Blur width (pixels)", 0.5, 3.0, DEFAULTS.sigma, 0.25, key="proto_sigma",
                         help="The Gaussian's standard deviation: wider penalises coarser detail.")
        steps = d.slider("Steps", 10, 400, DEFAULTS.steps, 10, key="proto_steps",
                         help=f"Gradient-ascent steps from the average {noun()}.")
    return PrototypeParams(steps=int(steps), step_size=DEFAULTS.step_size, l2=float(l2), blur=float(blur),
                           sigma=float(sigma))


@st.fragment  # new settings rerun this section only
def prototypes_section(view: ModelView, unit: int = 0) -> None:
    """Ten prototypes over the ten class means, the scores rising, and the opened filter's unit's prototype."""
    st.header(f"What a perfect {noun()} looks like to it")
    st.caption(f"Start from the average training {noun()} of a class and change its pixels, step by step, in the "
               f"direction that raises that {noun()}'s score most (gradient ascent on the input), keeping them in "
               "[0, 1]. Two penalties keep the result drawable: too much ink (L2) and speckle (blur).")
    params = _params()
    result = why.prototypes(view, params)
    st.plotly_chart(prototypes_figure(result.images, why.class_means()), key="proto_grid", width="stretch")
    st.caption(f"Settings: {params.steps} steps starting at size {params.step_size}, L2 weight {params.l2:g}, blur "
               f"weight {params.blur:g}, blur width {params.sigma:g} px. A step is kept only if it raises the {noun()}'s "
               "score without lowering the penalised objective. Dark blobs are strokes the network wants more of; "
               f"ink of the average {noun()} that faded is ink it does not need.")
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(score_rise_figure(result.values), key="proto_rise", width="stretch")
    left.caption(f"Each {noun()}'s score (its logit) after every step: it only ever rises.")
    if view.model.n_layers >= 2:
        unit_result, gain = why.prototype_of_unit(view, unit, params)
        right.plotly_chart(unit_prototype_figure(unit_result.images[0], unit), key="proto_unit", width="stretch")
        right.caption(f"The same ascent for first-layer unit {unit} (the filter opened in the Filters section), "
                      "from the average of "
                      f"all {noun(plural=True)}: its weighted input rose from {unit_result.values[0, 0]:.2f} to "
                      f"{unit_result.values[-1, 0]:.2f}. Its input moves {gain:.1f}× less per unit of ink than {noun(article=True)}'s "
                      f"score, so the penalties are divided by {gain:.1f} (L2 {params.l2 / gain:.3g}, blur "
                      f"{params.blur / gain:.3g}) to weigh on it as they do on the {noun(plural=True)}. Open another filter there to see "
                      "its own.")
