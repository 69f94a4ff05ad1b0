"""Admission: who may queue a job now, and how many model calls the appliance may make.

The per-session limits (``APPLIANCE_MAX_ACTIVE_JOBS_PER_SESSION``, ``..._SUBMISSIONS_PER_HOUR``)
are the store's, and a Telegram chat always has the same session. A session of the API or the
web page costs nothing to make, though (leave out ``session_id``, reload the page), so anonymous
use is bounded here as well:

    client_key(peer, forwarded_for, trusted)   who an API or web request comes from: the socket
                                                peer, or what trusted proxies forwarded (IPv6 by /64)
    Admission                                   the global cap on waiting jobs (``QueueFull``, HTTP 503)
                                                and, per client, jobs in progress and submissions an
                                                hour (``LimitExceeded``, HTTP 429)
    ClientSlots                                 at most N things at once per client (the web page's
                                                followers and handlers in progress)
    ModelBudget                                 model calls per hour across every job; once spent,
                                                the built-in solver answers alone, and says so
    exposure_warning(settings)                  the start-up warning for an open, reachable server

The counts live in memory: one process takes a server's submissions and runs its jobs, and a
restart starts the windows afresh (the queue cap reads the store, so it holds across processes).
Time comes from an injected clock (monotonic seconds), so tests never sleep.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from appliance.config import Settings, TrustedNetwork
from appliance.errors import LimitExceeded, QueueFull

Clock = Callable[[], float]
"""Monotonic seconds (``time.monotonic``); tests pass a settable one."""

HOUR_S = 3600.0
QUEUE_FULL_RETRY_AFTER_S = 60
"""What ``Retry-After`` says when the queue is full: a job takes about a minute per render slot."""
ACTIVE_LIMIT_RETRY_AFTER_S = 30
"""What ``Retry-After`` says when a client's jobs in progress are at the limit: one of them
usually ends within half a minute (a render of a built-in scene at the default quality)."""
IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is its /64: one subscriber line usually holds a whole /64."""
UNKNOWN_CLIENT = "unknown"

QUEUE_FULL_MESSAGE = "The appliance is busy: its queue is full. Please try again in a few minutes."
MODEL_BUDGET_NOTICE = ("The hourly budget of language-model calls is used up, so the built-in solver wrote "
                       "this scene.")
MODEL_BUDGET_REFUSAL = ("The hourly budget of language-model calls is used up, and the built-in solver does "
                        "not handle this kind of problem ({reason}). Please try again in an hour.")


# -- who is asking ---------------------------------------------------------------------------------


