"""Evaluate's calibration section: is "90% sure" right 90% of the time? (numbers: lab/calibration.py)."""

from __future__ import annotations

import streamlit as st

from dashboard import why
from dashboard.explain import test_data
from dashboard.live_charts import chart_in_place
from dashboard.session import ModelView
from figures.calibration import reliability_figure, reliability_title
from lab.calibration import calibrated_abstention, temperature_note
from lab.format import fmt_pct
from lab.labels import noun


def calibration_section(view: ModelView, threshold: float | None = None) -> None:
    """Reliability diagram and ECE, then one temperature fitted on validation and the same after it."""
    st.header("Is its confidence a probability?")
    st.caption(f"Group the test {noun(plural=True)} by how sure the network was, and count how often it was right in each "
               f"group. If it is calibrated, the {noun(plural=True)} it answers with 90% confidence are right 90% of the time.")
    report = why.calibration(view)
    cols = st.columns(3)
    cols[0].metric("ECE before", f"{report.before.ece * 100:.2f}%",
                   help="Expected calibration error: the gap between confidence and accuracy in each bin, "
                        f"averaged with the bins' {noun()} counts as weights. 0 is perfectly calibrated.")
    if report.temperature is None:
        left, _ = st.columns(2, gap="large")
        with left:
            chart_in_place(reliability_figure(report.before, reliability_title(report.before)), key="why_rel_before")
        st.info("No validation split is known for this model (a file saved without its training settings), so "
                f"no temperature is fitted: fitting it on the test {noun(plural=True)} would grade it on its own answers.")
        return
    cols[1].metric("Temperature T", f"{report.temperature:.3f}",
                   help=f"One number fitted on the validation {noun(plural=True)}: every score is divided by it before the "
                        "softmax. It never changes the answer, only how sure the network says it is.")
    cols[2].metric("ECE after", f"{report.after.ece * 100:.2f}%", delta=f"{(report.after.ece - report.before.ece) * 100:+.2f} points",
                   delta_color="inverse", help=f"The same error on the test {noun(plural=True)} with the scores divided by T.")
    left, right = st.columns(2, gap="large")
    with left:
        chart_in_place(reliability_figure(report.before, reliability_title(report.before)), key="why_rel_before")
    with right:
        chart_in_place(reliability_figure(report.after, reliability_title(report.after, report.temperature)),
                       key="why_rel_after")
    before, after = report.val_nll
    st.caption(f"Bars: the share right in each confidence bin; diamonds: the mean confidence there; a bar below "
               f"its diamond is overconfidence. Below: how many test {noun(plural=True)} fall in each bin (most are very sure). "
               f"{temperature_note(report.temperature)} T was fitted on the run's {report.val_size:,} validation "
               f"{noun(plural=True)} (their cross-entropy {before:.4f} → {after:.4f}), never on the test {noun(plural=True)} shown here.")
    sure = None if threshold is None else calibrated_abstention(report, test_data().labels, threshold)
    if sure is not None and sure.answered:
        st.caption(f"With the calibrated probabilities, answering only at {threshold:.0%} confidence or more (the "
                   f"threshold of 'Answer only when sure' above) answers {fmt_pct(sure.coverage, 1)} of the test "
                   f"{noun(plural=True)}, {fmt_pct(sure.accuracy, 2)} of them right.")
