"""A neural network for handwritten digits, written from scratch in NumPy."""
