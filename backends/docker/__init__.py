"""Docker: containers, image-tag history, careful container rollback, Compose.

Modules (none imports the docker SDK at import time; ``import docker`` inside this package
is the SDK, because imports are absolute):

- :mod:`backends.docker.client` — :class:`DockerBackend`: list, history, logs, and the
  mutating primitives, each refused in readonly before anything reaches the daemon.
- :mod:`backends.docker.spec` — pure: a container's inspect data -> the create request of
  its replacement on another image (configuration preserved, image defaults not frozen).
- :mod:`backends.docker.rollback` — the journaled, resumable rollback sequence.
- :mod:`backends.docker.compose` — rewrite a service's image in a compose file, keeping
  everything else byte for byte; apply with ``docker compose`` or the container rollback.
- :mod:`backends.docker.steps` — the ``docker.rollback`` step kind.
- :mod:`backends.docker.commands` — ``cockpit docker ps|history|rollback``.
"""
