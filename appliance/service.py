"""``Appliance``: the facade every frontend uses, and nothing else.

    submit(problem_text, channel)   -> VideoGenerationResponse (validated, limited, queued)
    get(job_id) / watch(job_id)     -> the job / every status change as it happens
    mark_delivered(job_id)          -> DELIVERED, video deleted (or kept briefly for web replay)
    cancel(job_id)                  -> FAILED ("Cancelled")
    history(session_id), session(), set_language(), video_file(job_id), readiness(), metrics_text()

It owns the store, the worker's render slots, maintenance and the event hub. The
pipeline runs in worker threads; status changes reach async frontends through
``EventHub`` (thread-safe hand-over into each subscriber's event loop).

Processes may share a data directory (``appliance serve`` and ``appliance render`` beside
it, two renders at once), but only its owner (``appliance.ownership``) runs jobs: recovery,
render slots, the container sweep and maintenance. Any other is a follower: it submits into
the shared store and follows its jobs by polling the store while the owner's slots run them,
and it keeps trying the lock, so it takes over, re-queueing what the owner left, when that ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from appliance.admission import Admission
from appliance.config import Settings
from appliance.contracts import SceneSource, VideoStorage
from appliance.errors import InvalidTransition, LimitExceeded, NotFound, SandboxError, SandboxImageMissing
from appliance.maintenance import Maintenance
from appliance.metrics import Metrics
from appliance.models import (
    ACTIVE_STATUSES,
    ProcessingJob,
    ProcessingStatus,
    UserSession,
    VideoGenerationResponse,
    VideoMetadata,
    check_chat_id,
    normalize_problem_text,
)
from appliance.ownership import DataDirLock
from appliance.provisioning import ImageProvisioner
from appliance.sandbox.engines import RenderEngine
from appliance.storage.local import LocalStorage
from appliance.store import Store
from appliance.worker import Worker

log = logging.getLogger(__name__)
S = ProcessingStatus
WATCH_END_STATUSES = frozenset({S.READY, S.DELIVERED, S.FAILED, S.EXPIRED})
ADMISSION_REASONS = frozenset({"queue_full", "client_active_limit", "client_hourly_limit"})
# How often a follower tries to take the data directory over (a lock that is free now).
TAKEOVER_RETRY_S = 1.0


@dataclass(frozen=True)
class Channel:
    """Where a submission comes from: a Telegram chat, or a web/API/CLI session. ``client`` is the
    address an API or web request came from (``appliance.admission.client_key``): its per-client
    limits apply whatever session it names. None (Telegram, the CLI): no per-client limits."""

    kind: str  # "telegram" | "web" | "api" | "cli"
    chat_id: str | None = None
    session_id: str | None = None
    language: str | None = None
    client: str | None = None

    @classmethod
    def telegram(cls, chat_id: str | int, language: str | None = None) -> Channel:
        return cls("telegram", chat_id=str(chat_id), language=language)

    @classmethod
    def web(cls, session_id: str | None = None, language: str | None = None, client: str | None = None) -> Channel:
        return cls("web", session_id=session_id, language=language, client=client)


class EventHub:
    """Job snapshots from worker threads to async watchers, in order, none dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ProcessingJob]]]] = {}

    def subscribe(self, job_id: str) -> asyncio.Queue[ProcessingJob]:
        queue: asyncio.Queue[ProcessingJob] = asyncio.Queue()
        with self._lock:
            self._subscribers.setdefault(job_id, []).append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[ProcessingJob]) -> None:
        with self._lock:
            entries = [e for e in self._subscribers.get(job_id, []) if e[1] is not queue]
            if entries:
                self._subscribers[job_id] = entries
            else:
                self._subscribers.pop(job_id, None)

    def publish(self, job: ProcessingJob) -> None:
        with self._lock:
            entries = list(self._subscribers.get(job.job_id, []))
        for loop, queue in entries:
            with contextlib.suppress(RuntimeError):  # the loop closed: the watcher is gone
                loop.call_soon_threadsafe(queue.put_nowait, job)


