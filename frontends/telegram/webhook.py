"""The webhook route Telegram calls in webhook mode, and its shared secret.

Telegram sends the secret given to ``set_webhook`` in ``X-Telegram-Bot-Api-Secret-Token``
on every call. The route compares it in constant time before reading anything else
(403 on a missing or wrong secret, and nothing is queued), refuses a body that is not
a Telegram update (400), hands the update to the bot's ``Application`` and answers 200
at once: Telegram waits for that answer before it sends the chat's next update.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import Update
from telegram.ext import Application

from appliance.config import Settings
from appliance.errors import ConfigError, ValidationError
from appliance.models import TelegramUpdate

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_FILE = "telegram-webhook.secret"
MAX_UPDATE_BYTES = 1024 * 1024  # updates are a few kB; anything near this is not Telegram
_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts


def webhook_secret(settings: Settings) -> str:
    """The configured secret, or one generated once and kept in the data directory (0600)."""
    if settings.telegram_webhook_secret:
        secret = settings.telegram_webhook_secret
        if not _SECRET_PATTERN.match(secret):
            raise ConfigError("APPLIANCE_TELEGRAM_WEBHOOK_SECRET may only hold 1-256 characters "
                              "A-Z, a-z, 0-9, _ and -")
        return secret
    path = settings.data_dir / SECRET_FILE
    existing = _read_secret(path)
    if existing:
        return existing
    secret = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _read_secret(path) or secret
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    return secret


def _read_secret(path: Path) -> str | None:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # it is a credential: owner only
    if not _SECRET_PATTERN.match(secret):
        raise ConfigError(f"{path} does not hold a valid webhook secret; delete it to make a new one")
    return secret


def _refuse(status: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "description": description}, status_code=status)


@dataclass
class WebhookCounts:
    """Updates the route took, and calls it refused for a wrong or missing secret."""

    accepted: int = 0
    refused: int = 0


def make_router(
    application: Application[Any, Any, Any, Any, Any, Any],
    secret: str,
    accepting: Callable[[], bool],
    counts: WebhookCounts,
) -> APIRouter:
    """``POST /telegram/webhook``: checked updates into ``application``'s queue while ``accepting()``."""
    router = APIRouter()
    expected = secret.encode("utf-8")

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> JSONResponse:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not given or not hmac.compare_digest(given, expected):
            counts.refused += 1
            return _refuse(403, "wrong or missing secret token")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPDATE_BYTES:
            return _refuse(413, "update too large")
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return _refuse(413, "update too large")
        try:
            data: Any = json.loads(body)
            TelegramUpdate.from_dict(data)  # the seed's payload shape
        except (ValueError, ValidationError) as exc:
            return _refuse(400, f"not a Telegram update: {exc}")
        try:
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # whatever PTB trips over in a malformed update
            return _refuse(400, f"not a Telegram update: {type(exc).__name__}")
        if not accepting():
            return _refuse(503, "the bot is starting or stopping")
        await application.update_queue.put(update)
        counts.accepted += 1
        return JSONResponse({"ok": True})

    return router
