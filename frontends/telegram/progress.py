"""The status message of a job, edited in place as the job moves.

Telegram allows about one message per second in a private chat and 20 per minute in
a group, and answers an edit that changes nothing with "message is not modified".
So a ``StatusMessage`` keeps only the text it *wants* to show, and a single task per
message pushes the latest wanted text whenever the chat's ``ChatThrottle`` gives it a
turn: intermediate states that were overtaken are skipped, an identical text is never
sent, and the final text (``finish``) is always sent, retried through flood waits and
network errors. None of these errors ever reaches the person.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters

from frontends.telegram.errors import Fault, TelegramError, classify

log = logging.getLogger(__name__)

PRIVATE_EDIT_INTERVAL_S = 1.5
GROUP_EDIT_INTERVAL_S = 3.0  # 20 messages a minute per group
FINAL_ATTEMPTS = 5


def is_group(chat_id: int) -> bool:
    return chat_id < 0


class ChatThrottle:
    """Hands out edit turns per chat, at most one per interval, in order of asking."""

    def __init__(self, private_interval_s: float = PRIVATE_EDIT_INTERVAL_S,
                 group_interval_s: float = GROUP_EDIT_INTERVAL_S) -> None:
        self.private_interval_s = private_interval_s
        self.group_interval_s = group_interval_s
        self._next: dict[int, float] = {}

    def _interval(self, chat_id: int) -> float:
        return self.group_interval_s if is_group(chat_id) else self.private_interval_s

    def _forget_idle(self, now: float) -> None:
        if len(self._next) > 10_000:
            for chat_id, at in list(self._next.items()):
                if at < now:
                    del self._next[chat_id]

    async def turn(self, chat_id: int) -> None:
        """Wait for this chat's next slot (slots are reserved, so waiters never collide)."""
        now = time.monotonic()
        self._forget_idle(now)
        slot = max(now, self._next.get(chat_id, 0.0))
        self._next[chat_id] = slot + self._interval(chat_id)
        if slot > now:
            await asyncio.sleep(slot - now)

    def sent(self, chat_id: int) -> None:
        """A message went to the chat outside ``turn`` (a reply, a video): count it."""
        now = time.monotonic()
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), now + self._interval(chat_id))

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram said RetryAfter: nothing more to this chat for that long."""
        until = time.monotonic() + seconds
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), until)


class StatusMessage:
    """One job's status message. ``show`` never blocks; ``finish`` returns once the final
    text is on screen (or every attempt failed, which is logged)."""

    def __init__(self, bot: Bot, chat_id: int, throttle: ChatThrottle, *, message_id: int | None = None,
                 text: str | None = None, markup: InlineKeyboardMarkup | None = None,
                 reply_to: int | None = None) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.reply_to = reply_to
        self._throttle = throttle
        self._shown: tuple[str, str | None] | None = (text, _markup_key(markup)) if text is not None else None
        self._wanted: tuple[str, InlineKeyboardMarkup | None] | None = None
        self._final = False
        self._gone = False  # the person deleted the message: no more progress, final goes anew
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.edits = 0

    # -- public ------------------------------------------------------------------------------

    def show(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        if self._final:
            return
        self._wanted = (text, markup)
        self._wake.set()
        self._ensure_task()

    async def finish(self, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Show the final text (always sent, never throttled away). True when it is shown."""
        self._wanted = (text, markup)
        self._final = True
        self._wake.set()
        task = self._ensure_task()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        return self._shown is not None and self._shown[0] == text

    async def close(self) -> None:
        """Stop without a final text (shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the one task that talks to Telegram ---------------------------------------------------

    def _ensure_task(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"status-{self.chat_id}-{self.message_id}")
        return self._task

    async def _run(self) -> None:
        final_attempts = 0
        while True:
            if not self._final:
                await self._wake.wait()
            self._wake.clear()
            wanted = self._wanted
            if wanted is None or self._is_shown(wanted):
                if self._final:
                    return
                continue
            if self._gone and not self._final:
                continue
            await self._throttle.turn(self.chat_id)
            wanted = self._wanted  # the latest, after waiting for the turn
            if wanted is None:
                continue
            final = self._final
            done = await self._apply(wanted, final)
            if final:
                final_attempts += 1
                if done or final_attempts >= FINAL_ATTEMPTS:
                    if not done:
                        log.warning("gave up showing the final status in chat %s", self.chat_id)
                    return
            elif not done:
                self._wake.set()  # try again at the next turn

    def _is_shown(self, wanted: tuple[str, InlineKeyboardMarkup | None]) -> bool:
        return self._shown == (wanted[0], _markup_key(wanted[1]))

    async def _apply(self, wanted: tuple[str, InlineKeyboardMarkup | None], final: bool) -> bool:
        """One attempt to put ``wanted`` on screen. True: done (shown, or not worth retrying)."""
        text, markup = wanted
        try:
            if self.message_id is None or self._gone:
                reply = (ReplyParameters(self.reply_to, allow_sending_without_reply=True)
                         if self.reply_to and not self._gone else None)
                message: Message = await self.bot.send_message(self.chat_id, text, reply_markup=markup,
                                                               reply_parameters=reply)
                self.message_id = message.message_id
                self._gone = False
            else:
                await self.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id,
                                                 reply_markup=markup)
                self.edits += 1
            self._shown = (text, _markup_key(markup))
            return True
        except TelegramError as exc:
            return await self._failed(exc, text, markup, final)

    async def _failed(self, exc: TelegramError, text: str, markup: InlineKeyboardMarkup | None, final: bool) -> bool:
        failure = classify(exc)
        fault = failure.fault
        if fault is Fault.FLOOD:
            log.info("flood wait %.1fs for chat %s", failure.retry_after_s, self.chat_id)
            self._throttle.hold(self.chat_id, failure.retry_after_s + 0.5)
            return False
        if fault is Fault.NOT_MODIFIED:
            self._shown = (text, _markup_key(markup))
            return True
        if fault is Fault.MESSAGE_GONE:
            self._gone = True
            return not final  # the final text goes out as a new message
        if fault in (Fault.TOO_LARGE, Fault.REFUSED):
            log.warning("status edit refused in chat %s: %s", self.chat_id, exc)
            return True
        if fault is Fault.BLOCKED:
            log.info("chat %s blocked the bot: %s", self.chat_id, exc)
            return True
        if fault in (Fault.NETWORK, Fault.TIMED_OUT):
            log.info("status edit in chat %s failed (%s); will retry", self.chat_id, exc)
            if final:
                await asyncio.sleep(1.0)
            return False
        log.warning("status edit in chat %s failed: %s", self.chat_id, exc)
        return True


def _markup_key(markup: InlineKeyboardMarkup | None) -> str | None:
    return None if markup is None else markup.to_json()
