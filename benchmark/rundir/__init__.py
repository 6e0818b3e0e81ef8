"""The run folder: its layout (:mod:`.layout`) and the lock that keeps one process in it (:mod:`.lock`)."""
