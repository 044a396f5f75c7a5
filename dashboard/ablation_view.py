"""Inspect's ablation section: switch hidden units off (or scale them) and see what the test set says at once.

What is switched off lives in ``st.session_state[OFF]`` as {hidden layer: [units]}; the model is never
changed (lab/ablation.py), so Reset only has to empty that dict.
"""

from __future__ import annotations

import streamlit as st

from dashboard import why
from dashboard.explain import test_data
from dashboard.session import ModelView
from figures import ablation as fa
from figures.evaluate import digit_gallery_figure
from lab.ablation import ablate, describe, never_active
from lab.format import fmt_pct
from lab.labels import label, labels, noun

OFF = "abl_off"
SHOWN_FLIPS = 30
WAYS = ("filter", "most used", "never active", "by number")


def _way_labels() -> dict[str, str]:
    return {"filter": "the filter opened in Filters", "most used": f"the units most used for {noun(article=True)}",
            "never active": "units never active", "by number": "units by number"}


def _switch_off(layer: int, units: list[int]) -> None:
    off = dict(st.session_state.get(OFF, {}))
    off[layer] = sorted(set(off.get(layer, [])) | {int(u) for u in units})
    st.session_state[OFF] = off


def _reset() -> None:
    st.session_state[OFF] = {}


def _valid_off(view: ModelView) -> dict[int, list[int]]:
    """The switched-off units, emptied if they do not fit this model (another architecture was loaded)."""
    off = st.session_state.get(OFF, {})
    widths = [W.shape[1] for W in view.model.weights[:-1]]
    if any(layer >= len(widths) or any(u >= widths[layer] for u in units) for layer, units in off.items()):
        off = st.session_state[OFF] = {}
    return off


def _chooser(view: ModelView, layer: int, unit_above: int) -> list[int] | None:
    """The units the chosen way names (None when there is nothing to switch off)."""
    width = view.model.weights[layer].shape[1]
    way = st.radio("Which units", WAYS if layer == 0 else WAYS[1:], horizontal=True, key="abl_way",
                   format_func=_way_labels().__getitem__,
                   help="The filter you opened in the Filters section (first layer), the units that give most to "
                        f"one {noun()}'s score "
                        f"(activation × its effect on that score, averaged over the test {noun(plural=True)} of that class), "
                        f"the units that output 0 for every test {noun()}, or any units by number.")
    if way == WAYS[0]:
        st.caption(f"Unit {unit_above} of hidden 1, the filter opened in the Filters section (open another there to "
                   "change it).")
        return [unit_above]
    if way == WAYS[1]:
        a, b = st.columns(2)
        digit = a.selectbox(noun().capitalize(), range(10), key="abl_digit", format_func=labels().__getitem__,
                            help="Whose score the units should feed most.")
        k = b.slider("How many units", 1, min(width, 64), min(8, width), key="abl_k",
                     help=f"The k units with the largest contribution to that {noun()}'s score.")
        units = why.most_used(view, layer, int(digit), int(k)).tolist()
        st.caption(f"The {k} units of hidden {layer + 1} most used for {label(digit)}: {', '.join(map(str, units))}.")
        return units
    if way == WAYS[2]:
        units = never_active(why.ablation(view), layer).tolist()
        if not units:
            st.caption(f"Every unit of hidden {layer + 1} is active for some test {noun()}: none is dead.")
            return None
        st.caption(f"{len(units)} units of hidden {layer + 1} output 0 for all 10,000 test {noun(plural=True)} (dead): switching "
                   "them off should change nothing, which is the point.")
        return units
    chosen = st.multiselect("Units", range(width), key="abl_units", placeholder="unit numbers",
                            help=f"Any of hidden {layer + 1}'s {width} units.")
    return list(chosen) or None


@st.fragment  # a click here reruns this section only, not the whole Inspect page
def ablation_section(view: ModelView, unit_above: int = 0) -> None:
    """Controls, then the test set with the units off against the intact network: accuracy, per digit, confusion."""
    st.header("Switch units off")
    model = view.model
    if model.n_layers < 2:
        st.info("This model has no hidden layer, so it has no units to switch off.")
        return
    st.caption("Which units matter for the answers? Switch some hidden units off (their output set to 0) or "
               f"scale them, and the 10,000 test {noun(plural=True)} run again at once. The model itself is not changed: the "
               "other pages still show it intact.")
    off = _valid_off(view)
    left, right = st.columns([2, 3], gap="large")
    with left:
        n_hidden = model.n_layers - 1
        layer = st.selectbox("Hidden layer", range(n_hidden), key="abl_layer",
                             format_func=lambda j: f"hidden {j + 1} ({model.weights[j].shape[1]} units)",
                             help="The layer whose units to switch off; units of several layers can be off at once.")
        units = _chooser(view, int(layer), unit_above)
        a, b = st.columns(2)
        a.button("Switch off", key="abl_add", on_click=_switch_off, args=(int(layer), units or []),
                 disabled=not units, icon=":material/power_settings_new:", type="primary",
                 help="Add these units to the ones already switched off.")
        b.button("Reset", key="abl_reset", on_click=_reset, disabled=not off, icon=":material/restart_alt:",
                 help="All units on again: the intact network.")
        scale = st.slider("Multiply their output by", 0.0, 2.0, 0.0, 0.1, key="abl_scale",
                          help="0 switches the units off; 0.5 halves what they pass on; 2 doubles it.")
        st.markdown(f"**Off now:** {describe(off)}" if scale == 0 else f"**Scaled by {scale:g}:** {describe(off)}")
    base = why.ablation(view) if off else why.intact(view)  # the activations only once something is off
    result = ablate(model, base, off, scale)
    with right:
        c1, c2, c3 = st.columns(3)
        c1.metric("Test accuracy", fmt_pct(result.accuracy, 2),
                  delta=f"{(result.accuracy - result.accuracy_intact) * 100:+.2f} points" if off else None,
                  help=f"On the 10,000 test {noun(plural=True)}, with these units off; the change is against the intact network.")
        c2.metric("Answers changed", f"{result.flipped.size:,}", help=f"Test {noun(plural=True)} the network now answers differently.")
        c3.metric("Broken / fixed", f"{result.broken:,} / {result.fixed:,}",
                  help="Right → wrong: answers these units were needed for. Wrong → right: mistakes they were causing.")
        st.plotly_chart(fa.per_class_change_figure(base.per_class, result.per_class), key="abl_per_class",
                        width="stretch")
    if not off:
        st.caption("Nothing is switched off yet: choose units on the left and press Switch off.")
        return
    a, b = st.columns([1, 1], gap="large")
    a.plotly_chart(fa.confusion_change_figure(result.confusion_delta), key="abl_confusion", width="stretch")
    a.caption(f"Red cells lost {noun(plural=True)}, blue cells gained them. On the diagonal red is right answers lost and blue "
              "right answers gained; off it, blue is a new mistake and red a mistake fewer.")
    if result.flipped.size:
        shown = result.flipped[:SHOWN_FLIPS]
        data = test_data()
        b.plotly_chart(digit_gallery_figure(
            data.images[shown], fa.flipped_captions(shown, data.labels, base.predicted, result.predicted), shown,
            title=f"{noun(plural=True).capitalize()} whose answer changed ({result.flipped.size:,}; right → wrong first)", cols=6,
            px_per_pixel=3.0), key="abl_flipped", width="stretch")
    st.caption(f"One pass of the test {noun(plural=True)} through the layers above the change took {result.seconds * 1000:.0f} ms "
               "(the first hidden layer's outputs are kept, so switching units costs only the layers above it).")
