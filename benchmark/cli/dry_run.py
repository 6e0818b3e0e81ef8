"""`bench run --dry-run`: the resolved plan as a person reads it (rows with their options and
training length, the protocol, the metrics and segmenter, the device), printed before anything
is loaded or trained; `--dry-run --json` prints the plan as JSON (what each run folder's
plan.json will hold)."""

from __future__ import annotations

import json

from benchmark.planning.plan import RunPlan


def plan_lines(plan: RunPlan) -> list[str]:
    cfg, spec = plan.config, plan.dataset
    test = spec.splits.get("test")
    images = (f"the first {cfg.eval.max_images} test images" if cfg.eval.max_images else
              "every test image" + (f" ({test} in the dataset's card)" if test else ""))
    lines = [f"dataset {spec.name} ({_options(plan.dataset_options.model_dump(mode='json'))}); profile {cfg.profile}; "
             f"device {plan.device}, precision {plan.precision}; output {cfg.output_root}",
             f"rows ({len(plan.rows)}):"]
    for row in plan.rows:
        run = row.run
        length = f"{run.steps} steps" if run.steps else f"{run.epochs} epoch(s) of {spec.splits.get('train', '?')} images"
        source = f"evaluates {row.foreign.path}" if row.foreign is not None else f"trains {length}, batch {run.batch_size}"
        lines.append(f"  {row.label}: {source}, at {plan.size(row).text()} px, seed {run.seed}; "
                     f"options {_options(row.options.model_dump(mode='json'))}")
    seg = plan.segmenter
    lines.append("metrics: " + ", ".join(m.name for m, _ in plan.metrics)
                 + (f"; segmenter {seg.name} ({_options(seg.options.model_dump(mode='json'))})" if seg else ""))
    lines.append(f"protocol: {images}, at the rows' resolution; distribution "
                 f"metrics against the real {cfg.eval.real_split} split"
                 + ("; a 'real images' row" if cfg.eval.reference_row else ""))
    lines.append("nothing was loaded or trained (--dry-run); drop --dry-run to run this plan")
    return lines


def plan_json(plan: RunPlan) -> str:
    return json.dumps(plan.to_dict(), indent=2, default=str)


def _options(values: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in values.items()) or "defaults"
