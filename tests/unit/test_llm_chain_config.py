"""Which models the chain tries, in which order, and with which endpoint and key (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.errors import ConfigError
from appliance.generation.llm import ProviderChain, provider_of, resolve_route


def settings(tmp_path: Path, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    return Settings.from_env(env or {}, data_dir=tmp_path, **overrides)


def test_no_keys_means_the_builtin_solver_only(tmp_path: Path) -> None:
    chain = ProviderChain(settings(tmp_path))
    assert chain.models == ()
    assert not chain.has_models
    assert chain.describe() == "LLM chain: no model configured: using the built-in solver only"


def test_a_groq_key_alone_gives_groq_then_builtin(tmp_path: Path) -> None:
    chain = ProviderChain(settings(tmp_path, {"GROQ_API_KEY": "gsk_test_123456"}))
    assert chain.describe() == "LLM chain: groq/llama-3.3-70b-versatile -> builtin"
    (route,) = chain.routes
    assert route.provider == "groq"
    assert route.api_key == "gsk_test_123456"
    assert route.api_base == "https://api.groq.com/openai/v1"


def test_every_key_set_gives_the_documented_order(tmp_path: Path) -> None:
    env = {
        "OLLAMA_API_BASE": "http://10.0.0.5:11434",
        "OPENAI_API_BASE": "http://10.0.0.6:8000/v1",
        "HUGGINGFACE_API_KEY": "hf_test_123456",
        "CLOUDFLARE_API_KEY": "cf_test_123456",
        "CLOUDFLARE_ACCOUNT_ID": "acc123",
        "GROQ_API_KEY": "gsk_test_123456",
    }
    chain = ProviderChain(settings(tmp_path, env))
    assert [route.provider for route in chain.routes] == ["groq", "cloudflare", "huggingface", "openai", "ollama"]
    by_provider = {route.provider: route for route in chain.routes}
    assert by_provider["cloudflare"].model == "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert by_provider["cloudflare"].api_base == "https://api.cloudflare.com/client/v4/accounts/acc123/ai/v1"
    assert by_provider["huggingface"].api_key == "hf_test_123456"
    assert by_provider["openai"].api_base == "http://10.0.0.6:8000/v1"
    assert by_provider["ollama"].api_base == "http://10.0.0.5:11434"
    assert by_provider["ollama"].model.startswith("ollama_chat/")
    assert chain.describe().endswith(" -> builtin")


def test_cloudflare_needs_both_the_key_and_the_account(tmp_path: Path) -> None:
    chain = ProviderChain(settings(tmp_path, {"CLOUDFLARE_API_KEY": "cf_test_123456"}))
    assert chain.models == ()


def test_the_model_list_setting_overrides_derivation_and_keeps_its_order(tmp_path: Path) -> None:
    env = {
        "APPLIANCE_LLM_MODELS": "openai/qwen2.5-coder-7b, groq/llama-3.1-8b-instant, builtin",
        "GROQ_API_KEY": "gsk_test_123456",
        "OPENAI_API_BASE": "http://127.0.0.1:8000/v1",
        "HUGGINGFACE_API_KEY": "hf_test_123456",  # set, but not named in the list: not used
    }
    chain = ProviderChain(settings(tmp_path, env))
    assert chain.models == ("openai/qwen2.5-coder-7b", "groq/llama-3.1-8b-instant")
    assert chain.describe() == "LLM chain: openai/qwen2.5-coder-7b -> groq/llama-3.1-8b-instant -> builtin"


def test_builtin_alone_in_the_list_means_no_model(tmp_path: Path) -> None:
    chain = ProviderChain(settings(tmp_path, {"APPLIANCE_LLM_MODELS": "builtin", "GROQ_API_KEY": "gsk_x_123456"}))
    assert not chain.has_models


def test_a_listed_model_without_its_key_fails_at_start_up_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GROQ_API_KEY"):
        ProviderChain(settings(tmp_path, {"APPLIANCE_LLM_MODELS": "groq/llama-3.3-70b-versatile"}))
    with pytest.raises(ConfigError, match="HUGGINGFACE_API_KEY"):
        ProviderChain(settings(tmp_path, {"APPLIANCE_LLM_MODELS": "huggingface/Qwen/Qwen2.5-Coder-32B-Instruct"}))


def test_openai_compatible_servers_need_no_key_but_openai_itself_does(tmp_path: Path) -> None:
    local = resolve_route("openai/llama", settings(tmp_path, {"OPENAI_API_BASE": "http://127.0.0.1:8080/v1"}))
    assert local.api_base == "http://127.0.0.1:8080/v1"
    assert local.api_key  # the OpenAI client refuses to send a request without some key
    hosted = resolve_route("openai/gpt-4o-mini", settings(tmp_path, {"OPENAI_API_KEY": "sk-test-123456"}))
    assert hosted.api_base == "https://api.openai.com/v1"
    assert hosted.api_key == "sk-test-123456"
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        resolve_route("openai/gpt-4o-mini", settings(tmp_path))


def test_ollama_defaults_to_the_local_server(tmp_path: Path) -> None:
    route = resolve_route("ollama/llama3.1", settings(tmp_path))
    assert route.api_base == "http://127.0.0.1:11434"
    assert route.provider == "ollama"


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("groq/llama-3.3-70b-versatile", "groq"),
        ("cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast", "cloudflare"),
        ("huggingface/Qwen/Qwen2.5-Coder-32B-Instruct", "huggingface"),
        ("openai/gpt-4o-mini", "openai"),
        ("ollama_chat/qwen2.5-coder:7b", "ollama"),
        ("ollama/qwen2.5-coder:7b", "ollama"),
    ],
)
def test_provider_names_recorded_on_the_job(model: str, provider: str) -> None:
    assert provider_of(model) == provider


def test_keys_do_not_show_in_the_route_repr_or_the_description(tmp_path: Path) -> None:
    chain = ProviderChain(settings(tmp_path, {"GROQ_API_KEY": "gsk_very_secret_value"}))
    assert "gsk_very_secret_value" not in repr(chain.routes)
    assert "gsk_very_secret_value" not in chain.describe()
