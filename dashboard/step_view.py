"""The Step-through page's Streamlit glue: its session (the float64 copy, the picked digits, the selected unit)
and one function per block. The numbers come from lab/step_through.py and lab/step_update.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.code_view import code_expander
from figures import step_through as fs
from lab.code import listing
from lab.format import fmt_pct
from lab.labels import label as class_label, noun
from lab.step_session import StepSession, parse_digits, strongest_input
from lab.training_run import TrainingRun
from lab.step_through import Batch, Pass, output_step, unit_backward, unit_forward
from lab.snapshot import TERMINAL_PHASES
from lab.step_update import GradientCheck, error_by_eps, gradient_check, preview_update, random_checks
from nn.config import TrainConfig
from nn.losses import softmax_cross_entropy
from nn.events import RunState
from nn.model import MLP

_KEY = "step_session"
EPS_CHOICES = [10.0**-k for k in range(1, 13)]


def step_session(origin: str, model: MLP, config: TrainConfig, run: TrainingRun | None = None) -> StepSession:
    """This browser's step session; a new float64 copy when the model it came from changed.

    With a ``run`` that is paused or over, the copy's optimizer continues the run's own (its step count and
    state); otherwise it starts afresh, and the page says which.
    """
    session = st.session_state.get(_KEY)
    if session is None or session.origin != origin:
        state = run.trainer.optimizer_state() if idle(run) else None
        session = StepSession.start(origin, model, config, state)
        st.session_state[_KEY] = session
    return session


def idle(run: TrainingRun | None) -> bool:
    """A run whose trainer is between batches for good or until resumed: paused, or over."""
    return (run is not None and run.trainer is not None
            and (run.phase == RunState.PAUSED.value or run.phase in TERMINAL_PHASES))


def reset_session() -> None:
    st.session_state.pop(_KEY, None)


def pick_digits(n_test: int) -> list[int] | None:
    """The test digits to step on: typed numbers (a link may set them: ?digits=12,345); None if refused."""
    linked = st.query_params.get("digits")
    if linked and linked != st.session_state.get("step_linked"):  # a link just followed wins, once
        st.session_state["step_digits"] = st.session_state["step_linked"] = linked
    st.session_state.setdefault("step_digits", "0, 1, 2, 3")
    text = st.text_input(f"Test {noun(plural=True)} (their numbers, 1 to 8 of them)", key="step_digits",
                         help=f"Numbers of test {noun(plural=True)} (0 to 9,999), separated by commas: the batch this "
                              "step trains on. Evaluate links a mistake here.")
    try:
        return parse_digits(text, n_test)
    except ValueError as error:
        st.error(f"{error}.")
        return None


def select_unit(model: MLP) -> tuple[int, int]:
    """The selected (layer, unit): from a click on the picture, kept in the session, clamped to the network."""
    layer, unit = st.session_state.get("step_unit", (1, 0))
    layer = min(max(int(layer), 1), model.n_layers)
    unit = min(max(int(unit), 0), model.weights[layer - 1].shape[1] - 1)
    st.session_state["step_unit"] = (layer, unit)
    return layer, unit


def on_picture_click(picked: list) -> None:
    """A new click on a unit of the picture selects it (an input pixel selects nothing).

    The chart keeps its last selection across reruns: only a change is a new click.
    """
    if not picked:
        return
    column, unit = (int(v) for v in picked[-1][:2])
    if column >= 1 and (column, unit) != st.session_state.get("step_clicked"):
        st.session_state["step_clicked"] = st.session_state["step_unit"] = (column, unit)
        st.session_state.pop("step_weight", None)  # the new unit's own strongest weight


def forward_block(model: MLP, p: Pass, batch: Batch, row: int, layer: int, unit: int) -> None:
    f = unit_forward(model, p, row, layer, unit)
    st.plotly_chart(fs.weighted_sum_figure(f), key="step_sum", width="stretch")
    top = pd.DataFrame({"input i": f.top, "h_i (input)": f.inputs[f.top], "w_ij": f.weights[f.top],
                        "h_i · w_ij": f.products[f.top]})
    c1, c2 = st.columns([3, 2])
    c1.dataframe(top, hide_index=True, width="stretch")
    what = "h = z (a logit: no activation)" if f.activation == "none" else f"h = {f.activation}(z) = {f.h:.6g}"
    c2.markdown(f"Σ over all {f.inputs.size} inputs = **{f.total:.6g}**  \n+ b = {f.bias:.6g}  \n"
                f"= z = **{f.z:.6g}**  \n{what}")
    code_expander(MLP.forward_cached, "this unit's z and h", marker="Z = H @ self.weights[l]")
    out = output_step(p, batch, row)
    st.plotly_chart(fs.softmax_figure(out), key="step_softmax", width="stretch")
    exps = " + ".join(f"{e:.3g}" for e in out.exps)
    st.markdown(f"exp(z_k − max z): {exps} = **{out.exp_sum:.5g}**; p_{out.label} = "
                f"{out.exps[out.label]:.4g} / {out.exp_sum:.5g} = **{out.probs[out.label]:.5g}**; "
                f"loss for this {noun()} −log p_{out.label} = **{out.loss:.5g}** (the batch's loss, their mean: "
                f"{p.loss:.5g})")
    code_expander(softmax_cross_entropy, "the softmax and the loss", marker="loss = -np.mean")


def backward_block(model: MLP, p: Pass, batch: Batch, row: int, layer: int, unit: int) -> int:
    """The error arriving at the unit and its weights' gradients; returns the input i of the weight looked at."""
    n = batch.X.shape[0]
    st.markdown(f"At the output, dL/dz = (p − onehot(y)) / n with n = {n}, for this {noun()}:")
    st.dataframe(pd.DataFrame([p.dZ_out[row]], columns=[str(k) for k in range(10)]), hide_index=True)
    b = unit_backward(model, p, row, layer, unit)
    if layer < model.n_layers:
        terms = pd.DataFrame({"unit k above": b.above_top, "W[j, k]": model.weights[layer][unit, b.above_top],
                              "δ_k": p.deltas[layer][row, b.above_top], "W[j, k] · δ_k": b.from_above[b.above_top]})
        st.dataframe(terms, hide_index=True, width="stretch")
        name = model.config.activations[layer - 1]
        gate = _gate_sentence(name, b.fprime)
        st.markdown(f"dH = Σ_k W[j, k] δ_k = **{b.dH:.6g}**; f′(z) = {b.fprime:.6g} ({gate}); "
                    f"δ_j = dH · f′(z) = **{b.delta:.6g}**")
        z = float(p.cache.pre[layer - 1][row, unit])
        st.plotly_chart(fs.gate_figure(name, z, b.fprime), key="step_gate", width="stretch")
    else:
        st.markdown(f"This is an output unit: its δ is dL/dz itself, **{b.delta:.6g}**.")
    default = strongest_input(b.dW_column)
    i = st.number_input(f"Look at the weight from input i (0 to {b.dW_column.size - 1})", 0,
                        b.dW_column.size - 1, st.session_state.get("step_weight", default), key="step_weight",
                        help="Which weight W[i, j] of this unit the gradient, the update and the check use. It "
                             "starts at the one with the largest gradient.")
    h = p.cache.inputs[layer - 1][:, i]
    d = p.deltas[layer - 1][:, unit]
    st.markdown(f"dL/dW[{i}, {unit}] = Σ over the batch of h_i · δ_j = "
                + " + ".join(f"{a:.3g}·{c:.3g}" for a, c in zip(h, d)) + f" = **{b.dW_column[i]:.6g}**")
    if layer == 1 and b.dW_column.size == 784:
        st.plotly_chart(fs.filter_gradient_figure(b.dW_column, unit), key="step_filter_grad", width="stretch")
    code_expander(MLP.backward, "these gradients", marker="dW[l] = ")
    return int(i)


