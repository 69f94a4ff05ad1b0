"""The language-model provider chain: an ordered list of litellm models tried in turn.

``ProviderChain(settings)`` resolves each model of ``settings.llm_models`` (or,
when that is empty, the models the configured provider keys allow) to a
``ModelRoute``: the litellm model string plus its ``api_base`` and key, passed
explicitly on every call so nothing reaches litellm through ``os.environ``.

``complete(messages)`` asks the first model; rate limits, timeouts, connection
errors and 5xx answers are retried a bounded number of times
(``settings.llm_retries``) with a short backoff, and any other failure (or an
exhausted retry budget) moves on to the next model. The built-in solver is
always implicitly last, but it is the Generator's business: when every model
fails the chain raises ``ChainExhausted`` (an ``AllProvidersFailed``) naming
each provider's failure. Every call (retries too) is first taken from the hourly budget of
model calls (``appliance.admission.ModelBudget``); once it is spent the chain makes no call
and raises ``ModelBudgetExhausted`` (an ``AllProvidersFailed``) instead.

Every exception a call to litellm raises is translated in one place,
``map_litellm_exceptions``: by class (litellm's and openai's exception types, httpx's
connection errors) and HTTP status, never by message text, into a ``ProviderCallFailed``
that says whether the same provider is worth asking again and why it failed, in a
sentence fit for a person.

litellm is imported lazily (``load_litellm()``): see there for the measured cost.
litellm's own objects (the module, its replies) are typed ``Any``: it is loaded as a
``ModuleType`` so that type checking does not pull its whole package in.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from appliance.admission import ModelBudget
from appliance.config import Settings
from appliance.contracts import CallBudget
from appliance.errors import AllProvidersFailed, ConfigError, ModelBudgetExhausted

log = logging.getLogger(__name__)

BUILTIN = "builtin"

# Models used when APPLIANCE_LLM_MODELS is empty, in this order, each only when its key is set.
GROQ_DEFAULT_MODEL = "groq/llama-3.3-70b-versatile"
CLOUDFLARE_DEFAULT_MODEL = "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HUGGINGFACE_DEFAULT_MODEL = "huggingface/Qwen/Qwen2.5-Coder-32B-Instruct"
OPENAI_DEFAULT_MODEL = "openai/gpt-4o-mini"
OLLAMA_DEFAULT_MODEL = "ollama_chat/qwen2.5-coder:7b"

GROQ_API_BASE = "https://api.groq.com/openai/v1"
HUGGINGFACE_API_BASE = "https://router.huggingface.co/v1"
OPENAI_API_BASE = "https://api.openai.com/v1"
OLLAMA_API_BASE = "http://127.0.0.1:11434"

# Local OpenAI-compatible servers (vLLM, llama.cpp, LM Studio) often need no key,
# but the OpenAI client refuses to send a request without one.
NO_KEY_PLACEHOLDER = "no-key"

# A scene with steps is 1-3k tokens; some providers (Cloudflare) default to 256
# output tokens, which would cut every scene off mid-code.
MAX_REPLY_TOKENS = 4096

# Longest wait between retries of one provider, and the longest Retry-After honoured.
MAX_BACKOFF_S = 10.0

# litellm model prefixes that differ from the provider name the job records.
_PROVIDER_ALIASES = {"ollama_chat": "ollama"}

# litellm forwards max_retries into these providers' request bodies instead of using it.
_NO_MAX_RETRIES = {"huggingface"}


@functools.cache
def load_litellm() -> ModuleType:
    """Import and configure litellm once: local cost map, no telemetry, no callbacks.

    Lazy on purpose: ``python -X importtime -c "import litellm"`` totals 4.2 to 8.5 s (ten
    runs with the local cost map set as below; litellm 1.110, Python 3.11, a busy 2-CPU
    machine), against 0.02 s for this module without it. At the top it would put those
    seconds on every ``appliance`` command and every test that only builds settings or
    routes; the first model call pays them instead.
    """
    # litellm fetches its model cost map from GitHub at import unless told not to;
    # this is the one environment write the appliance makes, because litellm reads
    # the variable at import time.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners in our logs
    litellm.turn_off_message_logging = True  # problems and replies stay out of litellm's logging
    litellm.success_callback = []
    litellm.failure_callback = []
    litellm.callbacks = []
    litellm.drop_params = True  # a provider that lacks a parameter ignores it rather than failing
    return litellm


def provider_of(model: str) -> str:
    """The provider name a job records for a litellm model string (``ollama_chat/x`` -> ``ollama``)."""
    prefix = model.split("/", 1)[0]
    return _PROVIDER_ALIASES.get(prefix, prefix)


@dataclass(frozen=True)
class ModelRoute:
    """One model of the chain and how to reach it."""

    model: str
    provider: str
    api_base: str | None
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ChainReply:
    """A model's reply and who gave it; ``errors`` are the failures of earlier providers."""

    text: str
    provider: str
    model: str
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0


