"""Memcached: stats and a guarded ``flush_all`` (``cockpit memcached``, step ``memcached.flush``)."""
