"""litellm's exceptions become the chain's own in one place: by type and HTTP status, never by text."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from appliance.generation.llm import (
    ProviderCallFailed,
    load_litellm,
    map_litellm_exceptions,
    translate_litellm_error,
)

REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


@pytest.fixture(scope="module")
def litellm() -> Any:
    """litellm itself (untyped here, as in the chain); loaded by the first test that needs it."""
    return load_litellm()


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


def test_a_rate_limit_is_retryable_and_carries_the_providers_retry_after(litellm: Any) -> None:
    exc = litellm.RateLimitError("slow down", "groq", "llama", response=answer(429, {"Retry-After": "2"}))
    failure = translate_litellm_error(exc, timeout_s=60)
    assert failure.retryable
    assert failure.retry_after_s == 2.0
    assert failure.reason == "rate limited (HTTP 429): slow down"


def test_a_retry_after_date_is_ignored_rather_than_misread(litellm: Any) -> None:
    exc = litellm.RateLimitError(
        "slow down", "groq", "llama", response=answer(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert translate_litellm_error(exc, timeout_s=60).retry_after_s is None


def test_a_refused_key_is_final(litellm: Any) -> None:
    exc = litellm.AuthenticationError("bad key", "openai", "gpt", response=answer(401))
    failure = translate_litellm_error(exc, timeout_s=60)
    assert not failure.retryable
    assert failure.reason == "the API key was refused (HTTP 401): bad key"


def test_a_timeout_names_the_limit(litellm: Any) -> None:
    failure = translate_litellm_error(litellm.Timeout("took too long", "gpt", "openai"), timeout_s=0.5)
    assert failure.retryable
    assert failure.reason == "timed out after 0.5 s"


def test_an_unreachable_server_is_a_connection_failure_even_when_litellm_calls_it_a_500(litellm: Any) -> None:
    exc = litellm.APIConnectionError("Connection error.", "openai", "gpt")
    failure = translate_litellm_error(exc, timeout_s=60)
    assert failure.retryable
    assert failure.reason == "could not connect: Connection error."


def test_a_connection_error_underneath_another_exception_counts() -> None:
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as exc:
        failure = translate_litellm_error(exc, timeout_s=60)
    assert failure.retryable
    assert failure.reason == "could not connect: wrapped"


@pytest.mark.parametrize(
    ("status", "retryable", "reason"),
    [
        (502, True, "server error (HTTP 502): upstream"),
        (409, True, "request refused (HTTP 409): upstream"),
        (400, False, "request refused (HTTP 400): upstream"),
    ],
)
def test_other_statuses_are_read_from_the_status_code(
    litellm: Any, status: int, retryable: bool, reason: str
) -> None:
    failure = translate_litellm_error(litellm.APIError(status, "upstream", "openai", "gpt"), timeout_s=60)
    assert (failure.retryable, failure.reason) == (retryable, reason)


def test_a_reply_litellm_could_not_read_counts_as_a_server_error(litellm: Any) -> None:
    failure = translate_litellm_error(litellm.APIResponseValidationError("not JSON", "openai", "gpt"), timeout_s=60)
    assert (failure.retryable, failure.reason) == (True, "server error (HTTP 500): not JSON")


def test_message_text_decides_nothing() -> None:
    exc = RuntimeError("RateLimitError: 429 Too Many Requests, connection refused, timed out")
    failure = translate_litellm_error(exc, timeout_s=60)
    assert not failure.retryable
    assert failure.reason.startswith("RuntimeError: ")  # the class name is shown, not matched


def test_the_context_manager_translates_everything_and_keeps_the_original_as_the_cause(litellm: Any) -> None:
    original = litellm.NotFoundError("no such model", "openai", "gpt", response=answer(404))
    with pytest.raises(ProviderCallFailed) as caught, map_litellm_exceptions(timeout_s=60):
        raise original
    assert caught.value.__cause__ is original
    assert caught.value.reason == "model or endpoint not found (HTTP 404): no such model"
    with pytest.raises(ProviderCallFailed) as caught, map_litellm_exceptions(timeout_s=60):
        raise KeyError("choices")
    assert not caught.value.retryable


def test_an_already_translated_failure_passes_through_unchanged() -> None:
    failure = ProviderCallFailed("the reply was empty")
    with pytest.raises(ProviderCallFailed) as caught, map_litellm_exceptions(timeout_s=60):
        raise failure
    assert caught.value is failure


def test_importing_the_chain_does_not_import_litellm() -> None:
    code = "import sys, appliance.generation.llm; print('litellm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
