"""Planning a run: the configuration layers (:mod:`.config`), the resolved plan (:mod:`.plan`),
devices, seeds, bench's own checkpoints (:mod:`.checkpoint`) and files of other code bases
(:mod:`.foreign`)."""
