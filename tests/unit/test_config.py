from __future__ import annotations

import re
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from appliance.config import SETTINGS, Settings, settings_markdown
from appliance.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_parse_and_match_seed_port():
    settings = Settings.from_env({})
    assert settings.port == 7860
    assert settings.storage_backend == "local"
    assert settings.llm_models == ()
    assert settings.effective_render_slots >= 1


def test_every_setting_is_a_field_and_vice_versa():
    names = {f.name for f in fields(Settings)}
    assert names == {s.name for s in SETTINGS}
    for s in SETTINGS:
        assert s.env.startswith("APPLIANCE_") or s.env in {
            "TELEGRAM_BOT_TOKEN", "GROQ_API_KEY", "CLOUDFLARE_API_KEY", "CLOUDFLARE_ACCOUNT_ID",
            "HUGGINGFACE_API_KEY", "OPENAI_API_KEY", "OPENAI_API_BASE", "OLLAMA_API_BASE"}
        assert len(s.help) > 15


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_rows_default_parses_to_its_fields_type(setting):
    hints = typing.get_type_hints(Settings)
    value = setting.parse(setting.default)
    expected = hints[setting.name]
    # tuple[...] is checked as a tuple; X | None and plain classes with isinstance itself.
    expected = typing.get_origin(expected) if typing.get_origin(expected) is tuple else expected
    assert isinstance(value, expected), f"{setting.env}: {value!r} is not {hints[setting.name]}"


def test_the_table_is_the_dataclass():
    table = Settings.from_env({})
    assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)]
    assert all(s.group and s.env and s.help for s in SETTINGS)
    with pytest.raises(TypeError):
        Settings()  # every field comes from the table: none has a default of its own
    assert table.replace(port=8000).port == 8000


@pytest.mark.parametrize("env,var", [
    ({"APPLIANCE_PORT": "-1"}, "APPLIANCE_PORT"),
    ({"APPLIANCE_PORT": "http"}, "APPLIANCE_PORT"),
    ({"APPLIANCE_MAX_ACTIVE_JOBS_PER_SESSION": "0"}, "APPLIANCE_MAX_ACTIVE_JOBS_PER_SESSION"),
    ({"APPLIANCE_RENDER_CPUS": "-2"}, "APPLIANCE_RENDER_CPUS"),
    ({"APPLIANCE_LLM_MODELS": "skynet/gpt-9"}, "APPLIANCE_LLM_MODELS"),
    ({"APPLIANCE_RENDER_QUALITY": "4k"}, "APPLIANCE_RENDER_QUALITY"),
    ({"APPLIANCE_CODE_CACHE": "maybe"}, "APPLIANCE_CODE_CACHE"),
    ({"APPLIANCE_STORAGE": "s3"}, "APPLIANCE_S3_BUCKET"),
])
def test_invalid_values_fail_naming_the_variable(env, var):
    with pytest.raises(ConfigError, match=var):
        Settings.from_env(env)


def test_an_unknown_sandbox_runtime_is_refused_with_the_choices():
    assert Settings.from_env({}).sandbox_runtime == "runc"
    assert Settings.from_env({"APPLIANCE_SANDBOX_RUNTIME": " RunSC "}).sandbox_runtime == "runsc"
    with pytest.raises(ConfigError, match=r"APPLIANCE_SANDBOX_RUNTIME='kata' is invalid: .*runc.*runsc"):
        Settings.from_env({"APPLIANCE_SANDBOX_RUNTIME": "kata"})
    with pytest.raises(ConfigError, match="APPLIANCE_SANDBOX_RUNTIME"):
        Settings.from_env({}, sandbox_runtime="kata")  # an override skips the parser, not the check


def test_secrets_are_not_echoed_in_errors():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"APPLIANCE_MAX_CODE_BYTES": "lots"})
    assert "lots" in str(info.value)
    settings = Settings.from_env({"GROQ_API_KEY": "gsk_secret", "TELEGRAM_BOT_TOKEN": "1:abc"})
    assert set(settings.secret_values()) == {"gsk_secret", "1:abc"}


def test_known_provider_models_parse():
    settings = Settings.from_env({"APPLIANCE_LLM_MODELS": "groq/llama-3.3-70b-versatile, ollama/qwen2.5, builtin"})
    assert settings.llm_models == ("groq/llama-3.3-70b-versatile", "ollama/qwen2.5", "builtin")


def test_readme_settings_section_is_in_step_with_the_table():
    text = README.read_text()
    match = re.search(r"<!-- settings:start -->\n(.*)<!-- settings:end -->", text, re.S)
    assert match, "README lacks the settings markers"
    assert match.group(1) == settings_markdown(), "README is stale: run `appliance settings --update-readme README.md`"
    for setting in SETTINGS:
        assert f"`{setting.env}`" in text


def test_the_settings_repr_shows_no_secret_and_no_password_in_a_url() -> None:
    secrets_given = {
        "GROQ_API_KEY": "gsk_live_secret_1", "APPLIANCE_API_TOKEN": "api-token-secret-2",
        "APPLIANCE_S3_SECRET_ACCESS_KEY": "s3-secret-3", "TELEGRAM_BOT_TOKEN": "123:bot-secret-4",
        "APPLIANCE_WEB_AUTH": "admin:web-secret-5", "OPENAI_API_BASE": "https://bob:url-secret-6@llm.example/v1",
        "APPLIANCE_STORAGE": "s3", "APPLIANCE_S3_BUCKET": "videos",
    }
    settings = Settings.from_env(secrets_given)
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}", f"{[settings]}"):
        for value in ("gsk_live_secret_1", "api-token-secret-2", "s3-secret-3", "bot-secret-4", "web-secret-5",
                      "url-secret-6"):
            assert value not in shown, value
    assert "llm.example/v1" in repr(settings) and "groq_api_key=***" in repr(settings)


def test_allowed_hosts_are_names_and_the_loopback_install_knows_its_own() -> None:
    loopback = Settings.from_env({"APPLIANCE_ALLOWED_HOSTS": "Video.Example.org, [::1]",
                                  "APPLIANCE_PUBLIC_URL": "https://public.example.net/app"})
    names = loopback.host_names()
    assert names is not None and {"video.example.org", "public.example.net", "localhost", "127.0.0.1",
                                  "::1"} <= names
    assert "evil.example" not in names
    assert Settings.from_env({"APPLIANCE_HOST": "0.0.0.0"}).host_names() is None  # it cannot know its names
    wide = Settings.from_env({"APPLIANCE_HOST": "0.0.0.0", "APPLIANCE_ALLOWED_HOSTS": "video.example.org"})
    assert wide.host_names() is not None and "video.example.org" in (wide.host_names() or ())
    assert Settings.from_env({"APPLIANCE_ALLOWED_HOSTS": "*"}).host_names() is None
    for bad in ("http://video.example.org", "video.example.org:8443", "video.example.org/app"):
        with pytest.raises(ConfigError, match="APPLIANCE_ALLOWED_HOSTS"):
            Settings.from_env({"APPLIANCE_ALLOWED_HOSTS": bad})