NO_MODEL_ANSWERED = "No language model could answer right now."
"""What people are told when every model failed; each provider's own error text goes to the log
and the job's ai_error, never to people (it can name the operator's internal hosts)."""


class ChainExhausted(AllProvidersFailed):
    """Every model of the chain failed; ``failures`` has one summary per provider."""

    def __init__(self, failures: Sequence[str]) -> None:
        super().__init__(NO_MODEL_ANSWERED if failures else "No language model is configured.", list(failures))


def derive_models(settings: Settings) -> tuple[str, ...]:
    """The models the configured provider keys allow, best first (used when llm_models is empty)."""
    models: list[str] = []
    if settings.groq_api_key:
        models.append(GROQ_DEFAULT_MODEL)
    if settings.cloudflare_api_key and settings.cloudflare_account_id:
        models.append(CLOUDFLARE_DEFAULT_MODEL)
    if settings.huggingface_api_key:
        models.append(HUGGINGFACE_DEFAULT_MODEL)
    if settings.openai_api_key or settings.openai_api_base:
        models.append(OPENAI_DEFAULT_MODEL)
    if settings.ollama_api_base:
        models.append(OLLAMA_DEFAULT_MODEL)
    return tuple(models)


def resolve_route(model: str, settings: Settings) -> ModelRoute:
    """Where a model lives and which key it takes; ConfigError when a needed key is missing."""
    provider = provider_of(model)

    def need(value: str | None, variable: str) -> str:
        if not value:
            raise ConfigError(f"{model} is in the model list but {variable} is not set")
        return value

    if provider == "groq":
        return ModelRoute(model, provider, GROQ_API_BASE, need(settings.groq_api_key, "GROQ_API_KEY"))
    if provider == "cloudflare":
        key = need(settings.cloudflare_api_key, "CLOUDFLARE_API_KEY")
        account = need(settings.cloudflare_account_id, "CLOUDFLARE_ACCOUNT_ID")
        base = f"https://api.cloudflare.com/client/v4/accounts/{account}/ai/v1"
        return ModelRoute(model, provider, base, key)
    if provider == "huggingface":
        key = need(settings.huggingface_api_key, "HUGGINGFACE_API_KEY")
        return ModelRoute(model, provider, HUGGINGFACE_API_BASE, key)
    if provider == "openai":
        if settings.openai_api_base:
            return ModelRoute(model, provider, settings.openai_api_base, settings.openai_api_key or NO_KEY_PLACEHOLDER)
        return ModelRoute(model, provider, OPENAI_API_BASE, need(settings.openai_api_key, "OPENAI_API_KEY"))
    if provider == "ollama":
        return ModelRoute(model, provider, settings.ollama_api_base or OLLAMA_API_BASE, None)
    raise ConfigError(f"{model}: the provider {provider!r} is not supported")


def model_routes(settings: Settings) -> tuple[ModelRoute, ...]:
    """The chain's models in order; ``builtin`` is dropped because it always comes last anyway."""
    models = settings.llm_models or derive_models(settings)
    return tuple(resolve_route(model, settings) for model in models if model != BUILTIN)


# -- litellm's exceptions, translated in one place ---------------------------------------------

_RETRYABLE_STATUSES = {408, 409, 425, 429}

# Display only: litellm starts its messages with class names ("litellm.RateLimitError:
# RateLimitError: GroqException - ..."); they are trimmed from the sentence people read.
# Nothing is decided from message text.
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+(?:Error|Exception):\s*)?(?:\w+Exception\s*-\s*)?")


