"""Data-parallel work on PyTorch's own machinery: the worker process group and DDP wrapping
(:mod:`.workers`), evaluation shared by the workers (:mod:`.sharded`) and the elastic launcher
(:mod:`.launcher`)."""