def _gate_sentence(activation: str, fprime: float) -> str:
    if activation == "relu":
        return "z > 0: the gate is open, the error passes" if fprime > 0 else "z ≤ 0: the gate is shut, no error passes"
    return f"the slope of {activation} at z"


def update_block(session: StepSession, p: Pass, batch: Batch, layer: int, i: int, unit: int) -> None:
    opt = session.optimizer
    u = preview_update(opt, session.model, layer, i, unit, float(p.dW[layer - 1][i, unit]))
    rows = [("w before", u.weight), ("g = dL/dw", u.grad), ("lr", u.lr)]
    rows += [(f"{k} before", v) for k, v in u.state_before.items()]
    rows += [(f"{k} after", v) for k, v in u.state_after.items()]
    rows += list(u.corrected.items()) + [("w after", u.weight_after), ("change", u.change)]
    st.markdown(f"**{u.rule}**, step t = {u.t}, learning rate {u.lr:g}"
                + (f", weight decay {opt.weight_decay:g}" if opt.weight_decay else "") + ":")
    st.dataframe(pd.DataFrame(rows, columns=["", "value"]), hide_index=True)
    rule = type(opt).update
    marker = "p -=" if "p -=" in listing(rule).text else "p +="  # the line that moves the weight
    code_expander(rule, f"the {u.rule} rule", marker=marker)


