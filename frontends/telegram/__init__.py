"""The Telegram bot: python-telegram-bot v22, talking to the core only through ``Appliance``."""

from __future__ import annotations

from frontends.telegram.bot import TelegramFrontend, telegram_frontend

__all__ = ["TelegramFrontend", "telegram_frontend"]
