"""The engine: counters, tokens, the hit log, exports, rate limits and stats on Redis.

``store.Store`` composes one mixin per domain (``counters``, ``hitlog``, ``exports``,
``tokens``, ``ratelimits``, ``stats``) on ``base.StoreBase``, which owns the transport and
the registered Lua scripts. ``keys`` builds every Redis key; ``scripts`` loads ``lua/``.
Depends on ``counter.redis`` only; knows nothing of HTTP.
"""