class Appliance:
    """The service. Built by ``appliance.assemble.build_appliance``; ``await start()``, use it,
    ``await stop()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        source: SceneSource,
        storage: VideoStorage,
        metrics: Metrics,
        events: EventHub,
        engines: Sequence[RenderEngine],
        worker: Worker,
        maintenance: Maintenance,
        provisioner: ImageProvisioner,
        admission: Admission,
        run_workers: bool = True,
        run_maintenance: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.storage = storage
        self.metrics = metrics
        self.events = events
        self.engines = list(engines)  # the local engine first
        self.worker = worker
        self.maintenance = maintenance
        self.provisioner = provisioner
        self.admission = admission
        self._run_workers = run_workers
        self._run_maintenance = run_maintenance
        self.owner_lock = DataDirLock(settings.data_dir)
        self._owning = False  # running the data directory's jobs (recovery, slots, maintenance)
        self._life = threading.Lock()  # start of ownership vs stop
        self._stopping = threading.Event()
        self._takeover: threading.Thread | None = None

    @property
    def local_engine(self) -> RenderEngine:
        return self.engines[0]

    def describe(self) -> list[str]:
        """Start-up lines for the log: what this appliance will use."""
        lines = [f"data directory: {self.settings.data_dir}", f"storage: {self.settings.storage_backend}",
                 self.source.describe()]
        slots = ", ".join(f"{engine.name} {engine.slots}" for engine in self.engines)
        lines.append(f"render slots: {slots}; warm pool: {self.settings.warm_pool_size} per engine, image: "
                     f"{self.settings.sandbox_image}")
        return lines

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._start_blocking)

    @property
    def owns_data_dir(self) -> bool:
        """Whether this process runs the data directory's jobs (False: another process does)."""
        return self._owning

    def data_dir_owner(self) -> str:
        """The process running the data directory's jobs, as it describes itself."""
        return self.owner_lock.holder()

    def _start_blocking(self) -> None:
        self._stopping.clear()
        if self.owner_lock.acquire():
            with self._life:
                self._run_jobs()
            return
        log.info("the data directory %s is in use by %s: its render slots run the jobs submitted here; this "
                 "process takes over when it ends", self.settings.data_dir, self.data_dir_owner() or "another process")
        self._register_gauges()
        self._takeover = threading.Thread(target=self._take_over_when_free, name="data-dir-takeover", daemon=True)
        self._takeover.start()

    def _take_over_when_free(self) -> None:
        while not self._stopping.wait(TAKEOVER_RETRY_S):
            if not self.owner_lock.acquire():
                continue
            with self._life:
                if self._stopping.is_set():
                    return  # stopping: ``stop`` releases the lock
                log.warning("the process that ran the jobs of %s has ended; this one runs them now",
                            self.settings.data_dir)
                try:
                    self._run_jobs()
                except Exception:
                    log.exception("could not take over the jobs of %s", self.settings.data_dir)
            return

    def _run_jobs(self) -> None:
        """As the data directory's owner: recover, connect, start the slots and maintenance."""
        self._owning = True
        requeued = self.store.recover()
        if requeued:
            log.warning("re-queued %d job(s) interrupted by the last shutdown", len(requeued))
        for engine in self.engines:
            # An extra engine without a configured count is asked its CPUs (5 s at most).
            engine.set_slots(engine.slot_count())
        try:
            # Extra engines connect from their render slots, so a slow one does not delay start-up.
            self.local_engine.connect()
        except SandboxError as exc:
            log.error("renderer not ready: %s", exc)
            if self.local_engine.image_missing and self.settings.sandbox_auto_build:
                self.provisioner.build_in_background()
        for line in self.describe():
            log.info("%s", line)
        self._register_gauges()
        if self._run_workers:
            self.worker.start()
        if self._run_maintenance:
            self.maintenance.start()

    def _register_gauges(self) -> None:
        self.metrics.set("appliance_render_slots", sum(engine.slots for engine in self.engines))
        for engine in self.engines:
            self.metrics.set("appliance_engine_render_slots", engine.slots, engine=engine.name)
            self.metrics.collect_with("appliance_engine_up", partial(_engine_up, engine), engine=engine.name)
            self.metrics.collect_with("appliance_engine_renders_total", partial(_engine_renders, engine),
                                      engine=engine.name)
        self.metrics.set("appliance_up", 1)
        self.metrics.collect_with("appliance_queue_length", self.store.queue_length)
        self.metrics.collect_with("appliance_jobs_running", self.store.running_count)

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop_blocking)

    def _stop_blocking(self) -> None:
        self._stopping.set()
        if self._takeover is not None:
            self._takeover.join()
            self._takeover = None
        self.metrics.set("appliance_up", 0)
        with self._life:
            owning, self._owning = self._owning, False
        if owning and self._run_maintenance:
            self.maintenance.stop()
        if owning and self._run_workers:
            self.worker.stop(self.settings.shutdown_grace_s)
        for engine in self.engines:
            engine.close()
        self.store.close()
        # Last: the next owner recovers only once nothing here writes to the store any more.
        self.owner_lock.release()

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(self, channel: Channel) -> UserSession:
        """A new anonymous session for a browser or an API client."""
        session = UserSession.new(telegram_chat_id="0", channel=channel.kind, language=channel.language or "en")
        return await asyncio.to_thread(self.store.create_session, session)

    async def _resolve_session(self, channel: Channel) -> UserSession:
        if channel.kind == "telegram":
            chat_id = check_chat_id(channel.chat_id)
            return await asyncio.to_thread(self.store.get_or_create_session_for_chat, chat_id, channel.language)
        if channel.session_id:
            try:
                return await asyncio.to_thread(self.store.touch_session, channel.session_id)
            except NotFound:
                pass  # the browser's session expired: start a new one
        return await self.create_session(channel)

    async def session(self, session_id: str) -> UserSession:
        return await asyncio.to_thread(self.store.get_session, session_id)

    async def session_for_chat(self, chat_id: str | int) -> UserSession:
        return await self._resolve_session(Channel.telegram(chat_id))

    async def set_language(self, session_id: str, language: str) -> UserSession:
        def change(session: UserSession) -> None:
            session.language_preference = language

        return await asyncio.to_thread(self.store.update_session, session_id, change)

    async def set_voice(self, session_id: str, voice: bool) -> UserSession:
        """The session's choice of narrated (True) or silent (False) videos from now on."""

        def change(session: UserSession) -> None:
            session.voice_preference = voice

        return await asyncio.to_thread(self.store.update_session, session_id, change)

    async def history(self, session_id: str) -> list[VideoMetadata]:
        """The session's recent jobs, newest first (metadata only)."""
        session = await self.session(session_id)
        return list(reversed(session.video_history))

    async def jobs_of(self, session_id: str) -> list[ProcessingJob]:
        return await asyncio.to_thread(self.store.list_jobs, session_id)

    # -- jobs --------------------------------------------------------------------------------

    async def submit(
        self, problem_text: str, channel: Channel, quality: str | None = None, voice: bool | None = None
    ) -> VideoGenerationResponse:
        """Validate, check the queue cap and the client's limits, find the session, apply its limits,
        queue the job. Raises ProblemRejected, QueueFull, LimitExceeded (``reason``: active_limit,
        hourly_limit, client_active_limit, client_hourly_limit) with a message for the person."""
        try:
            text = normalize_problem_text(problem_text)
        except Exception:
            self.metrics.inc("appliance_jobs_refused_total", reason="invalid_problem")
            raise
        # Before the session: a refused flood must not leave a new session behind per request.
        await asyncio.to_thread(self._check_admission, channel.client)
        session = await self._resolve_session(channel)
        job = await asyncio.to_thread(self._admit_job, session, text, channel, quality, voice)
        self.metrics.inc("appliance_jobs_submitted_total", channel=channel.kind)
        self.worker.wake()
        self.events.publish(job)
        position = await asyncio.to_thread(self.store.queue_position, job.job_id)
        response = VideoGenerationResponse.for_job(job)
        message = f"Queued: number {position} in line" if position else response.message
        return VideoGenerationResponse(status=response.status, job_id=job.job_id, message=message,
                                       queue_position=position)

    def _check_admission(self, client: str | None) -> None:
        try:
            self.admission.check(client)
        except LimitExceeded as exc:
            self.metrics.inc("appliance_jobs_refused_total", reason=exc.reason)
            raise

    def _admit_job(self, session: UserSession, text: str, channel: Channel, quality: str | None,
                   voice: bool | None = None) -> ProcessingJob:
        """``_create_job`` within the queue cap and the client's limits, held while it runs."""
        try:
            with self.admission.admit(channel.client) as count:
                job = self._create_job(session, text, channel, quality, voice)
                count(job.job_id)
                return job
        except LimitExceeded as exc:
            if exc.reason in ADMISSION_REASONS:  # the session's own refusals are counted where they happen
                self.metrics.inc("appliance_jobs_refused_total", reason=exc.reason)
            raise

    def _create_job(self, session: UserSession, text: str, channel: Channel, quality: str | None,
                    voice: bool | None = None) -> ProcessingJob:
        limit = self.settings.max_active_jobs_per_session
        # A cheap early refusal that does not spend an hourly slot; the store checks again
        # atomically when it creates the job.
        if self.store.active_job_count(session.session_id) >= limit:
            return self._refuse_active(session, text, limit)
        try:
            self.store.record_submission(session.session_id, self.settings.max_submissions_per_hour)
        except LimitExceeded:
            self.metrics.inc("appliance_jobs_refused_total", reason="hourly_limit")
            raise
        job = ProcessingJob.new(
            session.session_id, text, quality=quality or self.settings.render_quality,
            language=channel.language or (session.language_preference if channel.kind == "telegram" else None),
            telegram_chat_id=channel.chat_id if channel.kind == "telegram" else None,
            voice=self._voice_for(session, voice),
        )
        try:
            return self.store.create_job(job, max_active=limit)
        except LimitExceeded:
            self.metrics.inc("appliance_jobs_refused_total", reason="active_limit")
            raise

    def _voice_for(self, session: UserSession, asked: bool | None) -> bool:
        """Narrated or silent: what the request asked, else the session's choice, else the default."""
        if asked is not None:
            return asked
        if session.voice_preference is not None:
            return session.voice_preference
        return self.settings.voice_default

    def _refuse_active(self, session: UserSession, text: str, limit: int) -> ProcessingJob:
        self.metrics.inc("appliance_jobs_refused_total", reason="active_limit")
        active = self.store.active_job_count(session.session_id)
        noun = "video" if active == 1 else "videos"
        raise LimitExceeded(
            "active_limit",
            f"You already have {active} {noun} in progress (the limit is {limit}). Please wait for one to finish.",
        )

    async def get(self, job_id: str) -> ProcessingJob:
        return await asyncio.to_thread(self.store.get_job, job_id)

    def queue_position(self, job_id: str) -> int | None:
        return self.store.queue_position(job_id)

    async def response(self, job_id: str) -> VideoGenerationResponse:
        return VideoGenerationResponse.for_job(await self.get(job_id))

    async def watch(self, job_id: str, poll_interval_s: float = 2.0) -> AsyncGenerator[ProcessingJob, None]:
        """Yield the job now, then every change, until it is READY or final."""
        queue = self.events.subscribe(job_id)
        try:
            job = await self.get(job_id)
            last = (job.status, job.status_message, job.updated_at)
            yield job
            while job.status not in WATCH_END_STATUSES:
                try:
                    job = await asyncio.wait_for(queue.get(), poll_interval_s)
                except TimeoutError:
                    # Belt and braces: a change made by another process reaches us by polling.
                    job = await self.get(job_id)
                key = (job.status, job.status_message, job.updated_at)
                if key != last:
                    last = key
                    yield job
        finally:
            self.events.unsubscribe(job_id, queue)

    async def follow(
        self, job_id: str, stop: Callable[[], bool] | None = None, tick_s: float = 1.0
    ) -> AsyncIterator[ProcessingJob | None]:
        """``watch`` for long-lived frontends: the job now and every change, a ``None`` after each
        ``tick_s`` of quiet (for keep-alives), and an early end once ``stop()`` says so (a
        server draining for shutdown)."""
        changes = self.watch(job_id)
        pending: asyncio.Future[ProcessingJob] = asyncio.ensure_future(anext(changes))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=tick_s)
                if done:
                    try:
                        job = pending.result()
                    except StopAsyncIteration:
                        return
                    yield job
                    pending = asyncio.ensure_future(anext(changes))
                elif stop is not None and stop():
                    return
                else:
                    yield None
        finally:
            # Cancel the pending read before closing the generator it is running in.
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
            with contextlib.suppress(Exception):
                await changes.aclose()

    async def mark_delivered(self, job_id: str, keep_for_replay_s: float | None = 0) -> ProcessingJob:
        """The person has the video: DELIVERED, and the video is deleted (at once, or after
        the web replay grace when ``keep_for_replay_s`` is None/positive). Idempotent."""
        job = await self.get(job_id)
        if job.status is S.DELIVERED:
            # Already delivered (e.g. the web page fetched it); a confirmation that the video
            # may go now deletes a copy kept for replay.
            if keep_for_replay_s == 0 and job.video_key:
                job = await asyncio.to_thread(self.maintenance.delete_video, job, "delivered")
            return job
        try:
            job = await asyncio.to_thread(self.store.transition_job, job_id, S.DELIVERED, "Delivered")
        except InvalidTransition:
            job = await self.get(job_id)
            if job.status is S.DELIVERED:
                return job
            raise
        self.metrics.inc("appliance_jobs_finished_total", status="delivered")
        if keep_for_replay_s == 0:
            job = await asyncio.to_thread(self.maintenance.delete_video, job, "delivered")
        self.events.publish(job)
        return job

    async def cancel(self, job_id: str) -> ProcessingJob:
        """Cancel a waiting job at once, a running one at its next step. A READY or finished
        job cannot be cancelled (InvalidTransition)."""
        job = await self.get(job_id)
        if job.status is S.QUEUED:
            with contextlib.suppress(InvalidTransition):
                job = await asyncio.to_thread(self._cancel_queued, job_id)
                self.events.publish(job)
                return job
            job = await self.get(job_id)
        if job.status in ACTIVE_STATUSES:
            job = await asyncio.to_thread(self.store.update_job, job_id, _request_cancel)
            self.events.publish(job)
            return job
        raise InvalidTransition(job.status.value, S.FAILED.value)

    def _cancel_queued(self, job_id: str) -> ProcessingJob:
        def record(job: ProcessingJob) -> None:
            job.failure_reason = "cancelled"
            job.cancel_requested = True

        job = self.store.transition_job(job_id, S.FAILED, "Cancelled", record)
        self.store.remove_from_queue(job_id)
        self.metrics.inc("appliance_job_failures_total", reason="cancelled")
        return job

    @contextlib.contextmanager
    def video_file(self, job: ProcessingJob) -> Iterator[Path]:
        """A local, readable copy of a READY job's video (for uploading it to a chat)."""
        if not job.video_key:
            raise NotFound(f"job {job.job_id} has no video")
        with self.storage.local_copy(job.video_key) as path:
            yield Path(path)

    async def video_fetched(self, key: str) -> None:
        """A video was fetched by its link: the first fetch of a READY job's video is its
        delivery (the video is kept for the replay grace). Video keys are opaque: the store
        knows whose video it is."""
        job = await asyncio.to_thread(self.store.job_for_video, key)
        if job is None or job.status is not S.READY:
            return
        with contextlib.suppress(NotFound, InvalidTransition):  # expired or delivered meanwhile
            await self.mark_delivered(job.job_id, keep_for_replay_s=None)

    def signed_video_file(self, key: str, expires: str, sig: str) -> Path:
        """The file behind a signed local video URL (blocking). Raises ``SignatureInvalid`` for a
        bad, foreign or expired link and ``NotFound`` when the video is gone or videos are not
        served by this appliance (object storage hands out its own URLs)."""
        if not isinstance(self.storage, LocalStorage):
            raise NotFound("videos are not served from here")
        return self.storage.verify(key, expires, sig)

    # -- health ------------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """What /readyz and ``appliance doctor`` report: each component, ok or what to fix.
        (JSON-shaped: ``{"ready": bool, "checks": {name: {"ok": bool, ...}}}``.)"""
        checks: dict[str, dict[str, Any]] = {}
        try:
            self.store.check_writable()
            checks["store"] = {"ok": True}
        except Exception as exc:
            checks["store"] = {"ok": False, "error": str(exc)}
        if not self._owning:
            # Jobs submitted here are rendered by the owner: connecting would start a warm pool
            # nobody uses here (and sweep containers, the owner's job).
            checks["render_slots"] = {"ok": True, "detail": "jobs are run by the data directory's owner, "
                                      f"{self.data_dir_owner() or 'another process'}"}
        else:
            self._docker_readiness(checks)
        try:
            self.storage.check()
            checks["storage"] = {"ok": True, "backend": self.settings.storage_backend}
        except Exception as exc:
            checks["storage"] = {"ok": False, "error": str(exc)}
        checks["providers"] = {"ok": True, "configured": [*self.source.providers(), "builtin"]}
        ready = all(check["ok"] for check in checks.values())
        return {"ready": ready, "checks": checks}

    def _docker_readiness(self, checks: dict[str, dict[str, Any]]) -> None:
        try:
            sandbox = self.local_engine.connect()
            sandbox.ping()
            sandbox.check_image()
            checks["docker"] = {"ok": True}
            checks["sandbox_image"] = {"ok": True, "image": self.settings.sandbox_image}
        except SandboxError as exc:
            missing_image = isinstance(exc, SandboxImageMissing)
            checks["docker"] = {"ok": missing_image, **({} if missing_image else {"error": str(exc)})}
            checks["sandbox_image"] = {"ok": False, "error": str(exc)}
        if len(self.engines) > 1:
            # Extra engines add capacity; one that is down does not make the appliance unready.
            engines = {engine.name: {"slots": engine.slots, **engine.status()} for engine in self.engines[1:]}
            checks["render_engines"] = {"ok": True, "engines": engines}

    def metrics_text(self) -> str:
        return self.metrics.render()


def _engine_up(engine: RenderEngine) -> float:
    return float(engine.up)


def _engine_renders(engine: RenderEngine) -> float:
    return float(engine.renders)


def _request_cancel(job: ProcessingJob) -> None:
    job.cancel_requested = True
