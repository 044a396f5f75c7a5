"""Evaluate: how good the current model is on the 10,000 test digits, and where it fails.

One section at a time (dashboard/sections.py): each is a function below, and only the open one runs.
"""

from functools import partial

import streamlit as st

from dashboard import explain, picks
from dashboard.calibration_view import calibration_section
from dashboard.contrast_view import mistake_section
from dashboard.live_charts import chart_in_place
from dashboard.sections import page_sections
from dashboard.session import require_model
from dashboard.timeline import at, rewind
from dashboard.weights_note import live_weights_note
from figures import evaluate as fe
from figures.inspect import digit_figure
from figures.output_layer import probability_figure
from lab.evaluation import abstain_below, cell_members, filter_mistakes, page_count
from lab.format import fmt_num, fmt_pct
from lab.labels import label, labels, noun
from lab.page_sections import SECTION_PARAMETERS
from nn.metrics import most_confused_pairs

PAGE_SIZE = 24
CELL_LIMIT = 30  # digits shown for a confusion cell (three rows of ten)
_pct2 = partial(fmt_pct, digits=2)  # the report's shares, as the accuracy tiles write them

st.title("Evaluate")
st.caption(f"How good the model is on the 10,000 test {noun(plural=True)} it never trained on, and where it fails.")

view = rewind(require_model())

data = explain.test_data()
ev = explain.evaluation(view)
st.caption(f"Showing {view.description}. Its predictions on the test set took {ev.seconds:.2f} s, computed once "
           "for this version of the weights.")
live_weights_note(view)

# ---------------------------------------------------------------------------------------- headline numbers
n_test = len(data.labels)
names = labels()  # bound now: a format function may be called after this script run
n_wrong = len(ev.mistakes)
cols = st.columns(4)
cols[0].metric("Test accuracy", fmt_pct(ev.accuracy, 2), help=f"Share of the 10,000 test {noun(plural=True)} predicted right.")
cols[1].metric("Test loss", fmt_num(ev.loss), help="Mean cross-entropy: -log of the probability given to "
               f"the right {noun()}, averaged. Lower is better; it also punishes right answers given with doubt.")
cols[2].metric("Mistakes", f"{n_wrong:,}", help=f"Test {noun(plural=True)} whose most probable class is wrong.")
cols[3].metric(f"Test {noun(plural=True)}", f"{n_test:,}")


def confusion_matrix() -> None:
    """The confusion matrix, its most confused pairs, and the images of one cell."""
    st.header(f"Confusion matrix{at(view)}")
    pairs = most_confused_pairs(ev.confusion, k=5)
    cell = picks.confusion_cell(pairs)

    left, right = st.columns([3, 2], gap="large")
    with left:
        normalised = st.radio("Show", ["counts", f"share of each true {noun()}"], horizontal=True, key="ev_cm_view", persist_state="session",
                              help=f"Counts: how many test {noun(plural=True)} fall in each cell. Share: each row divided by "
                                   "its total, so classes of different sizes compare fairly.") != "counts"
        chart_in_place(fe.confusion_figure(ev.confusion, normalised=normalised, selected=cell), key="ev_cm",
                       clickable=True)
        st.caption(f"Rows are the true {noun()}, columns the model's answer: the diagonal counts right answers, every "
                   "other cell one kind of mistake. The colour scale stops at the largest mistake so small cells "
                   f"stay visible. Click a cell (or pick it on the right) to see its {noun(plural=True)} below.")
    with right:
        st.markdown("**Cell to show**")
        a, b = st.columns(2)
        true_c = a.selectbox(f"True {noun()}", range(10), key="ev_true", persist_state="session", format_func=names.__getitem__)
        pred_c = b.selectbox(f"Predicted {noun()}", range(10), key="ev_pred", persist_state="session", format_func=names.__getitem__)
        if pairs:
            st.markdown("**Most confused pairs**")
            st.dataframe(fe.confused_pairs_table(ev.confusion, pairs), hide_index=True, width="stretch")
            st.caption("The five largest off-diagonal cells: the mistakes this model makes most often.")

    members = cell_members(data.labels, ev, true_c, pred_c, CELL_LIMIT)
    count = int(ev.confusion[true_c, pred_c])
    kind = "right answers" if true_c == pred_c else "mistakes"
    if count == 0:
        st.info(f"No test {noun()} is a {label(true_c)} predicted as {label(pred_c)}.")
    else:
        chart_in_place(
            fe.digit_gallery_figure(
                data.images[members], [f"#{i} · {fmt_pct(ev.confidence[i])}" for i in members], members,
                title=f"True {label(true_c)}, predicted {label(pred_c)}: {count:,} {kind}"
                      + (f" (the {len(members)} most confident shown)" if count > len(members) else ""),
                cols=10, px_per_pixel=2.5),
            key="ev_cell_gallery")
        st.caption(f"The {noun(plural=True)} of the chosen cell, most confident first, each with its test index and the model's "
                   "confidence in its answer.")



