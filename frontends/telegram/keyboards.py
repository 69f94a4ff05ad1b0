"""Inline keyboards and their callback data (at most 64 bytes, so ids and indexes only)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from frontends.telegram.texts import EXAMPLES, LANGUAGES, clip, t

CANCEL_PREFIX = "cancel:"  # + job id (43 bytes in all)
EXAMPLE_PREFIX = "example:"  # + index into EXAMPLES
LANGUAGE_PREFIX = "lang:"  # + language code


def cancel_markup(job_id: str, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(lang, "button_cancel"),
                                                       callback_data=CANCEL_PREFIX + job_id)]])


def examples_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(clip(example, 60), callback_data=f"{EXAMPLE_PREFIX}{index}")]
        for index, example in enumerate(EXAMPLES)
    ])


def language_markup() -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(name, callback_data=LANGUAGE_PREFIX + code) for code, name in LANGUAGES.items()]
    return InlineKeyboardMarkup([buttons[:3], buttons[3:]])
