"""The embedded simulated world behind ``cockpit --drill`` and ``cockpit world serve``.

A Kubernetes API subset served over HTTP/1.1 on loopback (real kubectl 1.20–1.33 drives it),
a deployment-controller simulation that builds rollout history the way a real cluster does,
and simulated services whose errors and latency depend on the image that serves.

Modules (standard library plus PyYAML and pydantic; nothing here imports textual or kubernetes):

- :mod:`.world` — :class:`~cockpit.world.world.World`, the whole thing, embeddable;
- :mod:`.serve` — ``serve()``, the foreground server behind ``cockpit world serve``;
  :mod:`.process` — that server as a child process (``cockpit --drill``);
- :mod:`.scenario` — the YAML scenario format, ``list_scenarios()``, ``load_scenario()``;
- the API: :mod:`.resources` (the kinds served, Leases included), :mod:`.discovery`,
  :mod:`.verbs` (get/list/watch/create/update/patch/delete, 403 ``forbid``), :mod:`.server`
  (HTTP/1.1, watch streams, Status errors), :mod:`.tables` (server-side Tables);
- :mod:`.store` — the versioned, indexed, watchable object store;
- :mod:`.controller` — the control loop that runs :mod:`.controllers` (deployment, ReplicaSet,
  kubelet) in simulated time;
- :mod:`.patch`, :mod:`.selectors`, :mod:`.kube`, :mod:`.protobuf` — the API's building blocks;
- :mod:`.services` — the simulated HTTP services and their traffic.

Import the submodules directly (``from cockpit.world.world import World``); this package
imports nothing so that ``import cockpit.world`` stays free.
"""
