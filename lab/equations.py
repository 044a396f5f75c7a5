"""The network's equations as LaTeX, filled in with the layer sizes of a given architecture (pure strings)."""

from __future__ import annotations

from nn.config import ModelConfig

_ACT_TEX = {"relu": r"\operatorname{relu}", "leaky_relu": r"\operatorname{lrelu}", "sigmoid": r"\sigma",
            "tanh": r"\tanh"}
_ACT_DEF = {
    "relu": r"\operatorname{relu}(z) = \max(0, z)",
    "leaky_relu": r"\operatorname{lrelu}(z) = \max(\alpha z, z)",
    "sigmoid": r"\sigma(z) = \frac{1}{1 + e^{-z}}",
    "tanh": r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}",
}


def forward_lines(config: ModelConfig) -> list[str]:
    """One LaTeX line per layer: h_l = f(h_{l-1} W_l + b_l) with every shape written out (batch-first)."""
    sizes = config.layer_sizes
    n_layers = len(sizes) - 1
    lines = []
    for layer in range(1, n_layers + 1):
        fan_in, fan_out = sizes[layer - 1], sizes[layer]
        prev = "x" if layer == 1 else f"h^{{({layer - 1})}}"
        shapes = (rf"\quad {prev} \in \mathbb{{R}}^{{n \times {fan_in}}},\;"
                  rf"W^{{({layer})}} \in \mathbb{{R}}^{{{fan_in} \times {fan_out}}},\;"
                  rf"b^{{({layer})}} \in \mathbb{{R}}^{{{fan_out}}}")
        if layer < n_layers:
            act = _ACT_TEX[config.activations[layer - 1]]
            lines.append(rf"z^{{({layer})}} = {prev}\, W^{{({layer})}} + b^{{({layer})}},\;\; "
                         rf"h^{{({layer})}} = {act}\!\left(z^{{({layer})}}\right)" + shapes)
        else:
            lines.append(rf"z = z^{{({layer})}} = {prev}\, W^{{({layer})}} + b^{{({layer})}} "
                         rf"\in \mathbb{{R}}^{{n \times {fan_out}}}" + shapes)
    return lines


def activation_definitions(config: ModelConfig) -> list[str]:
    return [_ACT_DEF[a] for a in dict.fromkeys(config.activations)]


SOFTMAX = r"p_{ik} = \frac{e^{z_{ik}}}{\sum_{j=0}^{9} e^{z_{ij}}} \qquad \text{(probability that image } i \text{ is of class } k\text{)}"
LOSS = r"L = -\frac{1}{n} \sum_{i=1}^{n} \log p_{i, y_i} \qquad \text{(cross-entropy: small when the true class } y_i \text{ gets a high probability)}"


def backprop_lines(config: ModelConfig) -> list[str]:
    """The backward pass for this depth: output error, gradients, error sent one layer down."""
    n_layers = len(config.layer_sizes) - 1
    top = n_layers
    lines = [
        rf"\delta^{{({top})}} = \frac{{\partial L}}{{\partial z}} = \frac{{1}}{{n}}\left(p - \operatorname{{onehot}}(y)\right)"
        rf" \in \mathbb{{R}}^{{n \times {config.n_classes}}}",
        r"\frac{\partial L}{\partial W^{(l)}} = {h^{(l-1)}}^{\top} \delta^{(l)}, \qquad "
        r"\frac{\partial L}{\partial b^{(l)}} = \sum_{i=1}^{n} \delta^{(l)}_{i}, \qquad h^{(0)} = x",
    ]
    if n_layers > 1:
        layers = ", ".join(str(k) for k in range(top, 1, -1)) if top <= 4 else f"{top}, \\dots, 2"
        lines.append(r"\delta^{(l-1)} = \left(\delta^{(l)} {W^{(l)}}^{\top}\right) \odot f'\!\left(z^{(l-1)}\right)"
                     rf" \qquad l = {layers}")
    lines.append(r"W^{(l)} \leftarrow W^{(l)} - \eta \, \frac{\partial L}{\partial W^{(l)}} \qquad "
                 r"\text{(plain gradient descent; momentum and Adam refine this step)}")
    return lines
