"""Render engines: the Docker engines renders run on, each with its own render slots.

The engine of DOCKER_HOST (or the local socket) is always there and is called "local";
APPLIANCE_RENDER_ENGINES adds more (``tcp://HOST:2376`` with TLS client certificates,
or ``unix:///PATH``, e.g. a socket forwarded over ssh). A render sends its code and
fetches its video through the Docker API, so an engine on another machine needs
nothing shared with the appliance: only the sandbox image, which the appliance copies
there itself (``copy_sandbox_image``) or ``appliance sandbox push`` does.

Where the engines are and how a client of one is opened is ``appliance.sandbox.connection``.
Each ``RenderEngine`` connects on demand, reconnects after it was lost (a render that
found the engine unreachable drops the connection; the next readiness check tries
again, at most every ``RETRY_AFTER_S``), and never lets one engine's trouble reach
another's render slots.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from appliance.config import Settings
from appliance.contracts import EngineSandbox, RenderResult, RenderStatus, VoiceRequest
from appliance.errors import SandboxError, SandboxImageMissing
from appliance.sandbox.connection import EngineSpec, engine_facts, open_client
from appliance.sandbox.docker import DockerSandbox

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0
STATUS_PING_TIMEOUT_S = 3.0
SLOT_COUNT_TIMEOUT_S = 5

EngineStatus = dict[str, bool | str | int]  # for /readyz: {"ok": ..., "error" or "renders": ...}


class RenderEngine:
    """One Docker engine with its own ``DockerSandbox`` (and warm pool); thread-safe.

    A ``sandbox`` given here (tests, benchmarks: a fake ``EngineSandbox``) is used as it is
    and never replaced; otherwise the engine opens its own ``DockerSandbox`` on demand."""

    def __init__(self, spec: EngineSpec, settings: Settings, sandbox: EngineSandbox | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self._sandbox = sandbox
        self._fixed = sandbox is not None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.error: str | None = None
        self.image_missing = False
        self.renders = 0
        self.slots = 0
        self._swept = False
        # Renders in progress on this engine never exceed its slots, even when another
        # engine's slot fails a render over to it.
        self._capacity = threading.BoundedSemaphore(1)

    def set_slots(self, slots: int) -> None:
        self.slots = slots
        self._capacity = threading.BoundedSemaphore(slots)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_local(self) -> bool:
        return self.spec.url is None

    @property
    def up(self) -> bool:
        """Connected, with the right sandbox image (as of the last try)."""
        return self._sandbox is not None

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> EngineSandbox:
        """The engine's sandbox, connected (image checked, warm pool started) or raising."""
        with self._lock:
            if self._sandbox is not None:
                return self._sandbox
            try:
                sandbox = DockerSandbox(self.settings, open_client(self.spec), engine=self.spec.name)
            except SandboxError as exc:
                self._connect_failed(exc)
                raise
            try:
                sandbox.check_image()
                # Start the warm pool now, so the first render is not a cold one.
                sandbox.warm_up()
            except SandboxError as exc:
                # Slots retry while the engine is down or its image is missing: each failed
                # try must release its Docker connection.
                _close_quietly(sandbox)
                self._connect_failed(exc)
                raise
            if self.error is not None:
                log.warning("render engine %s is ready", self.name)
            self._sandbox, self.error, self.image_missing = sandbox, None, False
        if not self._swept:
            # Once per engine: containers a crashed appliance left there.
            self._swept = True
            with contextlib.suppress(SandboxError):
                swept = sandbox.sweep_orphans()
                if swept:
                    log.warning("removed %d sandbox container(s) left by a crash on %s", swept, self.name)
        return sandbox

    def _connect_failed(self, exc: SandboxError) -> None:
        self.image_missing = isinstance(exc, SandboxImageMissing)
        self.error = str(exc)
        if self.image_missing and not self.is_local:
            self.error += (f" (on the render engine {self.name}: `appliance serve` copies it there, or "
                           f"run `appliance sandbox push`)")
        self._retry_at = time.monotonic() + RETRY_AFTER_S

    def ready(self) -> bool:
        """Whether this engine's slots may take a job now (reconnecting when it is due)."""
        if self._sandbox is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self.connect()
            return True
        except SandboxError:
            return False

    def lost(self, detail: str) -> None:
        """A render found the engine unreachable: drop the connection, reconnect later."""
        if self._fixed:
            return
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
            self.error = detail
            self._retry_at = time.monotonic() + RETRY_AFTER_S
        log.error("render engine %s lost: %s", self.name, detail)
        if sandbox is not None:
            # Closing talks to the engine that just failed: not on the render slot's time.
            threading.Thread(target=_close_quietly, args=(sandbox,), name="engine-close", daemon=True).start()

    # -- work --------------------------------------------------------------------------------

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               wait_s: float | None = None, voice: VoiceRequest | None = None) -> RenderResult:
        """Render here, within this engine's capacity (waiting at most ``wait_s`` for it)."""
        if not self._capacity.acquire(timeout=wait_s):
            return RenderResult(RenderStatus.UNAVAILABLE, detail=f"the render engine {self.name} stayed busy")
        try:
            try:
                sandbox = self.connect()
            except SandboxError as exc:
                return RenderResult(RenderStatus.UNAVAILABLE, detail=str(exc))
            result = sandbox.render(code, scene_name, quality, prelude=prelude, voice=voice)
        finally:
            self._capacity.release()
        self.renders += 1
        if result.status is RenderStatus.UNAVAILABLE:
            self.lost(result.detail or result.message)
        return result

    def slot_count(self) -> int:
        """Render slots for this engine: the configured count, or its CPUs / render_cpus."""
        if self.spec.slots:
            return self.spec.slots
        try:
            client = open_client(self.spec, timeout=SLOT_COUNT_TIMEOUT_S)
            try:
                cpus = engine_facts(client).cpus
            finally:
                client.close()
        except SandboxError as exc:
            log.warning("render engine %s: cannot ask its CPU count (%s); giving it 1 slot (set %s=SLOTS "
                        "in APPLIANCE_RENDER_ENGINES to choose)", self.name, exc, self.name)
            return 1
        return self.settings.slots_for_cpus(cpus)

    def sweep_orphans(self) -> int:
        """Remove containers crashed appliances left on this engine; 0 while it is away."""
        sandbox = self._sandbox
        if sandbox is None:
            return 0
        try:
            return sandbox.sweep_orphans()
        except SandboxError as exc:
            # One unreachable engine must not stop the sweep of the others.
            self.lost(str(exc))
            return 0

    def status(self) -> EngineStatus:
        """For /readyz: usable or why not. Never waits long: an engine not connected reports
        its last error (its slots keep trying), a connected one gets a short ping."""
        sandbox = self._sandbox
        if sandbox is None:
            return {"ok": False, "error": self.error or "not connected yet"}
        try:
            sandbox.ping(timeout_s=STATUS_PING_TIMEOUT_S)
        except SandboxError as exc:
            self.lost(str(exc))
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "renders": self.renders}

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            _close_quietly(sandbox)


def _close_quietly(sandbox: EngineSandbox) -> None:
    # Closing only releases what the sandbox holds; nothing it raises can be acted on.
    with contextlib.suppress(Exception):
        sandbox.close()


class LaneRenderer:
    """What one engine's render slots render with (a ``Renderer``): their own engine first,
    and when it is lost mid-render, the same scene once more on another engine that is up
    (waiting for one of its slots), so a job does not fail because one machine went away."""

    def __init__(self, home: RenderEngine, engines: list[RenderEngine], failover_wait_s: float) -> None:
        self.home = home
        self.engines = engines
        self.failover_wait_s = failover_wait_s

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        result = self.home.render(code, scene_name, quality, prelude, voice=voice)
        if result.status is not RenderStatus.UNAVAILABLE:
            return result
        for other in self.engines:
            if other is self.home or not other.ready():
                continue
            log.warning("render engine %s lost mid-render; rendering the scene again on %s",
                        self.home.name, other.name)
            retried = other.render(code, scene_name, quality, prelude, wait_s=self.failover_wait_s, voice=voice)
            if retried.status is not RenderStatus.UNAVAILABLE:
                return retried
        return result
