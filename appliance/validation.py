from __future__ import annotations
COMPAT_PRELUDE = ""
def validate_and_repair(code_or_reply: str, max_bytes: int = 60000):
    raise NotImplementedError
