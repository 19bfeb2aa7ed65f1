"""Traffic shifting backends: HAProxy's runtime API (``haproxy.py``) and the Gateway API's
HTTPRoute weights (``gateway.py``), both implementing :class:`cockpit.traffic.TrafficPort`;
the ``traffic.shift`` step kind (``steps.py``) and ``cockpit traffic`` (``commands.py``)."""
