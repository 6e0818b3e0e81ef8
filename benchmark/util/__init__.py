"""Small utilities every layer may use: errors a user can cause, atomic writes, PNG input and output,
image grids, progress display, closest-name suggestions and ``--set``/TOML settings text."""