class ProviderCallFailed(Exception):
    """One call to one model failed, in the chain's own terms; it never leaves the chain.

    ``reason`` is one short sentence (for logs, the job's ai_error and people);
    ``retryable`` says whether the same provider is worth asking again (rate limits,
    timeouts, connection faults, 5xx); ``retry_after_s`` is the provider's Retry-After.
    """

    def __init__(self, reason: str, *, retryable: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@contextmanager
def map_litellm_exceptions(timeout_s: float) -> Iterator[None]:
    """Around a litellm call: whatever it raises leaves as a ``ProviderCallFailed`` (``from`` it).

    Every exception counts, not only litellm's: a provider's failure, or a fault in
    litellm's handling of its reply, moves the chain on to the next provider.
    """
    try:
        yield
    except ProviderCallFailed:
        raise
    except Exception as exc:
        raise translate_litellm_error(exc, timeout_s) from exc


def translate_litellm_error(exc: Exception, timeout_s: float) -> ProviderCallFailed:
    """Classify one failed call by exception type and HTTP status (``map_litellm_exceptions`` uses it)."""
    # Both are loaded already: litellm imports them, and it raised ``exc``.
    import httpx
    import openai

    litellm = load_litellm()
    status: int | None = None
    retry_after_s: float | None = None
    # Every litellm error that carries an HTTP answer derives from one of these two.
    if isinstance(exc, openai.APIStatusError | openai.APIResponseValidationError):
        status = exc.status_code
        retry_after_s = _seconds(exc.response.headers.get("retry-after"))
    elif isinstance(exc, litellm.APIError) and isinstance(exc.status_code, int):
        status = exc.status_code  # litellm's catch-all for statuses it has no class for
    # Could not reach the server at all; litellm reports some of these as HTTP 500.
    connection_failed = any(
        isinstance(cause, ConnectionError | httpx.ConnectError | httpx.RemoteProtocolError)
        or (isinstance(cause, litellm.APIConnectionError) and not isinstance(cause, litellm.Timeout))
        for cause in _chain(exc)
    )
    # litellm's speech path lets the OpenAI client's own timeout through unmapped.
    timed_out = isinstance(exc, litellm.Timeout | openai.APITimeoutError)
    retryable = (
        timed_out
        or isinstance(exc, litellm.RateLimitError | litellm.APIConnectionError)
        or connection_failed
        or isinstance(exc, litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError)
        or (status is not None and (status >= 500 or status in _RETRYABLE_STATUSES))
    )
    detail = _clean_message((exc.message if isinstance(exc, openai.APIError) else "") or str(exc))
    if timed_out:
        reason = f"timed out after {timeout_s:g} s"
    elif isinstance(exc, litellm.RateLimitError) or status == 429:
        reason = f"rate limited (HTTP 429): {detail}"
    elif isinstance(exc, litellm.AuthenticationError) or status == 401:
        reason = f"the API key was refused (HTTP 401): {detail}"
    elif isinstance(exc, litellm.PermissionDeniedError) or status == 403:
        reason = f"access denied (HTTP 403): {detail}"
    elif isinstance(exc, litellm.NotFoundError) or status == 404:
        reason = f"model or endpoint not found (HTTP 404): {detail}"
    elif connection_failed:
        reason = f"could not connect: {detail}"
    elif status is not None and status >= 500:
        reason = f"server error (HTTP {status}): {detail}"
    elif status is not None:
        reason = f"request refused (HTTP {status}): {detail}"
    else:
        reason = f"{type(exc).__name__}: {detail}"  # the class name is shown, never matched
    return ProviderCallFailed(reason, retryable=retryable, retry_after_s=retry_after_s)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """An exception and the ones it was raised from or during, once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _seconds(retry_after: str | None) -> float | None:
    try:
        return float(retry_after) if retry_after is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _clean_message(message: str) -> str:
    message = _LITELLM_PREFIX.sub("", message.strip(), count=1).strip()
    message = " ".join(message.split())
    return message[:240] + ("…" if len(message) > 240 else "")


def _reply_text(response: Any) -> str:
    """The text of a litellm reply (a litellm ``ModelResponse``, hence ``Any``)."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise ProviderCallFailed("the reply was empty") from exc  # no choices in the reply
    if not isinstance(content, str) or not content.strip():
        raise ProviderCallFailed("the reply was empty")
    return content


class _BudgetSpent(Exception):
    """No call is left in the budget (never leaves the chain: ``ModelBudgetExhausted`` does)."""


class ProviderChain:
    """Ordered litellm models with per-call timeout, bounded retries and fallback."""

    def __init__(
        self,
        settings: Settings,
        *,
        routes: Sequence[ModelRoute] | None = None,
        retry_backoff_s: float = 1.0,
        budget: CallBudget | None = None,
    ) -> None:
        """``routes`` replaces the models derived from settings (several OpenAI-compatible
        servers at once, tests); ``retry_backoff_s`` is the first wait before a retry;
        ``budget`` is the appliance's budget of model calls (default: one of this chain's own,
        ``APPLIANCE_MODEL_CALLS_PER_HOUR``)."""
        self.settings = settings
        self.routes = tuple(routes) if routes is not None else model_routes(settings)
        self.retry_backoff_s = retry_backoff_s
        self.budget: CallBudget = budget if budget is not None else ModelBudget(settings.model_calls_per_hour)
        # Summaries must never carry a key back to a person or a log.
        self._secrets = [s for s in settings.secret_values() if len(s) >= 6]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(route.model for route in self.routes)

    @property
    def has_models(self) -> bool:
        return bool(self.routes)

    def describe(self) -> str:
        """One line for the start-up log."""
        if not self.routes:
            return "LLM chain: no model configured: using the built-in solver only"
        return "LLM chain: " + " -> ".join([*self.models, BUILTIN])

    def complete(self, messages: Sequence[Mapping[str, str]]) -> ChainReply:
        """Ask each model in turn until one answers; ChainExhausted when none does,
        ModelBudgetExhausted when the budget of model calls runs out first."""
        failures: list[str] = []
        for route in self.routes:
            started = time.monotonic()
            try:
                text = self._ask_with_retries(route, messages)
            except _BudgetSpent:
                log.warning("the hourly budget of model calls (APPLIANCE_MODEL_CALLS_PER_HOUR=%d) is spent: "
                            "no model is asked", self.settings.model_calls_per_hour)
                raise ModelBudgetExhausted("the hourly budget of model calls is spent", failures) from None
            except ProviderCallFailed as failure:
                summary = self._redact(f"{route.provider} ({route.model}): {failure.reason}")
                log.warning("LLM provider failed, trying the next: %s", summary)
                failures.append(summary)
                continue
            duration = time.monotonic() - started
            log.info("LLM reply from %s in %.1f s", route.model, duration)
            return ChainReply(
                text=text, provider=route.provider, model=route.model, errors=failures, duration_s=duration
            )
        raise ChainExhausted(failures)

    def _ask_with_retries(self, route: ModelRoute, messages: Sequence[Mapping[str, str]]) -> str:
        retries = self.settings.llm_retries
        for attempt in range(retries + 1):
            if not self.budget.try_spend():
                raise _BudgetSpent
            try:
                return self._ask(route, messages)
            except ProviderCallFailed as failure:
                if attempt >= retries or not failure.retryable:
                    raise
                delay = self._backoff_s(attempt, failure)
                log.info(
                    "LLM %s failed (%s); retry %d of %d in %.1f s",
                    route.model, self._redact(failure.reason), attempt + 1, retries, delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff_s(self, attempt: int, failure: ProviderCallFailed) -> float:
        retry_after = failure.retry_after_s
        if retry_after is not None and 0 <= retry_after <= MAX_BACKOFF_S:
            return retry_after
        return float(min(self.retry_backoff_s * (2**attempt), MAX_BACKOFF_S))

    def _ask(self, route: ModelRoute, messages: Sequence[Mapping[str, str]]) -> str:
        """One call to one model; raises ProviderCallFailed."""
        litellm = load_litellm()
        options: dict[str, int] = {}
        if route.provider not in _NO_MAX_RETRIES:
            # Retries are ours (counted, logged, bounded); the OpenAI client would add two of its own.
            options["max_retries"] = 0
        with map_litellm_exceptions(self.settings.llm_timeout_s):
            response = litellm.completion(
                model=route.model,
                messages=[dict(message) for message in messages],
                api_base=route.api_base,
                api_key=route.api_key,
                timeout=self.settings.llm_timeout_s,
                temperature=self.settings.llm_temperature,
                max_tokens=MAX_REPLY_TOKENS,
                drop_params=True,
                **options,
            )
            return _reply_text(response)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