def client_key(peer: str | None, forwarded_for: Sequence[str] = (), trusted: Sequence[TrustedNetwork] = ()) -> str:
    """The client an API or web request comes from, as a key for its limits.

    ``peer`` is the socket's remote address. When it is one of the ``trusted`` proxies, the
    ``X-Forwarded-For`` values (``forwarded_for``, every header in order) are read from the
    right, past every trusted hop, to the first address that is not a trusted proxy; anything
    else (an untrusted peer, a malformed hop) ends the walk, so a client cannot choose its own
    key by sending the header itself. IPv4 addresses are themselves; IPv6 ones are their /64.
    """
    address = _ip(peer)
    if address is None:
        return (peer or "").strip() or UNKNOWN_CLIENT
    if _is_trusted(address, trusted):
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            forwarded = _ip(hop)
            if forwarded is None:
                break
            address = forwarded
            if not _is_trusted(address, trusted):
                break
    return _key_of(address)


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or a forwarded hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``)."""
    text = (text or "").strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[TrustedNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _key_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


# -- the queue cap and the per-client limits -------------------------------------------------------


@dataclass(frozen=True)
class AdmissionLimits:
    max_queued_jobs: int
    max_active_per_client: int
    max_submissions_per_client_per_hour: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AdmissionLimits:
        return cls(settings.max_queued_jobs, settings.max_active_jobs_per_client,
                   settings.max_submissions_per_client_per_hour)


@dataclass
class _ClientRecord:
    submitted: deque[float]  # monotonic times of the last hour's accepted submissions
    jobs: list[str]  # the jobs it submitted that may still be waiting or running


class Admission:
    """The global cap on waiting jobs and the per-client limits (``client`` None: no client limits,
    e.g. Telegram, whose chats have their session's limits, and the CLI).

    ``queue_length()`` reads the waiting jobs (the store's queue); ``job_active(job_id)`` says
    whether a job is still waiting or running. Thread-safe.
    """

    def __init__(
        self,
        limits: AdmissionLimits,
        *,
        queue_length: Callable[[], int],
        job_active: Callable[[str], bool],
        clock: Clock = time.monotonic,
    ) -> None:
        self.limits = limits
        self._queue_length = queue_length
        self._job_active = job_active
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _ClientRecord] = {}
        self._checks = 0

    def check(self, client: str | None) -> None:
        """Raise ``QueueFull`` or ``LimitExceeded`` (reason ``client_active_limit`` or
        ``client_hourly_limit``) if a submission from ``client`` would be refused now."""
        with self._lock:
            self._check(client)

    @contextlib.contextmanager
    def admit(self, client: str | None) -> Iterator[Callable[[str], None]]:
        """Check, then hold the limits while the caller creates the job; the caller passes the new
        job's id to the function it is given, which counts it for the client. A job that is not
        created (an exception in the block) is not counted."""
        with self._lock:
            self._check(client)
            created: list[str] = []
            yield created.append
            if client is not None and created:
                record = self._clients.setdefault(client, _ClientRecord(deque(), []))
                record.submitted.append(self._clock())
                record.jobs.extend(created)

    def _check(self, client: str | None) -> None:
        queued = self._queue_length()
        if queued >= self.limits.max_queued_jobs:
            raise QueueFull(QUEUE_FULL_MESSAGE, retry_after_s=QUEUE_FULL_RETRY_AFTER_S)
        if client is None:
            return
        self._checks += 1
        if self._checks % 256 == 0:
            self._forget_idle()
        record = self._clients.get(client)
        if record is None:
            return
        now = self._clock()
        while record.submitted and record.submitted[0] <= now - HOUR_S:
            record.submitted.popleft()
        active = self._refresh(record)
        limit = self.limits.max_active_per_client
        if len(active) >= limit:
            raise LimitExceeded(
                "client_active_limit",
                f"{_count(len(active), 'video')} asked for from your address {'is' if len(active) == 1 else 'are'} "
                f"still in progress (the limit is {limit}). Please wait for one to finish.",
                retry_after_s=ACTIVE_LIMIT_RETRY_AFTER_S,
            )
        per_hour = self.limits.max_submissions_per_client_per_hour
        if len(record.submitted) >= per_hour:
            wait_s = math.ceil(record.submitted[0] + HOUR_S - now)
            raise LimitExceeded(
                "client_hourly_limit",
                f"Your address has sent {_count(len(record.submitted), 'problem')} in the last hour, the limit is "
                f"{per_hour}. "
                f"Please try again in about {max(1, math.ceil(wait_s / 60))} minutes.",
                retry_after_s=max(1, wait_s),
            )

    def _refresh(self, record: _ClientRecord) -> list[str]:
        # A few store reads: at most the active limit's worth of jobs per client.
        record.jobs = [job_id for job_id in record.jobs if self._job_active(job_id)]
        return record.jobs

    def _forget_idle(self) -> None:
        """Drop clients with nothing in the last hour and nothing in progress (bounded memory)."""
        now = self._clock()
        for client, record in list(self._clients.items()):
            if (not record.submitted or record.submitted[-1] <= now - HOUR_S) and not self._refresh(record):
                del self._clients[client]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# -- things held open per client -------------------------------------------------------------------


class ClientSlots:
    """At most ``limit`` things at once per client key (the web page's followers, its handlers
    in progress): one client cannot take every slot a server shares. Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self, client: str | None) -> Iterator[bool]:
        """True (and one slot held for the block) if ``client`` has a slot free, else False.
        ``client`` None (no address known) is not limited here."""
        if client is None:
            yield True
            return
        with self._lock:
            held = self._held.get(client, 0)
            if held >= self.limit:
                admitted = False
            else:
                self._held[client] = held + 1
                admitted = True
        if not admitted:
            yield False
            return
        try:
            yield True
        finally:
            with self._lock:
                left = self._held[client] - 1
                if left:
                    self._held[client] = left
                else:
                    del self._held[client]

    def held(self, client: str) -> int:
        with self._lock:
            return self._held.get(client, 0)


# -- the model budget ------------------------------------------------------------------------------


class ModelBudget:
    """At most ``calls_per_hour`` model calls in any hour (a sliding window), across every job.

    ``try_spend()`` takes one call from the budget (False: spent; make no call). Thread-safe."""

    def __init__(self, calls_per_hour: int, clock: Clock = time.monotonic) -> None:
        self.calls_per_hour = calls_per_hour
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[float] = deque()

    def try_spend(self) -> bool:
        with self._lock:
            now = self._drop_old()
            if len(self._calls) >= self.calls_per_hour:
                return False
            self._calls.append(now)
            return True

    def remaining(self) -> int:
        with self._lock:
            self._drop_old()
            return self.calls_per_hour - len(self._calls)

    def _drop_old(self) -> float:
        now = self._clock()
        while self._calls and self._calls[0] <= now - HOUR_S:
            self._calls.popleft()
        return now


# -- the start-up warning --------------------------------------------------------------------------


def exposure_warning(settings: Settings) -> str | None:
    """A sentence for the log when the server listens beyond this machine with neither an API
    token nor a web login: anyone who reaches it may queue jobs, within the limits it names."""
    if _is_loopback_host(settings.host) or settings.api_token or settings.web_auth:
        return None
    return (
        f"APPLIANCE_HOST={settings.host} listens beyond this machine and neither APPLIANCE_API_TOKEN nor "
        "APPLIANCE_WEB_AUTH is set: anyone who reaches it may queue jobs. They are bounded by "
        f"{settings.max_active_jobs_per_client} in progress and {settings.max_submissions_per_client_per_hour} an "
        f"hour per client address, {settings.max_queued_jobs} waiting in all and {settings.model_calls_per_hour} "
        "model calls an hour; behind a reverse proxy, list it in APPLIANCE_TRUSTED_PROXIES."
    )


def _is_loopback_host(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
