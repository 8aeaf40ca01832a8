"""The Redis layer: how scripts reach a Redis server, and the embedded server itself.

``transport`` (the interface and the redis-py implementation), ``resp`` (the built-in
auto-pipelining RESP client), ``cluster`` (Redis Cluster), ``embedded`` (the redis-server
that ``counter serve`` starts). Imports nothing from the layers above it.
"""
