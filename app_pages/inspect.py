"""Inspect: what the network learned, from first-layer filters to a map of a layer's activations.

One section at a time (dashboard/sections.py): each is a function below, and only the open one runs.
"""

import streamlit as st

from dashboard import explain, picks
from dashboard.ablation_view import ablation_section
from dashboard.live_charts import chart_in_place
from dashboard.neighbours_view import neighbours_section
from dashboard.prototype_view import prototypes_section
from dashboard.sections import page_sections
from dashboard.session import require_model
from dashboard.timeline import at, rewind
from dashboard.weights_note import live_weights_note
from figures import inspect as fi
from figures import output_layer as fo
from lab.format import fmt_pct
from lab.history import has_numbers, history_columns, layer_quantiles
from lab.labels import label, noun
from lab.layer_sample import first_layer_active
from lab.snapshots import snapshot_at, snapshot_range
from lab.units import FILTER_ORDERS, filter_order, unit_class_effect, unit_note

st.title("Inspect")
st.caption(f"What the network learned: the patterns its first layer looks for, how one {noun()} flows through it, "
           f"how its weights changed while it learned, and how each layer arranges the {noun(plural=True)}.")

view = rewind(require_model())

model = view.model
n_layers = model.n_layers
activations = list(model.config.activations)
if n_layers < 2:
    st.warning("This model has no hidden layer (softmax regression): its only weights map pixels straight to "
               f"the ten {noun(plural=True)}. Below, the 'filters' are those ten templates.")
data = explain.test_data()
sample = explain.layer_sample(view)
ev = explain.evaluation(view)
st.caption(f"Showing {view.description}; layers {' → '.join(str(s) for s in model.config.layer_sizes)}.")
live_weights_note(view)

W1, b1 = model.weights[0], model.biases[0]
n_units = W1.shape[1]
active = first_layer_active(sample)
n_test = len(data.labels)
names = [fi.layer_name(j, n_layers) for j in range(n_layers)]
# The unit the Filters section opens (first visit: the strongest filter) and the digit followed (first visit or
# another test set: the most confident mistake); the other sections use both.
unit = picks.unit(default=int(filter_order(W1, active, st.session_state.get("in_sort", FILTER_ORDERS[0]))[0]))
index = picks.digit(n_test, default=int(ev.mistakes["index"].iloc[0]) if len(ev.mistakes) else 0)


