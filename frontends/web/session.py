"""The browser's key to its session: the session id, signed by the server.

The page keeps ``<session id>.<signature>`` in the browser (local storage), so "your videos"
survives a reload and a restart. The keys are made and checked by ``appliance.access``: the same
key proves the session to the HTTP API (``X-Session-Token``), and an id without a valid
signature is ignored (the visitor starts a new session).
"""

from __future__ import annotations

from appliance.access import AccessKeys

SessionKeys = AccessKeys

__all__ = ["SessionKeys"]
