"""Data: dataset specs and loaders (:mod:`.dataset`), training and evaluation tensors
(:mod:`.transforms`), verified downloads, safe archive extraction and staged imports."""
