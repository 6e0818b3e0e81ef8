"""Sweeps: the (row, seed) jobs of a run as separate processes (:mod:`.jobs`), and where they run
(:mod:`.executors`: local processes or Slurm)."""
