"""Building blocks: activations, softmax, losses."""
