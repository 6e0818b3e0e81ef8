"""`bench evaluate RUN_DIR`: build the run's plan again from its ``plan.json`` (with the user's
``--set`` on top), regenerate the test split from its last checkpoint and re-measure.

Re-measuring merges into the stored record: the metrics measured now replace the same
metrics, the others stay (``--set 'eval.metrics=["psnr"]'`` keeps FID, mIoU, ...).
"""

from __future__ import annotations

from pathlib import Path

from benchmark.pipeline.execute import Execution
from benchmark.results.records import RunRecord, record_to_dict
from benchmark.planning.checkpoint import load_checkpoint
from benchmark.planning.config import Layers
from benchmark.planning.plan import plan_from_run
from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.util.errors import BenchError
from benchmark.util.progress import Reporter


def evaluate_run(run_dir: Path, layers: Layers, reporter: Reporter, plugins=None) -> RunRecord:
    run = RunDir.open(run_dir)
    with RunLock(run):
        record = measure_again(run, layers, reporter, plugins)
    if run.read_record() is not None:  # the folder's copy of the record follows the store's
        run.write_record(record_to_dict(record), run.read_status() or {"status": record.status})
    return record


def measure_again(run: RunDir, layers: Layers, reporter: Reporter, plugins=None) -> RunRecord:
    from benchmark.scoring import images as score_images

    if score_images.is_scored(run):  # a row of images made outside bench: measure its images again
        return score_images.measure_again(run, layers, reporter, plugins)
    found = run.checkpoints()
    weights = run.read_plan().get("weights")
    if not found and isinstance(weights, dict):  # weights of another code base (benchmark.planning.foreign)
        stored = run.read_plan()
        again = f"--models {weights['zoo']}" if weights.get("zoo") else \
            f"--models {stored.get('model')} --checkpoint {weights.get('file')}"
        raise BenchError(f"{run.root}: the row evaluated {weights.get('format')} ({weights.get('file')}), which "
                         f"bench does not copy; evaluate it again with `bench run {again} --dataset "
                         f"{stored.get('dataset')}`")
    if not found:
        raise BenchError(f"{run.root}: the run has no checkpoint to evaluate; train it first (bench run)")
    state = load_checkpoint(found[-1])
    plan = plan_from_run(run, layers, plugins)
    execution = Execution(plan, reporter)
    (row,) = plan.rows
    data = execution.load_dataset()
    model = execution.build(row)
    model.load_state_dict(state["model"])
    metrics = execution.evaluate_model(model, row, data, run)
    store = execution.store
    existing = store.find_by_run_dir(str(run.root))
    if existing is not None and existing.id is not None:
        existing.metrics = store.merge_metrics(existing.id, metrics)
        return existing
    status = run.read_status()
    images = min(len(data.test), plan.config.eval.max_images or len(data.test))
    record = execution.measure.record(row, run, plan.row_plan(row), metrics, "ok", None,
                                      float(status.get("train_seconds", 0.0)), images)
    record.id = store.add_run(record)
    return record