def filters() -> None:
    """The first-layer filters, one unit large, and how the filters evolved."""
    st.header(f"First-layer filters{at(view)}")
    st.caption("Each first-layer unit computes a weighted sum of the 784 pixels. Drawing its 784 weights as a 28×28 "
               "image shows what it looks for: ink on blue pixels raises its input, ink on red pixels lowers it, "
               "white pixels do not matter.")
    c1, c2, c3 = st.columns(3)
    sort_by = c1.selectbox("Sort by", FILTER_ORDERS, key="in_sort", persist_state="session",
                           help="Weight norm: the strongest filters first. How often active: the share of 2,000 test "
                                f"{noun(plural=True)} for which the unit's input is positive (never-active units come last).")
    scale = c2.radio("Colour scale", ["shared", "per filter"], horizontal=True, key="in_scale", persist_state="session",
                     help="Shared: one scale for all, so strong and weak filters compare. Per filter: each filter "
                          "stretched to its own largest weight, so faint patterns show.")
    n_show = n_units if n_units <= 8 else c3.slider(
        "Filters shown", 8, min(n_units, 144), min(n_units, 48), key="in_nshow",
        help="How many units to draw, from the top of the sort order.")
    units = filter_order(W1, active, sort_by)[:n_show]
    chart_in_place(fi.filter_grid_figure(W1, units, shared_scale=scale == "shared", selected=unit,
                                         hover=fi.filter_hover(W1, active, units), cols=16 if n_show > 64 else 12),
                   key="in_filters", clickable=True)
    st.caption(f"{n_show} of {n_units} units, sorted by {sort_by}. Click a filter (or type its number below) to "
               "open it.")

    st.columns(4)[0].number_input("Unit", 0, n_units - 1, key="in_unit_box", on_change=picks.pick_unit, step=1,
                                  help="The first-layer unit to look at closely.")
    left, mid, right = st.columns([2, 2, 3], gap="medium")
    with left:
        chart_in_place(fi.filter_figure(W1[:, unit], unit), key="in_filter_big")
    with mid:
        st.table(fi.filter_stats_frame(W1, b1, active, unit).set_index("statistic"))
        note = unit_note(active[unit], activations[0] if activations else None)
        if note == "dead":
            st.warning(f"This unit is **dead**: its input is negative for every sampled {noun()}, so "
                       f"{activations[0]} passes nothing on and (for ReLU) no gradient comes back. It stopped "
                       "learning; its picture is what is left of its initial random weights. Many dead units "
                       "usually mean the learning rate was too high.")
        elif note == "always":
            st.info(f"This unit is active for almost every {noun()}: it acts more like a bias than a detector.")
    with right:
        if n_layers >= 2:
            effect = unit_class_effect(model, sample.traces, unit)
            chart_in_place(fi.class_effect_figure(effect, unit), key="in_effect")
            st.caption(f"How much each {noun()}'s score rises if this unit's activation rises by one, averaged over "
                       f"2,000 test {noun(plural=True)} and through every layer above (units switched off for {noun(article=True)} do not "
                       f"carry its effect). Only differences between {noun(plural=True)} matter to the softmax.")


    st.header("How the filters evolved")
    snapshots = list(view.snapshots or [])
    if len(snapshots) < 2:
        st.info("Snapshots of the first-layer weights are kept while a model trains (epoch 0 is the random start). "
                + ("An uploaded model has none." if view.source == "uploaded" else "Train for an epoch to see some."))
    else:
        epochs = [int(e) for e, _ in snapshots]
        epoch = st.select_slider("Epoch", options=epochs, value=epochs[-1], key="in_epoch",
                                 help="Epoch 0 is the initialisation; drag to watch the filters form.")
        shown = units[:24]
        W_at, zrange = snapshot_at(snapshots, epoch), snapshot_range(snapshots, shown)
        left, right = st.columns([3, 2], gap="large")
        with left:
            chart_in_place(fi.filter_grid_figure(W_at, shown, zrange=zrange, cols=8, px_per_pixel=2.6,
                                                 title=f"The same {len(shown)} filters after epoch {epoch}"),
                           key="in_evolution")
            st.caption("One colour scale for every epoch, so you see the weights grow from noise into strokes.")
        with right:
            st.plotly_chart(fi.snapshot_distribution_figure(histograms=explain.snapshot_summary(view)),
                            key="in_snap_dist", width="stretch")
            st.caption("Each column is a histogram of all first-layer weights at one snapshot (brighter = more "
                       "weights with that value): watch it widen as the network learns.")



def through_the_layers() -> None:
    """One test image through every layer, to the softmax."""
    st.header(f"One {noun()} through the network{at(view)}")
    c1, c2, c3 = st.columns([1, 1, 2])
    c1.number_input(f"Test {noun()}", 0, n_test - 1, key="in_digit_box", on_change=picks.pick_digit, args=("in_digit_box",),
                    help=f"Position in the 10,000-{noun()} test set.")
    c2.button(f"Random {noun()}", key="in_random", on_click=picks.random_digit, args=(n_test,), icon=":material/casino:",
              width="stretch")
    mistake_names = fi.mistake_labels(ev.mistakes.head(200).set_index("index"))
    c3.selectbox("Or a mistake (most confident first)", list(mistake_names), index=None, key="in_mistake",
                 on_change=picks.pick_digit, args=("in_mistake",), placeholder=f"choose a misclassified {noun()}",
                 format_func=mistake_names.__getitem__)
    trace = explain.trace_digit(view, index)
    true_label = int(data.labels[index])
    predicted = int(trace[-1].post[0].argmax())
    left, right = st.columns([1, 2], gap="large")
    with left:
        verdict = "right" if predicted == true_label else "wrong"
        st.plotly_chart(fi.digit_figure(data.images[index], f"Test {noun()} #{index} (true label {label(true_label)})"),
                        key="in_digit", width="stretch")
    with right:
        chart_in_place(fo.probability_figure(trace[-1].post[0], true_label), key="in_digit_proba")
        st.caption(f"The softmax turns the last layer's scores into probabilities; the model answers {label(predicted)} "
                   f"({verdict}). A tall wrong bar is an overconfident mistake: probability is not certainty.")
    if n_layers >= 2:
        # Only the open tab is drawn (on_change="rerun" makes the tabs report which one is open): the others' charts
        # would be rebuilt and remounted, hidden, at every step of the epoch slider.
        tabs = st.tabs([fi.layer_name(j, n_layers).capitalize() for j in range(n_layers - 1)] + ["Output scores"],
                       key="in_layer_tab", on_change="rerun")
        for j, tab in enumerate(tabs[:-1]):
            if not tab.open:
                continue
            with tab:
                chart_in_place(fi.layer_activity_figure(trace[j].pre[0], trace[j].post[0], fi.layer_name(j, n_layers),
                                                        activations[j]), key=f"in_layer_{j}")
                st.caption("Top: each unit's weighted input z (blue above zero, red below). Bottom: what it passes "
                           f"on, {activations[j]}(z). Units with z ≤ 0 pass nothing on for this {noun()} (ReLU).")
        if tabs[-1].open:
            with tabs[-1]:
                chart_in_place(fo.output_scores_figure(trace[-1].pre[0], trace[-1].post[0]), key="in_layer_out")
                st.caption(f"Top: the ten {noun(plural=True)}' scores (logits). Bottom: the same after softmax, "
                           "as probabilities.")



