"""The merchant console: a static page served by the service itself (see endpoints.py)."""
