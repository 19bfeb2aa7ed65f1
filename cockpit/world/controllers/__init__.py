"""The simulated control plane, one module per controller (run together by
:class:`cockpit.world.controller.Controller`, the control loop):

- :mod:`.deployment` — the deployment controller: ReplicaSets per template, revisions, rolling
  and recreate updates, history limits, pause, status and conditions;
- :mod:`.replicaset` — the ReplicaSet controller: pods up and down to ``spec.replicas``, status;
- :mod:`.kubelet` — the scheduler and kubelet: nodes, IPs, container start, readiness, crash loops;
- :mod:`.common` — what they share: how an image behaves, Events, small readers of objects.
"""
