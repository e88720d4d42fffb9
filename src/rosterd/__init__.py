"""rosterd: a self-hosted, multi-tenant user directory."""

__version__ = "0.1.0"
