"""Why did the network answer that: NumPy functions on a trained ``nn.model.MLP``, one question per module.

    calibration   is "90% sure" right 90% of the time? reliability bins, ECE, one temperature
    ablation      which hidden units matter? the network with some units switched off or scaled
    gradients     d(any unit or logit difference)/d(input), by the chain rule from any layer down
    saliency      why 3 and not 8? integrated gradients of the logit difference against a blank image
    flip          what would make it an 8? the smallest change found by projected gradient steps in [0, 1]
    prototypes    what does a perfect 3 look like to it? gradient ascent with L2 and blur penalties
    neighbours    which training digits does it look like? cosine nearest neighbours, in any layer

Nothing here changes the model: every function reads its weights and computes on copies of the inputs.
"""