def take_steps_block(session: StepSession, batch: Batch, row: int, layer: int, i: int, unit: int,
                     run: TrainingRun | None = None) -> None:
    paused = run is not None and run.trainer is not None and run.phase == RunState.PAUSED.value
    to_run = paused and st.checkbox(
        "Also take it in the paused run", key="step_to_run",
        help=f"The same step of the run's own optimizer on these {noun(plural=True)}, in the run itself (float32): when you "
             "resume, it carries on from there. Without this, only the copy here changes.")
    c1, c2 = st.columns(2)
    if c1.button("Take this step", icon=":material/footprint:", key="step_take", type="primary",
                 help=f"Exactly one step of the run's optimizer on these {noun(plural=True)}, on a float64 copy of the model "
                      "(your model and its run are not changed, unless you ask). Press again to walk on."):
        before = float(session.model.weights[layer - 1][i, unit])
        session.step(batch)
        st.session_state["step_last"] = (before, float(session.model.weights[layer - 1][i, unit]))
        if to_run:
            run.train_on(batch.X.astype(np.float32), batch.y)
            session.origin = run.model_copy()[1]  # the run's new weights are this walk's, not a new start
            st.success("The paused run took the same step; Resume on the Train page carries on from it.")
    c2.button("Back to the model", icon=":material/restart_alt:", key="step_reset", on_click=reset_session,
              help="Forget the steps taken and start again from the model's weights.")
    if session.steps:
        last = session.steps[-1]
        label = int(batch.y[row])
        before_w, after_w = st.session_state.get("step_last", (float("nan"), float("nan")))
        st.markdown(f"Step {len(session.steps)}: loss on these {noun(plural=True)} {last.loss_before:.5f} → "
                    f"**{last.loss_after:.5f}**; this {noun()}'s p({class_label(label)}) {fmt_pct(last.probs_before[row, label], 2)}"
                    f" → **{fmt_pct(last.probs_after[row, label], 2)}**; W[{i}, {unit}] {before_w:.6g} → "
                    f"**{after_w:.6g}**")
        st.plotly_chart(fs.step_probabilities_figure(last.probs_before[row], last.probs_after[row], label),
                        key="step_probs", width="stretch")
        losses = pd.DataFrame({"step": range(1, len(session.steps) + 1),
                               "loss before": [s.loss_before for s in session.steps],
                               "loss after": [s.loss_after for s in session.steps]})
        st.dataframe(losses, hide_index=True, height=min(38 * (len(losses) + 1), 300))


def gradient_check_block(model: MLP, batch: Batch, layer: int, i: int, unit: int) -> None:
    eps = st.select_slider("ε, the nudge", EPS_CHOICES, value=1e-6, format_func=lambda e: f"{e:.0e}",
                           key="step_eps", help="How far the weight is moved each way. About 1e-6 is best in "
                                                "float64; try 1e-1 and 1e-12 to see why.")
    check = gradient_check(model, batch, layer, i, unit, eps)
    st.markdown(f"(L(w + ε) − L(w − ε)) / 2ε = **{check.numeric:.10g}**; backprop: **{check.analytic:.10g}**; "
                f"relative error **{check.rel_error:.1e}**. {_agreement(check)}")
    if abs(check.analytic) < 1e-12:
        st.info("Pick a weight with a gradient (the input field above starts at the strongest one) to see how "
                "the error depends on ε.")
    else:
        eps_values, errors = error_by_eps(model, batch, layer, i, unit)
        st.plotly_chart(fs.eps_figure(eps_values, errors, eps), key="step_eps_chart", width="stretch")
    st.caption("How to read this: with a large ε the difference quotient is itself an approximation (its "
               "error shrinks like ε²); with a tiny ε the two losses agree to almost every decimal place, and rounding "
               "(about 1e-16 of the loss) divided by ε dominates. In between, the two methods agree.")
    if st.button("Check 20 random weights", key="step_check20",
                 help="Central differences for 20 weights drawn from every layer in turn, among those with a "
                      f"gradient on these {noun(plural=True)} (a weight whose input is always 0 has none), each next to backprop."):
        checks = random_checks(model, batch, np.random.default_rng(), count=20, eps=eps)
        sci = st.column_config.NumberColumn(format="%.6e")
        st.dataframe(pd.DataFrame([{"layer": c.layer, "i": c.i, "j": c.j, "backprop": c.analytic,
                                    "finite difference": c.numeric, "relative error": c.rel_error}
                                   for c in checks]), hide_index=True, width="stretch",
                     column_config={"backprop": sci, "finite difference": sci,
                                    "relative error": st.column_config.NumberColumn(format="%.1e")})


def _agreement(check: GradientCheck) -> str:
    if abs(check.analytic) < 1e-12 and abs(check.numeric) < 1e-9:
        return f"This weight does not change the loss on these {noun(plural=True)} (its input is 0 or its unit is off)."
    if check.rel_error < 1e-6:
        return "They agree: the chain rule in backward computes the true derivative of the loss."
    return ("They disagree more than rounding explains: at this ε the approximation is poor, or the weight "
            "sits at a ReLU's kink, where the derivative jumps.")


def digits_caption(numbers: list[int], labels: np.ndarray, predicted: np.ndarray) -> list[str]:
    return [f"#{n}: a {class_label(y)}, read as {class_label(pred)}" for n, y, pred in zip(numbers, labels, predicted)]

