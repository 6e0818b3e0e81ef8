"""The workers of a data-parallel `bench run` other than rank 0: they follow what rank 0 announces."""

from __future__ import annotations

from pathlib import Path

from benchmark.parallel import workers as distributed
from benchmark.rundir.layout import RunDir


def follow(execution) -> list:
    """A rank other than 0: load the dataset once rank 0 has prepared it, then do what rank 0
    announces, in lockstep with it: train a row (its run folder and checkpoint to resume from),
    evaluate it (each worker generates and measures its share; rank 0 sends the weights it read
    from a checkpoint), or measure the "real images" row. Rank 0 alone writes the run folder, records and store."""
    distributed.barrier()
    data = execution.load_dataset()
    rows = execution.rows()
    model = None
    while (message := distributed.announce(None)) is not None:
        kind, index, root, extra = message
        if kind == "train":
            model, _ = execution.train(rows[index], data, RunDir(Path(root)), extra)
        elif kind == "reference":  # the "real images" row at size ``extra``
            execution.measure.reference_row(data.train, execution.test_samples(data), extra)
        else:
            if extra is not None:
                model = execution.build(rows[index])
                model.load_state_dict(extra)
            execution.evaluate_model(model, rows[index], data, RunDir(Path(root)))
    return []
