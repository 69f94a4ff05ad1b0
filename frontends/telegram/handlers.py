"""What the bot does with each kind of update.

Text is a problem: it is submitted through ``Appliance.submit`` and answered at once
with a status message that ``JobTracker`` then keeps current. Commands, inline buttons,
and everything a person might send that is not a text problem (photos, stickers,
voice, files, edits) each get a short answer; in groups the bot only listens when it
is addressed (a mention, a reply to it, or a command). A photo or file whose caption
is a problem is taken as that problem. Refusals of the same kind (per kind of message:
photo, voice, sticker, ...) are not repeated to a chat within ``REFUSAL_QUIET_S``, so a
flood (or a photo album) is answered once, and another kind is still answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from appliance.config import Settings
from appliance.errors import InvalidTransition, LimitExceeded, NotFound, ProblemRejected, ValidationError
from appliance.models import (
    PROBLEM_MAX_CHARS,
    PROBLEM_MIN_CHARS,
    ProcessingJob,
    ProcessingStatus,
)
from appliance.service import Appliance, Channel
from frontends.telegram.delivery import reply_parameters
from frontends.telegram.errors import TelegramError
from frontends.telegram.keyboards import (
    CANCEL_PREFIX,
    EXAMPLE_PREFIX,
    LANGUAGE_PREFIX,
    cancel_markup,
    examples_markup,
    language_markup,
)
from frontends.telegram.progress import ChatThrottle
from frontends.telegram.ratelimit import PeopleFirst
from frontends.telegram.texts import (
    DEFAULT_LANGUAGE,
    EXAMPLES,
    LANGUAGES,
    history_line,
    language_of,
    preview,
    status_line,
    status_message,
    t,
)
from frontends.telegram.tracking import JobTracker, Tracked

log = logging.getLogger(__name__)
S = ProcessingStatus

REFUSAL_QUIET_S = 20.0
HISTORY_SHOWN = 10
LANGUAGE_CACHE_SIZE = 10_000
COMMANDS = ("start", "help", "status", "cancel", "history", "language", "voice")

COMMAND_WINDOW_S = 60.0
ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


class Handlers:
    def __init__(self, appliance: Appliance, settings: Settings, tracker: JobTracker, throttle: ChatThrottle,
                 people_first: PeopleFirst | None = None) -> None:
        self.appliance = appliance
        self.settings = settings
        self.tracker = tracker
        self.throttle = throttle
        self.people_first = people_first or PeopleFirst()
        self._languages: OrderedDict[int, str] = OrderedDict()
        self._refused: dict[tuple[int, str], float] = {}
        self._commands: dict[int, deque[float]] = {}  # per chat: when its recent commands came

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        new = filters.UpdateType.MESSAGE  # edited messages go to on_edited, never run again
        commands = {"start": self.on_start, "help": self.on_help, "status": self.on_status,
                    "cancel": self.on_cancel, "history": self.on_history, "language": self.on_language,
                    "voice": self.on_voice}
        # Commands and buttons are answered first (ratelimit.py): each chat gets a bounded share,
        # so one chatty chat cannot keep everyone else's answers and videos waiting.
        for name in COMMANDS:
            application.add_handler(CommandHandler(name, self.limited(commands[name]), filters=new))
        application.add_handler(CallbackQueryHandler(self.limited(self.on_callback)))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        application.add_handler(MessageHandler(new & filters.COMMAND, self.limited(self.on_unknown_command)))
        application.add_handler(MessageHandler(new & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(new & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_not_text))
        application.add_error_handler(self.on_error)

    # -- helpers -------------------------------------------------------------------------------

    def limited(self, handler: Handler) -> Handler:
        """``handler`` for at most ``APPLIANCE_TELEGRAM_COMMANDS_PER_MINUTE`` updates a chat a
        minute; beyond that the chat is told once (per quiet period) and the rest are ignored."""
        async def within_limit(update: Update, context: Context) -> None:
            chat = update.effective_chat
            if chat is None or self._command_allowed(chat.id):
                await handler(update, context)
                return
            lang = await self._lang_of(update)
            if update.callback_query is not None:
                await self._answer(update.callback_query, t(lang, "too_many_commands"))
            else:
                await self._refuse(context.bot, chat.id, "too_many_commands", t(lang, "too_many_commands"), None)

        return within_limit

    def _command_allowed(self, chat_id: int) -> bool:
        now = time.monotonic()
        if len(self._commands) > LANGUAGE_CACHE_SIZE:
            self._commands = {chat: times for chat, times in self._commands.items()
                              if times and times[-1] > now - COMMAND_WINDOW_S}
        times = self._commands.setdefault(chat_id, deque())
        while times and times[0] <= now - COMMAND_WINDOW_S:
            times.popleft()
        if len(times) >= self.settings.telegram_commands_per_minute:
            return False
        times.append(now)
        return True

    @staticmethod
    async def _is_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.info("could not ask whether user %s administers chat %s: %s", user_id, chat_id, exc)
            return False
        return member.status in ADMIN_STATUSES

    async def language(self, chat_id: int, user_language_code: str | None = None) -> str:
        """The chat's language: its session's preference; a brand-new session adopts the
        person's Telegram language when the bot speaks it."""
        cached = self._languages.get(chat_id)
        if cached:
            self._languages.move_to_end(chat_id)
            return cached
        session = await self.appliance.session_for_chat(chat_id)
        lang = session.language_preference if session.language_preference in LANGUAGES else DEFAULT_LANGUAGE
        detected = language_of(user_language_code)
        brand_new = session.created_at == session.last_activity and session.total_submissions == 0
        if brand_new and detected and detected != lang:
            session = await self.appliance.set_language(session.session_id, detected)
            lang = detected
        self._remember_language(chat_id, lang)
        return lang

    def _remember_language(self, chat_id: int, lang: str) -> None:
        self._languages[chat_id] = lang
        self._languages.move_to_end(chat_id)
        while len(self._languages) > LANGUAGE_CACHE_SIZE:
            self._languages.popitem(last=False)

    async def _lang_of(self, update: Update) -> str:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None:
            return DEFAULT_LANGUAGE
        return await self.language(chat.id, user.language_code if user else None)

    @staticmethod
    async def _reply(bot: Bot, chat_id: int, text: str, reply_to: int | None = None,
                     reply_markup: InlineKeyboardMarkup | None = None) -> Message | None:
        reply = reply_parameters(reply_to)
        try:
            return await bot.send_message(chat_id, text, reply_parameters=reply, reply_markup=reply_markup)
        except TelegramError as exc:
            log.info("could not answer chat %s: %s", chat_id, exc)
            return None

    async def _refuse(self, bot: Bot, chat_id: int, kind: str, text: str, reply_to: int | None) -> None:
        """Answer a refusal, but only once per kind and chat within the quiet period."""
        now = time.monotonic()
        if len(self._refused) > LANGUAGE_CACHE_SIZE:
            self._refused = {key: until for key, until in self._refused.items() if until > now}
        if self._refused.get((chat_id, kind), 0.0) > now:
            return
        self._refused[(chat_id, kind)] = now + REFUSAL_QUIET_S
        await self._reply(bot, chat_id, text, reply_to)

    @staticmethod
    def _is_private(update: Update) -> bool:
        return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE

    @staticmethod
    def _from_person(message: Message) -> bool:
        return message.from_user is not None and not message.from_user.is_bot and message.via_bot is None

    @staticmethod
    def addressed_text(message: Message, bot: Bot) -> str | None:
        """In a group: the text without the bot's mention when the bot is addressed, else None."""
        text = message.text or message.caption or ""
        username = (getattr(bot, "username", None) or "").lower()
        addressed = False
        cleaned = text
        entities = (message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]) if message.text
                    else message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]))
        for entity, value in entities.items():
            mentioned = (
                (entity.type == MessageEntity.MENTION and username and value.lower() == f"@{username}")
                or (entity.type == MessageEntity.TEXT_MENTION and entity.user is not None
                    and entity.user.id == bot.id)
            )
            if mentioned:
                addressed = True
                cleaned = cleaned.replace(value, " ", 1)
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            addressed = True
        return " ".join(cleaned.split()) if addressed else None

    # -- problems ------------------------------------------------------------------------------

    async def on_text(self, update: Update, context: Context) -> None:
        message, chat = update.message, update.effective_chat
        if message is None or chat is None or not self._from_person(message):
            return
        text = message.text or ""
        if not self._is_private(update):
            addressed = self.addressed_text(message, context.bot)
            if addressed is None:
                return  # group chatter not meant for the bot
            text = addressed
        async with self.people_first.answering():
            lang = await self._lang_of(update)
            await self.submit(context.bot, chat.id, text, lang, reply_to=message.message_id,
                              requester=message.from_user.id if message.from_user else None)

    async def submit(self, bot: Bot, chat_id: int, text: str, lang: str, reply_to: int | None = None,
                     requester: int | None = None) -> str | None:
        """Queue a problem and answer with its status message; the job id, or None if refused.
        ``requester`` is the user who asked (in a group, only they or an admin may cancel it)."""
        try:
            response = await self.appliance.submit(text, Channel.telegram(chat_id, language=lang))
        except ProblemRejected as exc:
            if exc.rule == "invalid_text" and exc.character is not None:
                answer = t(lang, "invalid_text", code=f"U+{ord(exc.character):04X}", position=exc.position)
            elif exc.rule == "max_length":
                answer = t(lang, "too_long", max=PROBLEM_MAX_CHARS, length=len(text.strip()))
            else:
                answer = t(lang, "too_short", min=PROBLEM_MIN_CHARS, example=EXAMPLES[0])
            await self._refuse(bot, chat_id, f"problem_{exc.rule}", answer, reply_to)
            return None
        except LimitExceeded as exc:
            if exc.reason == "active_limit":
                answer = t(lang, "active_limit", limit=self.settings.max_active_jobs_per_session)
            elif exc.reason == "queue_full":
                answer = t(lang, "queue_full")
            else:
                answer = t(lang, "hourly_limit", limit=self.settings.max_submissions_per_hour)
            await self._refuse(bot, chat_id, exc.reason, answer, reply_to)
            return None
        except ValidationError as exc:
            log.warning("submission from chat %s refused: %s", chat_id, exc)
            await self._refuse(bot, chat_id, "invalid", t(lang, "internal_error"), reply_to)
            return None

        job_id = response.job_id
        # The place at submission; a worker may have taken it since.
        position = response.queue_position or await asyncio.to_thread(self.appliance.queue_position, job_id)
        line = t(lang, "status_queued_at", position=position) if position else t(lang, "status_queued")
        shown: str | None = status_message(text, line)
        sent = await self._reply(bot, chat_id, shown or "", reply_to, reply_markup=cancel_markup(job_id, lang))
        if sent is None:
            shown = None  # the tracker sends a fresh status message at the next change
        else:
            self.throttle.sent(chat_id)
        self.tracker.track(Tracked(job_id, chat_id, sent.message_id if sent else None, lang, reply_to,
                                   requester=requester), shown_text=shown)
        return job_id

    # -- things that are not text problems -------------------------------------------------------

    async def on_not_text(self, update: Update, context: Context) -> None:
        message, chat = update.message, update.effective_chat
        if message is None or chat is None or not self._from_person(message):
            return
        caption = message.caption or ""
        if not self._is_private(update):
            addressed = self.addressed_text(message, context.bot)
            if addressed is None:
                return
            caption = addressed
        async with self.people_first.answering():
            lang = await self._lang_of(update)
            if caption.strip():
                # A photo or a file with the problem written in its caption: the caption is the problem.
                await self.submit(context.bot, chat.id, caption, lang, reply_to=message.message_id,
                                  requester=message.from_user.id if message.from_user else None)
                return
            # One answer per kind of message within the quiet period: an album of photos is answered
            # once, but a voice message after a sticker is answered too.
            await self._refuse(context.bot, chat.id, f"not_text:{attachment_kind(message)}",
                               t(lang, "not_text", example=EXAMPLES[0]), message.message_id)

    async def on_edited(self, update: Update, context: Context) -> None:
        message, chat = update.edited_message, update.effective_chat
        if message is None or chat is None or not self._is_private(update) or not self._from_person(message):
            return  # in a group an edit is none of the bot's business
        lang = await self._lang_of(update)
        await self._refuse(context.bot, chat.id, "edited", t(lang, "edited"), message.message_id)

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        message, chat = update.message, update.effective_chat
        if message is None or chat is None or not self._from_person(message):
            return
        if not self._is_private(update):
            command = (message.text or "").split()[0]
            username = (context.bot.username or "").lower()
            if not command.lower().endswith(f"@{username}"):
                return  # probably meant for another bot in the group
        lang = await self._lang_of(update)
        await self._refuse(context.bot, chat.id, "unknown_command", t(lang, "unknown_command"), message.message_id)

    # -- commands ----------------------------------------------------------------------------------

    async def on_start(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        text = t(lang, "start", example1=EXAMPLES[0], example2=EXAMPLES[1])
        await self._reply(context.bot, chat.id, text, reply_markup=examples_markup())

    async def on_help(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        text = t(lang, "help", min=PROBLEM_MIN_CHARS, max=PROBLEM_MAX_CHARS,
                 active=self.settings.max_active_jobs_per_session, hourly=self.settings.max_submissions_per_hour)
        await self._reply(context.bot, chat.id, text)

    async def on_history(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        session = await self.appliance.session_for_chat(chat.id)
        entries = (await self.appliance.history(session.session_id))[:HISTORY_SHOWN]
        if not entries:
            await self._reply(context.bot, chat.id, t(lang, "history_empty"))
            return
        lines = [t(lang, "history_title"), *(history_line(entry, lang) for entry in entries)]
        await self._reply(context.bot, chat.id, "\n".join(lines))

    async def on_language(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        await self._reply(context.bot, chat.id, t(lang, "language_prompt"), reply_markup=language_markup())

    async def on_voice(self, update: Update, context: Context) -> None:
        """Narrated or silent videos from now on, for this chat: ``/voice`` switches, ``/voice on``
        and ``/voice off`` say which."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        session = await self.appliance.session_for_chat(chat.id)
        current = session.voice_preference if session.voice_preference is not None else self.settings.voice_default
        asked = (context.args or [""])[0].strip().lower() if context.args else ""
        wanted = {"on": True, "off": False}.get(asked, not current)
        await self.appliance.set_voice(session.session_id, wanted)
        await self._reply(context.bot, chat.id, t(lang, "voice_on" if wanted else "voice_off"))

    async def _jobs(self, chat_id: int) -> list[ProcessingJob]:
        session = await self.appliance.session_for_chat(chat_id)
        jobs = await self.appliance.jobs_of(session.session_id)
        return sorted(jobs, key=lambda job: job.created_at)

    async def on_status(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        jobs = await self._jobs(chat.id)
        active = [job for job in jobs if job.status is S.QUEUED or job.status.is_in_flight]
        if active:
            lines = []
            for job in active:
                position = await asyncio.to_thread(self.appliance.queue_position, job.job_id)
                lines.append(status_message(job.problem_text, status_line(job, lang, position)))
            await self._reply(context.bot, chat.id, "\n\n".join(lines))
        elif jobs:
            last = jobs[-1]
            line = f"{preview(last.problem_text, 60)}: {status_line(last, lang)}"
            await self._reply(context.bot, chat.id, t(lang, "last_job", line=line))
        else:
            await self._reply(context.bot, chat.id, t(lang, "nothing_running"))

    async def _may_cancel(self, bot: Bot, chat_id: int, job_id: str, user_id: int) -> bool:
        """In a group: the member who asked for the job, or an admin of the chat. (A job whose
        asker is not known, e.g. followed from before this was recorded: admins only.)"""
        return self.tracker.requester_of(job_id) == user_id or await self._is_admin(bot, chat_id, user_id)

    async def on_cancel(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang_of(update)
        # In a group /cancel stops the sender's own videos (all of them for an admin).
        user = update.effective_user
        admin = self._is_private(update) or (user is not None and await self._is_admin(context.bot, chat.id, user.id))
        cancelled = 0
        for job in await self._jobs(chat.id):
            if not admin and (user is None or self.tracker.requester_of(job.job_id) != user.id):
                continue
            if job.status is S.QUEUED or (job.status.is_in_flight and not job.cancel_requested):
                try:
                    await self.appliance.cancel(job.job_id)
                    cancelled += 1
                except (InvalidTransition, NotFound):
                    pass  # it finished meanwhile
        text = t(lang, "cancelled_some", count=cancelled) if cancelled else t(lang, "nothing_to_cancel")
        await self._reply(context.bot, chat.id, text)

    # -- inline buttons ------------------------------------------------------------------------------

    async def on_callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        lang = await self.language(chat_id, query.from_user.language_code)
        if data.startswith(EXAMPLE_PREFIX):
            index = data.removeprefix(EXAMPLE_PREFIX)
            await self._answer(query)
            if index.isdigit() and int(index) < len(EXAMPLES):
                async with self.people_first.answering():
                    await self.submit(context.bot, chat_id, EXAMPLES[int(index)], lang, requester=query.from_user.id)
        elif data.startswith(LANGUAGE_PREFIX):
            await self._set_language(query, chat_id, data.removeprefix(LANGUAGE_PREFIX))
        elif data.startswith(CANCEL_PREFIX):
            await self._cancel_button(context.bot, query, chat_id, data.removeprefix(CANCEL_PREFIX), lang)
        else:
            await self._answer(query)

    @staticmethod
    async def _answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
        try:
            await query.answer(text, show_alert=alert)
        except TelegramError as exc:  # the query is older than Telegram keeps it: harmless
            log.info("could not answer a button press: %s", exc)

    async def _set_language(self, query: CallbackQuery, chat_id: int, code: str) -> None:
        if code not in LANGUAGES:
            await self._answer(query)
            return
        session = await self.appliance.session_for_chat(chat_id)
        await self.appliance.set_language(session.session_id, code)
        self._remember_language(chat_id, code)
        await self._answer(query, t(code, "language_set"))
        try:
            await query.edit_message_text(t(code, "language_set"))
        except TelegramError as exc:
            log.info("could not edit the language prompt: %s", exc)

    async def _cancel_button(self, bot: Bot, query: CallbackQuery, chat_id: int, job_id: str, lang: str) -> None:
        try:
            job = await self.appliance.get(job_id)
        except NotFound:
            await self._answer(query, t(lang, "already_finished"))
            return
        if job.telegram_chat_id != str(chat_id):
            await self._answer(query, t(lang, "not_yours"), alert=True)
            return
        in_group = query.message is not None and query.message.chat.type != ChatType.PRIVATE
        if in_group and not await self._may_cancel(bot, chat_id, job.job_id, query.from_user.id):
            await self._answer(query, t(lang, "not_your_job"), alert=True)
            return
        try:
            await self.appliance.cancel(job_id)
        except InvalidTransition:
            await self._answer(query, t(lang, "already_finished"))
            return
        await self._answer(query, t(lang, "status_cancelling"))

    # -- errors -------------------------------------------------------------------------------------

    async def on_error(self, update: object, context: Context) -> None:
        error = context.error
        log.error("Telegram update failed: %s", error, exc_info=error)
        if isinstance(error, TelegramError) or not isinstance(update, Update):
            return  # talking to Telegram is what failed: do not try again to talk about it
        chat = update.effective_chat
        if chat is None:
            return
        try:
            lang = await self._lang_of(update)
        except Exception:
            lang = DEFAULT_LANGUAGE
        await self._reply(context.bot, chat.id, t(lang, "internal_error"))


# What a message may carry instead of text, in the Bot API's own field names.
ATTACHMENT_KINDS = ("photo", "sticker", "voice", "audio", "video", "video_note", "animation", "document",
                    "location", "venue", "contact", "poll", "dice", "game", "story")


def attachment_kind(message: Message) -> str:
    """The kind of a message that is not text (``photo``, ``voice``, ...), or ``other``."""
    return next((kind for kind in ATTACHMENT_KINDS if getattr(message, kind, None)), "other")
