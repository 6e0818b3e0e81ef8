"""Independent re-implementations of other code bases' networks, written from their published layout,
used as references for the checkpoints bench imports."""
