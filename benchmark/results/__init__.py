"""Results: the record types every stage shares, the SQLite results store, aggregation over seeds
and bootstrap intervals of per-image metrics."""
