"""The keys that prove who owns a job (appliance/access.py)."""

from __future__ import annotations

import uuid

from appliance.access import AccessKeys

KEYS = AccessKeys(b"k" * 32)
OTHER_SERVER = AccessKeys(b"o" * 32)


def test_a_session_key_proves_its_session_and_nothing_else() -> None:
    session_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    token = KEYS.sign(session_id)
    assert KEYS.verify(token) == session_id
    signature = token.partition(".")[2]
    for forged in (session_id, f"{other_id}.{signature}", OTHER_SERVER.sign(session_id), f"{session_id}.",
                   f"{session_id}.{signature[:-1]}", token + "0", "x" * 500, "\udfff", "é" * 10, None, 42):
        assert KEYS.verify(forged) is None, forged


def test_a_job_key_proves_its_job_only() -> None:
    job_id, other_job, session_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    token = KEYS.job_token(job_id)
    assert KEYS.proves_job(token, job_id) and KEYS.owns(job_id, session_id, (None, token))
    assert not KEYS.proves_job(token, other_job)
    assert not KEYS.proves_job(OTHER_SERVER.job_token(job_id), job_id)
    # The two kinds cannot stand in for each other: a job key is no session key, and the
    # session key of a session does not prove a job of another session.
    assert KEYS.verify(token) is None and not KEYS.proves_job(KEYS.sign(session_id), job_id)
    assert KEYS.owns(job_id, session_id, (KEYS.sign(session_id),))
    assert not KEYS.owns(job_id, session_id, (KEYS.sign(str(uuid.uuid4())), KEYS.job_token(other_job), None, ""))
    assert not KEYS.owns(job_id, session_id, ("\udfff", "é", "x" * 1000))
