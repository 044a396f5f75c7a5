"""Step through: one training step of your network on a few digits, with every number, the code beside it,
and a gradient check."""

import numpy as np
import streamlit as st

from dashboard import step_view as sv
from dashboard.data import get_dataset
from dashboard.explain import test_data
from dashboard.session import current_model, get_session
from figures import step_through as fs
from figures.draw import input_figure
from lab.labels import label, noun
from lab.params import knobs_to_config
from lab.selection import selected_customdata
from lab.step_session import train_config_for
from lab.step_through import Batch, full_pass
from nn.model import MLP

st.title("Step through one training step")
st.caption("Forward, backward and the update for the unit you click, with the real numbers of your network "
           f"on the {noun(plural=True)} you pick, in float64 on a copy: your model is never changed.")

session = get_session()
settings = knobs_to_config(session.knobs)
view = current_model()
if view is None:
    model, origin, config = MLP(settings.model, np.random.default_rng(settings.seed)), "fresh", settings
    st.info("No trained model yet, so this is a fresh network of the Train page's settings, with random "
            "weights: the most instructive case, where every step changes a lot.")
else:
    model, origin, config = view.model, view.version, train_config_for(view.meta, settings)
run = session.run if view is not None and view.source in ("training", "trained") else None
walk = sv.step_session(origin, model, config, run)
if view is not None:
    how = (f"its optimizer continues the run's own ({walk.config.optimizer}, after {walk.optimizer.t:,} steps)"
           if sv.idle(run) else f"a fresh {walk.config.optimizer} optimizer (the run's own state is read only "
                                "while it is paused or over)")
    st.caption(f"Working on {view.description}; {how}.")

get_dataset()
data = test_data()
numbers = sv.pick_digits(len(data.labels))
if numbers is None:
    st.stop()
batch = Batch(data.X[numbers].astype(np.float64), data.labels[numbers])
p = full_pass(walk.model, batch)
predicted = np.argmax(p.logits, axis=1)
row = st.radio(f"The {noun()} shown number by number", range(len(numbers)), horizontal=True, key="step_row",
               format_func=sv.digits_caption(numbers, batch.y, predicted).__getitem__,
               help=f"Forward and backward are shown for this {noun()}; the gradients and the step use the whole batch.")
sv.on_picture_click(selected_customdata(st.session_state.get("step_net")))  # a click since the last run
layer, unit = sv.select_unit(walk.model)

left, right = st.columns([1, 4])
left.plotly_chart(input_figure(data.images[numbers[row]], title=f"Test {noun()} #{numbers[row]}, a {label(batch.y[row])}",
                               height=260), key="step_digit", width="stretch")
right.plotly_chart(fs.network_figure(walk.model, p, row, (layer, unit)), key="step_net", on_select="rerun",
                   selection_mode="points", width="stretch")
st.caption("How to read this: columns are layers, dots their units (a sample of wide layers: the ones most tied "
           f"to the selected unit, then the most active), coloured by their value for this {noun()}, blue positive "
           "and red negative, each column on its own scale; lines are the selected unit's weights, width |w|. "
           "Click a unit to select it.")

st.header(f"1. Forward: layer {layer}, unit {unit}")
sv.forward_block(walk.model, p, batch, row, layer, unit)
st.header("2. Backward: where the error comes from")
i = sv.backward_block(walk.model, p, batch, row, layer, unit)
st.header(f"3. The update of W[{i}, {unit}]")
sv.update_block(walk, p, batch, layer, i, unit)
sv.take_steps_block(walk, batch, row, layer, i, unit, run)
st.header("4. Is backprop right? A gradient check")
sv.gradient_check_block(walk.model, batch, layer, i, unit)
