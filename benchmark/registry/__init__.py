"""The registries built from the plugins (:mod:`.plugins`), the pretrained files they need
(:mod:`.weights`) and the published checkpoints of the model zoo (:mod:`.zoo`)."""
