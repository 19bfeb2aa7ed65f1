"""CDN cache purges: Cloudflare (``purge_cache``) and Fastly (purge all, surrogate keys).

:mod:`backends.cdn.client` is the port (:class:`CdnPurger`) and its two implementations over
httpx with tenacity retries; :mod:`backends.cdn.steps` the ``cdn.purge`` step kind;
:mod:`backends.cdn.commands` ``cockpit cdn purge``.
"""
