"""Every Redis key name the project uses, built in one place.

Each counter's keys share the hash tag ``{ns/key}`` and each namespace's keys share
``{ns}``, so every script touches one hash slot and runs unchanged on Redis Cluster.
Names reach this module validated (see ``names.py``): a ``{`` or ``}`` in a name would
move the slot. The layout of each key is described in ``docs/architecture.md`` (Key layout).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder bound to one prefix (default ``cnt:``)."""

    prefix: str = "cnt:"

    def counter(self, namespace: str, key: str) -> str:
        return f"{self.prefix}{{{namespace}/{key}}}"

    def history(self, namespace: str, key: str) -> str:
        """The compact daily and hourly history string (``lua/lib/history.lua``)."""
        return f"{self.prefix}{{{namespace}/{key}}}:h"

    def legacy_daily(self, namespace: str, key: str) -> str:
        """Before 0.2: one hash of daily counts; read only to migrate it."""
        return f"{self.prefix}{{{namespace}/{key}}}:d"

    def legacy_hourly(self, namespace: str, key: str, day: str) -> str:
        """Before 0.2: one hash of hourly counts per ``yyyymmdd``; read only to migrate it."""
        return f"{self.prefix}{{{namespace}/{key}}}:h:{day}"

    def namespace_index(self, namespace: str) -> str:
        return f"{self.prefix}idx:{{{namespace}}}"

    def hit_log(self, namespace: str) -> str:
        return f"{self.prefix}log:{{{namespace}}}"

    def hit_sequence(self, namespace: str) -> str:
        return f"{self.prefix}seq:{{{namespace}}}"

    def export(self, namespace: str, export_id: str) -> str:
        return f"{self.prefix}exp:{{{namespace}}}:{export_id}"

    def export_payload(self, namespace: str, export_id: str) -> str:
        return f"{self.prefix}exp:{{{namespace}}}:{export_id}:gz"

    def export_sequence(self) -> str:
        return f"{self.prefix}expseq"

    def export_namespace(self, export_id: str) -> str:
        # Export ids are global integers (shell clients read them with ``jq .id``),
        # so a lookup key finds the namespace slot that holds the job.
        return f"{self.prefix}expns:{{{export_id}}}"

    def recent_visits(self, namespace: str) -> str:
        return f"{self.prefix}vis:{{{namespace}}}"

    def token(self, digest: str) -> str:
        return f"{self.prefix}tok:{{{digest}}}"

    def token_names(self) -> str:
        return f"{self.prefix}tokens"

    def idempotency(self, token_digest: str, key_digest: str) -> str:
        return f"{self.prefix}idem:{{{token_digest}}}:{key_digest}"

    def rate_limit(self, bucket: str) -> str:
        return f"{self.prefix}rl:{{{bucket}}}"

    def stats(self) -> str:
        return f"{self.prefix}stats"

    def session_secret(self, day: str) -> str:
        """The secret that keys one UTC day's session digests (``hits.py``)."""
        return f"{self.prefix}sess:{day}"

    # Site statistics (GoatCounter's dashboard numbers), all in the namespace's slot {ns}.
    def site_stat(self, namespace: str, name: str) -> str:
        """``pid``, ``pinfo``, ``ptot``, ``meta``, or a time bucket such as ``m:202611``."""
        return f"{self.prefix}gs:{{{namespace}}}:{name}"

    def session(self, namespace: str, digest: str) -> str:
        return f"{self.prefix}gs:{{{namespace}}}:ses:{digest}"

    def site_index(self) -> str:
        """Every namespace that has statistics (a set; its own slot)."""
        return f"{self.prefix}gs:sites"
