"""Helm releases: history, list and diff read from the cluster (:mod:`.releases`); rollback
with Helm's own code (:mod:`.helmcode`, :mod:`.steps`); headless commands (:mod:`.commands`)."""
