"""Kubernetes: rollout history, kubectl-exact rollback, progress, pods and events."""
