"""`appliance doctor` calls each configured provider for real (a loopback OpenAI-compatible server)."""

from __future__ import annotations

from appliance.config import Settings
from appliance.doctor import _provider_checks
from tests.integration.openai_stub import OpenAIStub, unused_port_url


def test_doctor_reports_a_working_and_a_dead_provider(tmp_path):
    with OpenAIStub() as stub:
        stub.queue_reply("OK")
        settings = Settings.from_env(
            {}, data_dir=tmp_path, llm_models=("openai/stub-model",), openai_api_base=stub.base_url,
            openai_api_key="sk-test", llm_timeout_s=10,
        )
        [good] = _provider_checks(settings, online=True)
        assert good.ok and "answered" in good.detail, good
        assert len(stub.requests) == 1
    dead = settings.replace(openai_api_base=unused_port_url(), llm_timeout_s=5)
    [bad] = _provider_checks(dead, online=True)
    assert not bad.ok and "fix" not in bad.detail and bad.fix.startswith("check the provider's key")
    [skipped] = _provider_checks(settings, online=False)
    assert skipped.skipped
