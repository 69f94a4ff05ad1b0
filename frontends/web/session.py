"""The browser's key to its session: the session id, signed by the server.

The page keeps ``<session id>.<signature>`` in the browser (local storage), so "your videos"
survives a reload and a restart. The signature is an HMAC-SHA256 of the id under a key derived
from the appliance's signing key (``APPLIANCE_SIGNING_KEY``, or the key kept in the data
directory), which never leaves the server: a browser cannot make a key to someone else's
session, and an id without a valid signature is ignored (the visitor starts a new session).
"""

from __future__ import annotations

import hashlib
import hmac

from appliance.config import Settings
from appliance.models import check_uuid4
from appliance.storage.local import load_or_create_signing_key

_PURPOSE = b"manim-appliance web session key v1"
_STORAGE_PURPOSE = b"manim-appliance web browser storage v1"


class SessionKeys:
    """Signs session ids for the browser and checks what the browser sends back."""

    def __init__(self, signing_key: bytes) -> None:
        self._key = hmac.new(signing_key, _PURPOSE, hashlib.sha256).digest()
        # Gradio's BrowserState encrypts what it stores with a secret it sends to the page:
        # not a secret from the visitor, only a stable one, so a restart does not forget the
        # visitor. Derived separately: it reveals nothing about the signing key.
        self.storage_secret = hmac.new(signing_key, _STORAGE_PURPOSE, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def for_settings(cls, settings: Settings) -> SessionKeys:
        return cls(load_or_create_signing_key(settings.data_dir, settings.signing_key))

    def sign(self, session_id: str) -> str:
        return f"{session_id}.{self._signature(session_id)}"

    def verify(self, token: object) -> str | None:
        """The session id in ``token`` when the signature is this server's, else None."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        session_id, _, signature = token.partition(".")
        try:
            check_uuid4(session_id, "session_id")
        except ValueError:
            return None
        if not hmac.compare_digest(signature.encode(), self._signature(session_id).encode()):
            return None
        return session_id

    def _signature(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()
