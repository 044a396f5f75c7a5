"""The fast engine: the textbook network's arithmetic (nn/model.py, nn/optim.py) made fast.

Internal: only the trainer (nn/trainer/) imports it. It trains an ordinary :class:`nn.model.MLP` in
place, so a model it trained is saved, drawn and inspected like any other. Proven equal to the textbook
by tests/test_engine_equals_textbook.py.

    buffers.py     workspaces per batch size, the memory a run needs
    step.py        Engine: the in-place fused step, the batch source and staging, inference for the trainer
    shares.py      what each member of a team computes (rows forward, parameter slices backward)
    flat_optim.py  the optimizers' rules over one flat buffer, or one slice of it
    threads.py     a team of threads;  processes.py  a team of forked processes over shared memory
"""
