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
each provider's failure.

litellm is imported lazily (it takes seconds) so ``appliance --help`` stays fast.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from appliance.config import Settings
from appliance.errors import AllProvidersFailed, ConfigError

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

# Providers whose key variable the settings table does not carry: litellm finds it
# itself (ANTHROPIC_API_KEY, ...). The table lists them as known providers.
_KEY_FROM_LITELLM = {"openrouter", "anthropic", "gemini", "mistral", "together_ai", "deepseek"}


@functools.cache
def load_litellm() -> ModuleType:
    """Import and configure litellm once: local cost map, no telemetry, no callbacks."""
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


class ChainExhausted(AllProvidersFailed):
    """Every model of the chain failed; ``failures`` has one summary per provider."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = list(failures)
        detail = "; ".join(self.failures) if self.failures else "no model is configured"
        super().__init__(f"Every language model failed: {detail}")


class _Unanswered(Exception):
    """A reply came back but held no text; not worth retrying on the same model."""


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
    if provider in _KEY_FROM_LITELLM:
        return ModelRoute(model, provider, None, None)
    raise ConfigError(f"{model}: the provider {provider!r} is not supported")


def model_routes(settings: Settings) -> tuple[ModelRoute, ...]:
    """The chain's models in order; ``builtin`` is dropped because it always comes last anyway."""
    models = settings.llm_models or derive_models(settings)
    return tuple(resolve_route(model, settings) for model in models if model != BUILTIN)


# -- error classification ----------------------------------------------------------------------

_RETRYABLE_STATUSES = {408, 409, 425, 429}


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Worth asking the same provider again: rate limits, timeouts, connection faults, 5xx."""
    litellm = load_litellm()
    if isinstance(exc, litellm.RateLimitError | litellm.Timeout | litellm.APIConnectionError):
        return True
    if _is_connection_failure(exc):
        return True
    if isinstance(exc, litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError):
        return True
    status = _status_of(exc)
    return status is not None and (status >= 500 or status in _RETRYABLE_STATUSES)


def _retry_after_s(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        raw = headers.get("retry-after")
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: fall back to our own backoff


_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+(?:Error|Exception):\s*)?(?:\w+Exception\s*-\s*)?")


def _clean_message(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or exc).strip()
    message = _LITELLM_PREFIX.sub("", message, count=1).strip()
    message = " ".join(message.split())
    return message[:240] + ("…" if len(message) > 240 else "")


def _is_connection_failure(exc: BaseException) -> bool:
    """Could not reach the server at all; litellm reports some of these as HTTP 500."""
    import httpx

    litellm = load_litellm()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | httpx.ConnectError | httpx.RemoteProtocolError):
            return True
        if isinstance(current, litellm.APIConnectionError) and not isinstance(current, litellm.Timeout):
            return True
        current = current.__cause__ or current.__context__
    return False


def summarise_error(exc: BaseException, timeout_s: float) -> str:
    """One short sentence about why a provider failed, for logs, the job's ai_error and people."""
    litellm = load_litellm()
    status = _status_of(exc)
    detail = _clean_message(exc)
    if isinstance(exc, _Unanswered):
        return "the reply was empty"
    if isinstance(exc, litellm.Timeout):
        return f"timed out after {timeout_s:g} s"
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return f"rate limited (HTTP 429): {detail}"
    if isinstance(exc, litellm.AuthenticationError) or status == 401:
        return f"the API key was refused (HTTP 401): {detail}"
    if isinstance(exc, litellm.PermissionDeniedError) or status == 403:
        return f"access denied (HTTP 403): {detail}"
    if isinstance(exc, litellm.NotFoundError) or status == 404:
        return f"model or endpoint not found (HTTP 404): {detail}"
    if _is_connection_failure(exc):
        return f"could not connect: {detail}"
    if status is not None and status >= 500:
        return f"server error (HTTP {status}): {detail}"
    if status is not None:
        return f"request refused (HTTP {status}): {detail}"
    return f"{type(exc).__name__}: {detail}"


def _reply_text(response: Any) -> str:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise _Unanswered("no choices in the reply") from exc
    if not isinstance(content, str) or not content.strip():
        raise _Unanswered("empty reply")
    return content


class ProviderChain:
    """Ordered litellm models with per-call timeout, bounded retries and fallback."""

    def __init__(
        self,
        settings: Settings,
        *,
        routes: Sequence[ModelRoute] | None = None,
        retry_backoff_s: float = 1.0,
    ) -> None:
        """``routes`` replaces the models derived from settings (several OpenAI-compatible
        servers at once, tests); ``retry_backoff_s`` is the first wait before a retry."""
        self.settings = settings
        self.routes = tuple(routes) if routes is not None else model_routes(settings)
        self.retry_backoff_s = retry_backoff_s
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
        """Ask each model in turn until one answers; ChainExhausted when none does."""
        failures: list[str] = []
        for route in self.routes:
            started = time.monotonic()
            try:
                text = self._ask_with_retries(route, messages)
            except Exception as exc:  # any failure of one provider moves the chain on
                reason = summarise_error(exc, self.settings.llm_timeout_s)
                summary = self._redact(f"{route.provider} ({route.model}): {reason}")
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
            try:
                return self._ask(route, messages)
            except Exception as exc:
                if attempt >= retries or not is_retryable(exc):
                    raise
                delay = self._backoff_s(attempt, exc)
                log.info(
                    "LLM %s failed (%s); retry %d of %d in %.1f s",
                    route.model, summarise_error(exc, self.settings.llm_timeout_s), attempt + 1, retries, delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff_s(self, attempt: int, exc: BaseException) -> float:
        retry_after = _retry_after_s(exc)
        if retry_after is not None and 0 <= retry_after <= MAX_BACKOFF_S:
            return retry_after
        return float(min(self.retry_backoff_s * (2**attempt), MAX_BACKOFF_S))

    def _ask(self, route: ModelRoute, messages: Sequence[Mapping[str, str]]) -> str:
        litellm = load_litellm()
        options: dict[str, Any] = {}
        if route.provider not in _NO_MAX_RETRIES:
            # Retries are ours (counted, logged, bounded); the OpenAI client would add two of its own.
            options["max_retries"] = 0
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
