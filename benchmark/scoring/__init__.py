"""Measuring rows: images made outside bench, as a folder per test split (:mod:`.images`) or two
plain folders (:mod:`.folders`), and a stored row measured again (:mod:`.run_folder`,
``bench evaluate RUN_DIR``)."""
