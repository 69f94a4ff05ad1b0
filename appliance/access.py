"""Who may see a job: the keys that prove ownership of a session or of one job.

A job belongs to its session; whoever can prove either may read it, follow it, cancel it and
confirm its delivery. Nothing else gives access: not the job id, and not a video link (video
keys are opaque, ``appliance.storage.base.new_key``).

- A session's key is ``<session id>.<signature>``: an HMAC-SHA256 of the id. The web page keeps
  it in the browser (local storage), so "your videos" survives a reload and a restart; the API
  returns it as ``session_token`` when it makes a session. A browser cannot make a key to
  someone else's session, and a key without a valid signature proves nothing.
- A job's key (``job_token``, returned by the API when the job is made) is an HMAC-SHA256 of the
  job id: it proves that one job only, so it can be handed on without the rest of the session.

Both are derived from the appliance's signing key (``APPLIANCE_SIGNING_KEY``, or the key kept in
the data directory), which never leaves the server, each under a purpose of its own, so neither
can stand in for the other or for a video URL's signature. Nothing is stored per key: any process
on the data directory (and any appliance configured with the same signing key) checks them, and
they stay valid across restarts. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from appliance.config import Settings
from appliance.errors import ValidationError
from appliance.models import check_uuid4
from appliance.storage.local import load_or_create_signing_key

_SESSION_PURPOSE = b"manim-appliance web session key v1"  # v1: the web page's keys stay valid
_JOB_PURPOSE = b"manim-appliance job token v1"
_STORAGE_PURPOSE = b"manim-appliance web browser storage v1"
MAX_TOKEN_CHARS = 200


class AccessKeys:
    """Signs session ids and job ids, and checks what clients send back."""

    def __init__(self, signing_key: bytes) -> None:
        self._session_key = hmac.new(signing_key, _SESSION_PURPOSE, hashlib.sha256).digest()
        self._job_key = hmac.new(signing_key, _JOB_PURPOSE, hashlib.sha256).digest()
        # Gradio's BrowserState encrypts what it stores with a secret it sends to the page:
        # not a secret from the visitor, only a stable one, so a restart does not forget the
        # visitor. Derived separately: it reveals nothing about the signing key.
        self.storage_secret = hmac.new(signing_key, _STORAGE_PURPOSE, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def for_settings(cls, settings: Settings) -> AccessKeys:
        return cls(load_or_create_signing_key(settings.data_dir, settings.signing_key))

    # -- sessions ----------------------------------------------------------------------------

    def sign(self, session_id: str) -> str:
        """The session's key: ``<session id>.<signature>``."""
        return f"{session_id}.{_mac(self._session_key, session_id)}"

    def verify(self, token: object) -> str | None:
        """The session id in ``token`` when the signature is this server's, else None."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        session_id, _, signature = token.partition(".")
        try:
            check_uuid4(session_id, "session_id")
        except ValidationError:
            return None
        return session_id if _same(signature, _mac(self._session_key, session_id)) else None

    # -- jobs --------------------------------------------------------------------------------

    def job_token(self, job_id: str) -> str:
        """The key to one job."""
        return _mac(self._job_key, job_id)

    def proves_job(self, token: object, job_id: str) -> bool:
        return isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS and _same(token, self.job_token(job_id))

    def owns(self, job_id: str, session_id: str, tokens: tuple[str | None, ...]) -> bool:
        """Whether any of ``tokens`` is the key to the job or to its session."""
        return any(token and (self.proves_job(token, job_id) or self.verify(token) == session_id)
                   for token in tokens)


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    # compare_digest on bytes: a str with non-ASCII characters would raise TypeError.
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())
