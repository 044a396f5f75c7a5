"""Home: what this is, where to start, and the equations of the current network."""

import streamlit as st

from dashboard.code_view import code_expander
from dashboard.data import dataset_now
from dashboard.session import current_model, get_session
from lab.equations import LOSS, SOFTMAX, activation_definitions, backprop_lines, forward_lines
from lab.labels import noun
from lab.params import knobs_to_config
from nn.fit import fit
from nn.losses import softmax, softmax_cross_entropy
from nn.model import MLP, param_count
from nn.optim import RULES, SGD, Optimizer

session = get_session()
data = dataset_now()
st.title(f"Watch a neural network learn to {data.task}")
st.markdown(
    "This is a small neural network written **from scratch in NumPy**, no deep-learning library: every "
    "multiplication below is visible in the code. You set its shape and how it learns, train it on "
    f"**{data.short}** (70,000 {data.pictures}, 28×28 pixels), watch it learn live, then look inside."
)

st.subheader("How to start")
c1, c2, c3 = st.columns(3)
with c1.container(border=True):
    st.markdown(f"**1. Look at the data**  \nWhat the {noun(plural=True)} look like, and what augmentation does to them.")
    st.page_link("app_pages/data.py", label="Data", icon=":material/grid_view:")
with c2.container(border=True):
    st.markdown("**2. Train**  \nPick the *quick* preset and press Start: watch the loss fall and the accuracy "
                "climb, epoch by epoch, to about 96% in 5-10 seconds.")
    st.page_link("app_pages/train.py", label="Train", icon=":material/model_training:")
with c3.container(border=True):
    st.markdown(f"**3. Look inside**  \nWhere it fails, what its neurons learned, and how it reads "
                f"{'your digit' if data.name == 'mnist' else 'one item'}.")
    st.page_link("app_pages/evaluate.py", label="Evaluate", icon=":material/fact_check:")
    st.page_link("app_pages/inspect.py", label="Inspect", icon=":material/biotech:")
    st.page_link("app_pages/draw.py", label=data.draw_title, icon=":material/draw:")
    st.page_link("app_pages/step.py", label="Step through one training step, number by number",
                 icon=":material/footprint:")

view = current_model()
if view is not None:
    config = view.model.config
    where = {"training": "the network training now", "trained": "your trained network",
             "uploaded": "the network you uploaded"}[view.source]
else:
    config = knobs_to_config(session.knobs).model
    where = "the network the Train page is set to build"

st.subheader("The equations of this network")
sizes = " → ".join(str(s) for s in config.layer_sizes)
st.caption(f"Filled in for {where}: layers {sizes}, {param_count(config):,} parameters. Shapes are "
           "batch-first: a batch of n images is an n × 784 matrix, one row per image, pixels scaled to 0..1.")
st.markdown("**Forward pass**: each layer multiplies by a weight matrix, adds a bias, and bends the result "
            "with a non-linearity.")
for line in forward_lines(config):
    st.latex(line)
if config.hidden:
    st.latex(r",\quad ".join(activation_definitions(config)))
code_expander(MLP.forward_cached, "the forward pass")
st.markdown("**Softmax** turns the 10 output scores into probabilities:")
st.latex(SOFTMAX)
code_expander(softmax, "softmax")
st.markdown("**Loss**: how surprised the network is by the true labels, averaged over the batch:")
st.latex(LOSS)
code_expander(softmax_cross_entropy, "the loss and its gradient at the output")
st.markdown("**Backpropagation**: the chain rule, applied from the output down, gives every weight's gradient; "
            "the optimizer then nudges each weight against its gradient.")
for line in backprop_lines(config):
    st.latex(line)
code_expander(MLP.backward, "backpropagation")
optimizer = RULES[knobs_to_config(session.knobs).optimizer]
code_expander(Optimizer.step, "one update of every weight (the loop all optimizers share)")
code_expander(optimizer.update, f"the update rule of {optimizer.__name__}, the optimizer the Train page is set to")
if optimizer is not SGD:
    code_expander(SGD.update, "plain gradient descent, the rule above")
st.markdown("**Training** repeats this for every batch: shuffle, then forward, loss, backward, update; "
            "then measure on the validation images. The app runs the same arithmetic through a fast "
            "engine (preallocated buffers, several cores), and tests prove the two give the same numbers.")
code_expander(fit, "the whole training loop")
