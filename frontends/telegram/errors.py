"""What a failed Bot API call means: python-telegram-bot's exceptions, translated in one place.

The rest of the bot catches ``TelegramError`` (re-exported here) and asks ``classify``
what happened; no other module imports ``telegram.error`` or reads an error's text.

    RetryAfter                          -> FLOOD (with the wait Telegram asked for)
    Forbidden                           -> BLOCKED (the person blocked the bot, or left)
    BadRequest "... not modified"       -> NOT_MODIFIED (an edit that changes nothing)
    BadRequest "... not found",
               "... can't be edited"    -> MESSAGE_GONE (the message to edit was deleted)
    BadRequest "too large" / "too big"  -> TOO_LARGE (a file over Telegram's limit)
    any other BadRequest                -> REFUSED
    TimedOut                            -> TIMED_OUT
    NetworkError                        -> NETWORK
    InvalidToken                        -> INVALID_TOKEN
    anything else                       -> OTHER

The Bot API tells its 400 answers apart only by their ``description`` (there is no code
for "message is not modified" or "message to edit not found"), and python-telegram-bot
raises one ``BadRequest`` for all of them, so those descriptions are read here and
nowhere else.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

__all__ = ["BotApiFailure", "Fault", "TelegramError", "classify"]


class Fault(StrEnum):
    FLOOD = "flood"
    BLOCKED = "blocked"
    NOT_MODIFIED = "not_modified"
    MESSAGE_GONE = "message_gone"
    TOO_LARGE = "too_large"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    NETWORK = "network"
    INVALID_TOKEN = "invalid_token"
    OTHER = "other"


# The faults python-telegram-bot files under NetworkError: the connection failed or timed
# out, or Telegram answered 400 (BadRequest is a NetworkError there).
_NETWORK_ERRORS = frozenset({Fault.NETWORK, Fault.TIMED_OUT, Fault.NOT_MODIFIED, Fault.MESSAGE_GONE,
                             Fault.TOO_LARGE, Fault.REFUSED})


@dataclass(frozen=True)
class BotApiFailure:
    fault: Fault
    retry_after_s: float = 0.0  # FLOOD: how long Telegram asked to wait

    @property
    def network_error(self) -> bool:
        """The request did not get a usable answer (python-telegram-bot's NetworkError family)."""
        return self.fault in _NETWORK_ERRORS


def classify(exc: TelegramError) -> BotApiFailure:
    if isinstance(exc, RetryAfter):
        return BotApiFailure(Fault.FLOOD, _retry_after_seconds(exc))
    if isinstance(exc, Forbidden):
        return BotApiFailure(Fault.BLOCKED)
    if isinstance(exc, BadRequest):
        return BotApiFailure(_bad_request_fault(str(exc).lower()))
    if isinstance(exc, TimedOut):
        return BotApiFailure(Fault.TIMED_OUT)
    if isinstance(exc, NetworkError):
        return BotApiFailure(Fault.NETWORK)
    if isinstance(exc, InvalidToken):
        return BotApiFailure(Fault.INVALID_TOKEN)
    return BotApiFailure(Fault.OTHER)


def _bad_request_fault(description: str) -> Fault:
    if "not modified" in description:
        return Fault.NOT_MODIFIED
    if "not found" in description or "can't be edited" in description:
        return Fault.MESSAGE_GONE
    if "too large" in description or "too big" in description:
        return Fault.TOO_LARGE
    return Fault.REFUSED


def _retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds."""
    # v22 returns int seconds with a deprecation warning, or a timedelta with PTB_TIMEDELTA=true.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
