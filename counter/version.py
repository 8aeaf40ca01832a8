"""The package version, in one place (read by hatch, ``/stats`` and ``--version``)."""

__version__ = "0.1.0"