def mistakes() -> None:
    """The misclassified images, filtered and paged; a clicked one opened, and why it is not another class."""
    st.header(f"Misclassified {noun(plural=True)}{at(view)}")
    st.caption("Sorted by how sure the model was. The first ones are confident mistakes: the model gives almost all "
               f"its probability to a wrong {noun()}. Some are genuinely ambiguous or mislabelled; others show a blind "
               "spot. A high confidence is not a guarantee.")
    f1, f2, f3 = st.columns([1, 1, 1])
    true_filter = f1.multiselect(f"True {noun()}", range(10), key="ev_mis_true", persist_state="session", placeholder="any", format_func=names.__getitem__,
                                 help=f"Show only mistakes on these true {noun(plural=True)}.")
    pred_filter = f2.multiselect(f"Predicted {noun()}", range(10), key="ev_mis_pred", persist_state="session", placeholder="any",
                                 format_func=names.__getitem__,
                                 help="Show only mistakes where the model answered one of these.")
    order = f3.radio("Order", ["most confident first", "least confident first"], key="ev_mis_order", persist_state="session", horizontal=True)
    mistakes = filter_mistakes(ev.mistakes, true_filter, pred_filter, most_confident_first=order == "most confident first")
    n_pages = page_count(len(mistakes), PAGE_SIZE)
    if len(mistakes) == 0:
        st.info("No mistakes match these filters.")
    else:
        page = st.columns(4)[0].number_input(f"Page (of {n_pages})", min_value=1, max_value=n_pages, value=1,
                                             step=1, key="ev_mis_page") if n_pages > 1 else 1
        shown = mistakes.iloc[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        idx = shown["index"].to_numpy()
        st.plotly_chart(
            fe.digit_gallery_figure(data.images[idx], fe.mistake_captions(shown), idx,
                                    hovertext=[f"test #{i}: click to open" for i in idx],
                                    title=f"{len(mistakes):,} mistakes; {(page - 1) * PAGE_SIZE + 1}"
                                          f"–{(page - 1) * PAGE_SIZE + len(shown)} shown", cols=6,
                                    px_per_pixel=4.0),
            key="ev_mis_gallery", on_select="rerun", selection_mode="points", width="stretch")
        st.caption(f"Under each {noun()}: its true label → the prediction, then the three most probable {noun(plural=True)}. "
                   f"Click {noun(article=True)} to open it below.")
        index = picks.clicked_digit("ev_mis_gallery")
        if index is not None:
            picks.open_in_inspect(index)
            c1, c2 = st.columns([1, 2])

            c1.plotly_chart(digit_figure(data.images[index], f"Test {noun()} #{index}", height=300),
                            key="ev_mis_digit", width="stretch")
            c2.plotly_chart(probability_figure(ev.proba[index], int(data.labels[index])), key="ev_mis_proba",
                            width="stretch")
            st.page_link("app_pages/inspect.py", label=f"Follow {noun()} #{index} through the network on Inspect",
                         icon=":material/biotech:", query_params={picks.INSPECT_SECTION: picks.THROUGH_THE_LAYERS})
            st.page_link("app_pages/step.py", label=f"Step through a training step on {noun()} #{index}: what would "
                         "backprop change?", icon=":material/footprint:", query_params={"digits": str(index)})

    mistake_section(view.model, picks.clicked_digit("ev_mis_gallery"), view.version)


def confidence() -> None:
    """Answering only when sure (a threshold), and how far confidence can be trusted (calibration)."""
    st.header(f"Answer only when sure{at(view)}")
    threshold = st.slider("Confidence threshold", 0.10, 1.0, 0.90, 0.01, key="ev_threshold", persist_state="session",
                          help="The model answers only when its top probability reaches this value and abstains "
                               f"otherwise (a human would check those {noun(plural=True)}).")
    sure = abstain_below(ev, data.labels, threshold)
    c1, c2, c3 = st.columns(3)
    c1.metric("Coverage", fmt_pct(sure.coverage, 1), help=f"Share of test {noun(plural=True)} the model answers.")
    c2.metric("Accuracy on answered", fmt_pct(sure.accuracy, 2),
              delta=None if sure.answered == 0 else f"{sure.accuracy - ev.accuracy:+.2%} vs answering all",
              help=f"Accuracy on the {noun(plural=True)} it does answer.")
    c3.metric("Abstained", f"{sure.abstained:,}", help=f"{noun(plural=True).capitalize()} it would hand to a human.")
    chart_in_place(fe.abstention_figure(ev.curve.thresholds, ev.curve.coverage, ev.curve.accuracy,
                                        threshold=threshold), key="ev_abstain")
    st.caption(f"Move right along the threshold: the model answers fewer {noun(plural=True)} (bottom) and, if its confidence "
               "means something, gets more of those right (top). A flat top line would mean confidence tells "
               "nothing about correctness.")

    calibration_section(view, threshold)


def per_class() -> None:
    """Precision, recall and F1 of each class."""
    st.header(f"Per {noun()}{at(view)}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.dataframe(ev.report.rename(index=dict(enumerate(labels()))).style.format({"precision": _pct2, "recall": _pct2, "f1": _pct2, "support": "{:,}"}),
                     width="stretch")
        st.caption(f"Precision: of the {noun(plural=True)} predicted as this class, the share that are. Recall: of the true "
                   f"{noun(plural=True)} of this class, the share found. F1: their harmonic mean. Support: how many test {noun(plural=True)}.")
    with right:
        chart_in_place(fe.per_class_figure(ev.report), key="ev_per_class")
        st.caption(f"Bars per {noun()}; note the axis starts near the lowest score, to make differences of a "
                   "percent visible.")



SECTIONS = {"Confusion matrix": confusion_matrix, "Mistakes": mistakes, "Confidence": confidence,
            "Per class": per_class}
section = page_sections(list(SECTIONS), key=SECTION_PARAMETERS["evaluate"])
with section.body:
    SECTIONS[section.name]()