def weights_and_gradients() -> None:
    """Norms, distributions and histograms of weights and gradients per layer; dead units."""
    st.header(f"Weights and gradients, layer by layer{at(view)}")
    hidden_names = names[:-1]
    history = view.history
    run_history = explain.history_key(history)  # the same for every point of the run: its figures are built once
    if history is not None and not history.empty:
        left, right = st.columns(2, gap="large")
        with left:
            st.plotly_chart(explain.once(f"{run_history}:{names}:wnorm", lambda: fi.per_layer_lines_figure(
                *history_columns(history, "weight_norm")[:2], title="Weight norm per layer", y_title="‖W‖",
                names=names)), key="in_wnorm", width="stretch")
            st.caption("The size of each weight matrix (Frobenius norm) after every epoch; a steady climb without "
                       "gains in accuracy can mean it needs L2 regularisation.")
        with right:
            st.plotly_chart(explain.once(f"{run_history}:{names}:gnorm", lambda: fi.per_layer_lines_figure(
                *history_columns(history, "grad_norm")[:2], title="Gradient norm per layer",
                y_title="‖dL/dW‖ (log scale)", log_y=True, names=names)), key="in_gnorm", width="stretch")
            st.caption("The size of the last batch's gradient for each layer; gradients shrinking towards the first "
                       "layer is the vanishing-gradient problem.")
        if explain.once(f"{run_history}:quantiles", lambda: layer_quantiles(history, "weight", 0) is not None):
            shown = st.selectbox("Layer whose distributions to show", range(n_layers), format_func=lambda j: names[j],
                                 key="in_dist_layer", persist_state="session", help="Each layer has its own scale; pick one to follow.")
            color = fi.LAYER_COLORS[shown % len(fi.LAYER_COLORS)]
            left, right = st.columns(2, gap="large")
            for column, kind, quantity, key in ((left, "weight", "weight", "in_wdist"),
                                                (right, "grad", "dL/dW", "in_gdist")):
                def bands(kind: str = kind, quantity: str = quantity):  # built once per run, layer and kind
                    return fi.distribution_bands_figure(*layer_quantiles(history, kind, shown), y_title=quantity,
                                                        color=color,
                                                        title=f"{names[shown].capitalize()}: {quantity} values per epoch")
                column.plotly_chart(explain.once(f"{run_history}:{names}:{kind}:{shown}", bands), key=key,
                                    width="stretch")
            st.caption("Bands hold the middle 50 %, 90 % and 98 % of the layer's values after each epoch, the line "
                       "their median. Weights spreading out is learning; gradients collapsing towards zero while "
                       "the loss is still high means the layer has stopped learning.")
    else:
        st.info("Per-epoch norms come from a training run; this model has no training history.")

    left, right = st.columns(2, gap="large")
    with left:
        chart_in_place(explain.once(f"{view.version}:{names}:whist", lambda: fi.histograms_figure(
            model.weights, names, title="Weight values now", x_title="weight")), key="in_whist")
        st.caption("How the weights of each layer are spread (each panel on its own scale).")
    with right:
        chart_in_place(explain.once(f"{view.version}:{names}:ghist", lambda: fi.histograms_figure(
            explain.gradients(view), names, title=f"Gradient values now (1,000 training {noun(plural=True)})",
            x_title="dL/dW")), key="in_ghist")
        st.caption("The gradient the current weights would get. In the first layer most values are exactly zero: "
                   f"weights from border pixels that are blank in every {noun()} never get a gradient. A whole layer "
                   "squeezed to zero has stopped learning.")

    if n_layers >= 2:
        st.subheader("Dead units")
        cols = st.columns(len(hidden_names))
        for j, col in enumerate(cols):
            dead = sample.dead[j]
            col.metric(f"{hidden_names[j].capitalize()} ({activations[j]})", f"{fmt_pct(dead)} dead",
                       help=f"Share of the layer's units whose input is ≤ 0 for all 2,000 sampled test {noun(plural=True)}.")
        if explain.once(f"{run_history}:dead", lambda: has_numbers(history_columns(history, "dead_fraction")[1])):
            st.plotly_chart(explain.once(f"{run_history}:{hidden_names}:dead", lambda: fi.per_layer_lines_figure(
                *history_columns(history, "dead_fraction")[:2], title="Dead units per hidden layer",
                y_title="share of units never active", percent=True, names=hidden_names)), key="in_dead",
                width="stretch")
        st.caption(f"A ReLU unit whose input is negative for every {noun()} outputs 0 and gets no gradient, so it can "
                   "never recover: it is wasted capacity. A few percent is normal; a large share suggests a lower "
                   "learning rate, leaky ReLU or He initialisation. For tanh and sigmoid units 'never above zero' "
                   "is harmless (they still pass gradients), so the trainer does not count them.")



