"""MLflow, offline by default: a local file store in ``<run>/mlruns`` (``mlflow ui --backend-store-uri
<run>/mlruns`` shows it), or the server of ``MLFLOW_TRACKING_URI`` when that is set.

The experiment is ``MLFLOW_EXPERIMENT_NAME`` (default "bench"), the run is named after the row; the
resolved plan is the artifact ``plan.json``. Needs ``pip install 'bench[mlflow]'``.
"""

from __future__ import annotations

import os

from benchmark import Logger, hookimpl


class MLflow(Logger):
    """Losses and metrics as MLflow metrics by step, sample grids and the plan as artifacts."""

    name = "mlflow"
    summary = "MLflow run, a file store in the run folder unless MLFLOW_TRACKING_URI is set"
    extra = "mlflow"

    def __init__(self):
        self.client = None
        self.run_id = None

    def start(self, run):
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI") or (run.folder / "mlruns").resolve().as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "bench")
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found is not None else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment, run_name=run.label).info.run_id
        self.client.log_dict(self.run_id, run.plan, "plan.json")

    def losses(self, step, values):
        for name, value in values.items():
            self.client.log_metric(self.run_id, f"loss/{name}", value, step=step)

    def metrics(self, step, values):
        for name, value in values.items():
            self.client.log_metric(self.run_id, f"metric/{name}", value, step=step)

    def image(self, step, tag, array):
        self.client.log_image(self.run_id, array, f"{tag}/{step:07d}.png")

    def close(self):
        if self.run_id is not None:
            self.client.set_terminated(self.run_id)
            self.run_id = None


@hookimpl
def register_loggers(register):
    register(MLflow())
