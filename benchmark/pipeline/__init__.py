"""The stages of a run: train, generate and evaluate, measure the real images, carry out a plan
(:mod:`.execute`)."""