def layer_map() -> None:
    """A PCA map of a layer's activations for 2,000 test images."""
    st.header(f"A map of each layer{at(view)}")
    st.caption(f"Each layer turns {noun(article=True)} into a list of numbers. PCA finds the two directions in which those lists "
               f"differ most and places each {noun()} by them: {noun(plural=True)} the layer treats alike land close together.")
    layer_options = {f"{name} ({'activations' if j < n_layers - 1 else 'scores before softmax'})": j
                     for j, name in enumerate(names)}
    c1, c2 = st.columns([2, 3])
    layer_label = c1.selectbox("Layer", list(layer_options), index=max(0, n_layers - 2), key="in_map_layer", persist_state="session",
                               help=f"Early layers still look like pixels; later layers group {noun(plural=True)} by class.")
    layer = layer_options[layer_label]
    result = explain.layer_pca(view, layer, use_pre=layer == n_layers - 1)
    map_digit = picks.clicked_digit("in_map")
    chart_in_place(fi.pca_map_figure(result.projected, sample.labels, sample.predicted, sample.indices,
                                     layer=names[layer], explained=result.explained_ratio, selected=map_digit),
                   key="in_map", clickable=True)
    st.caption(f"Colour is the true {noun()}; crosses are the model's mistakes. Two components keep only part of the "
               "picture (see the share of variance on each axis): points that overlap here may still be apart in "
               f"the full layer. Click a point to see its {noun()}.")
    if map_digit is not None:
        c1, c2 = st.columns([1, 3])
        with c1:
            st.plotly_chart(fi.digit_figure(data.images[map_digit], f"Test {noun()} #{map_digit}", height=240),
                            key="in_map_digit", width="stretch")
        with c2:
            t, p = int(data.labels[map_digit]), int(ev.predicted[map_digit])
            st.markdown(f"True **{label(t)}**, predicted **{label(p)}** ({fmt_pct(ev.confidence[map_digit])} sure)"
                        + (" — a mistake." if t != p else "."))
            st.button(f"Follow this {noun()} through the network", key="in_follow", on_click=picks.follow_digit,
                      args=(map_digit,), icon=":material/arrow_forward:")


def switch_units_off() -> None:
    ablation_section(view, int(unit))


def prototypes() -> None:
    prototypes_section(view, int(unit))


def nearest_neighbours() -> None:
    neighbours_section(view, data.X[index], f"test {noun()} #{index} (followed in Through the layers)", key="in_why")


SECTIONS = {"Filters": filters, picks.THROUGH_THE_LAYERS: through_the_layers, "Weights and gradients": weights_and_gradients,
            "Layer map": layer_map, "Switch units off": switch_units_off, "Prototypes": prototypes,
            "Nearest neighbours": nearest_neighbours}
section = page_sections(list(SECTIONS), key=picks.INSPECT_SECTION)
with section.body:
    SECTIONS[section.name]()
