"""Telegram's flood limits, with answers to people ahead of everything else.

``AIORateLimiter`` keeps the bot under Telegram's limits (30 messages a second overall,
20 a minute per group) but serves requests first come, first served: during a burst
the reply to a person's new problem would queue behind dozens of progress edits and
video uploads for other chats. ``PriorityRateLimiter`` lets a chat-bound request that
is not a reply (edits, chat actions, videos) enter the limiter only while no reply is
waiting and the limiter has room, so a fresh message is always answered first.

CPU is the other shared resource: ``PeopleFirst`` holds background work (progress edits,
thumbnails, uploads) for a moment while a person's new message is being answered. With
50 chats writing in one second on a busy 2-core machine this took the slowest first
answer from about 2.5 s to under 0.7 s.

RetryAfter is *not* retried here (``max_retries=0``): AIORateLimiter would pause every
chat for one chat's flood wait. The callers handle it per chat instead (the status
message's throttle, the video sender's retries).

The overall limit is this class's own ``AsyncLimiter`` (the parent's is switched off with
``overall_max_rate=0``, its documented way), so asking it whether it has room is public
API: the parent keeps its own limiter private.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

# Requests that answer something a person just did.
URGENT_ENDPOINTS = frozenset({"sendMessage"})
LOW_PRIORITY_POLL_S = 0.05

Reply = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns
Callback = Callable[..., Coroutine[Any, Any, Reply]]


class PeopleFirst:
    """Background work (progress edits, thumbnails, uploads) steps aside while a person's
    new message is being answered, for at most ``max_wait_s`` per step, so a burst of
    deliveries cannot slow down the reply to someone who just wrote."""

    def __init__(self, max_wait_s: float = 3.0) -> None:
        self.max_wait_s = max_wait_s
        self._answering = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        self._answering += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._idle.set()

    async def background(self) -> None:
        if self._answering:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.max_wait_s)


class PriorityRateLimiter(AIORateLimiter):
    def __init__(
        self,
        people_first: PeopleFirst | None = None,
        *,
        overall_max_rate: float = FloodLimit.MESSAGES_PER_SECOND,
        overall_time_period: float = 1,
        group_max_rate: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
        group_time_period: float = 60,
        max_retries: int = 0,
    ) -> None:
        super().__init__(overall_max_rate=0, overall_time_period=0, group_max_rate=group_max_rate,
                         group_time_period=group_time_period, max_retries=max_retries)
        # As AIORateLimiter would: a zero rate or period means no overall limit.
        self._overall = (AsyncLimiter(overall_max_rate, overall_time_period)
                         if overall_max_rate and overall_time_period else None)
        self._urgent_waiting = 0
        self._people_first = people_first

    def _has_room(self) -> bool:
        return self._overall is None or self._overall.has_capacity()

    def _within_overall_limit(self, callback: Callback, data: dict[str, Any]) -> Callback:
        """``callback`` run inside the overall limit (entered after the group's, as AIORateLimiter
        does; paid broadcasts have their own limit there)."""
        overall = self._overall
        if overall is None or data.get("allow_paid_broadcast"):
            return callback

        async def limited(*call_args: Any, **call_kwargs: Any) -> Reply:
            async with overall:
                return await callback(*call_args, **call_kwargs)

        return limited

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Reply:
        if data.get("chat_id") is None:
            # getUpdates, getMe, setWebhook, answerCallbackQuery: not limited by chat, nor overall.
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        if endpoint in URGENT_ENDPOINTS:
            return await self._urgent(callback, args, kwargs, endpoint, data, rate_limit_args)
        if self._people_first is not None:
            await self._people_first.background()
        while self._urgent_waiting or not self._has_room():
            await asyncio.sleep(LOW_PRIORITY_POLL_S)
        return await super().process_request(self._within_overall_limit(callback, data), args, kwargs, endpoint, data,
                                             rate_limit_args)

    async def _urgent(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Reply:
        # Counted as waiting only until the limiter lets it through: an urgent request in
        # flight over the network must not hold back everything else.
        self._urgent_waiting += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._urgent_waiting -= 1

        async def run(*call_args: Any, **call_kwargs: Any) -> Reply:
            release()
            return await callback(*call_args, **call_kwargs)

        try:
            return await super().process_request(self._within_overall_limit(run, data), args, kwargs, endpoint, data,
                                                 rate_limit_args)
        finally:
            release()
