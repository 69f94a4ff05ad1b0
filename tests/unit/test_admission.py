"""Admission (appliance/admission.py): client keys, trusted proxies, the queue cap, the per-client
limits and the model budget, with a settable clock (nothing sleeps); and the refusals as the
service, the generator and the CLI see them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from appliance.admission import (
    ACTIVE_LIMIT_RETRY_AFTER_S,
    MODEL_BUDGET_NOTICE,
    QUEUE_FULL_MESSAGE,
    Admission,
    AdmissionLimits,
    ClientSlots,
    ModelBudget,
    client_key,
    exposure_warning,
)
from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.errors import ConfigError, LimitExceeded, ModelBudgetExhausted, QueueFull, UnsupportedProblem
from appliance.generation.generator import Generator
from appliance.generation.llm import ModelRoute, ProviderChain
from appliance.models import ProcessingJob, UserSession
from appliance.service import Channel
from tests.integration.openai_stub import unused_port_url
from tests.unit.fakes import GOOD_CODE, FakeGenerator, FakeSandbox

PROXY = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- client keys ---------------------------------------------------------------------------------


def test_an_untrusted_peer_is_the_client_whatever_it_forwards():
    assert client_key("203.0.113.7", ["198.51.100.1"], PROXY) == "203.0.113.7"
    assert client_key("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"
    assert client_key("203.0.113.7") == "203.0.113.7"


def test_a_trusted_proxy_s_forwarded_address_is_the_client():
    assert client_key("10.0.0.2", ["198.51.100.1"], PROXY) == "198.51.100.1"
    # A client's own header comes first; the proxies append what they saw, read from the right.
    assert client_key("10.0.0.2", ["1.2.3.4, 198.51.100.1"], PROXY) == "198.51.100.1"
    # Through two trusted proxies, and with the values split over two headers.
    assert client_key("10.0.0.2", ["1.2.3.4, 198.51.100.1", "10.9.9.9"], PROXY) == "198.51.100.1"
    # Every hop trusted: the leftmost one.
    assert client_key("10.0.0.2", ["10.1.1.1, 10.2.2.2"], PROXY) == "10.1.1.1"
    # A trusted proxy that forwards nothing is the client.
    assert client_key("10.0.0.2", [], PROXY) == "10.0.0.2"


def test_a_malformed_forwarded_hop_ends_the_walk():
    assert client_key("10.0.0.2", ["198.51.100.1, unknown"], PROXY) == "10.0.0.2"
    assert client_key("10.0.0.2", ["198.51.100.1, 10.3.3.3, not-an-ip"], PROXY) == "10.0.0.2"


def test_ports_brackets_and_ipv6_are_read_and_ipv6_counts_by_64():
    assert client_key("10.0.0.2", ["198.51.100.1:4711"], PROXY) == "198.51.100.1"
    assert client_key("10.0.0.2", ["[2001:db8:1:2::5]:443"], PROXY) == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::5") != client_key("2001:db8:1:2::5")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:ffff::1", ["203.0.113.9"], PROXY) == "203.0.113.9"


def test_a_peer_that_is_not_an_address_is_its_own_key():
    assert client_key("testclient", ["198.51.100.1"], PROXY) == "testclient"
    assert client_key(None) == client_key("") == "unknown"


def test_trusted_proxies_are_a_setting_of_addresses_and_networks():
    settings = Settings.from_env({"APPLIANCE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5,fd00::/8"})
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.5/32", "fd00::/8"]
    assert Settings.from_env({"APPLIANCE_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    assert [str(n) for n in Settings.from_env({}).trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    with pytest.raises(ConfigError, match="APPLIANCE_TRUSTED_PROXIES"):
        Settings.from_env({"APPLIANCE_TRUSTED_PROXIES": "proxy.local"})
    for variable in ("APPLIANCE_MAX_QUEUED_JOBS", "APPLIANCE_MODEL_CALLS_PER_HOUR",
                     "APPLIANCE_MAX_ACTIVE_JOBS_PER_CLIENT", "APPLIANCE_MAX_SUBMISSIONS_PER_CLIENT_PER_HOUR"):
        with pytest.raises(ConfigError, match=variable):
            Settings.from_env({variable: "0"})


# -- the queue cap and the per-client limits -------------------------------------------------------


class World:
    """The store as Admission sees it: a queue length and which jobs are still active."""

    def __init__(self) -> None:
        self.queued = 0
        self.active: set[str] = set()
        self.clock = Clock()
        self.count = 0

    def admission(self, queued: int = 100, active: int = 2, per_hour: int = 3) -> Admission:
        return Admission(AdmissionLimits(queued, active, per_hour), queue_length=lambda: self.queued,
                         job_active=self.active.__contains__, clock=self.clock)

    def submit(self, admission: Admission, client: str | None) -> str:
        self.count += 1
        job_id = f"job-{self.count}"
        with admission.admit(client) as count:
            self.queued += 1
            self.active.add(job_id)
            count(job_id)
        return job_id


def test_the_queue_cap_refuses_everyone_with_a_retry_after_until_the_queue_shrinks():
    world = World()
    admission = world.admission(queued=2)
    world.submit(admission, "203.0.113.1")
    world.submit(admission, None)
    for client in ("203.0.113.1", "203.0.113.2", None):
        with pytest.raises(QueueFull) as refused:
            admission.check(client)
        assert refused.value.reason == "queue_full" and refused.value.retry_after_s == 60
        assert str(refused.value) == QUEUE_FULL_MESSAGE
    assert isinstance(refused.value, LimitExceeded)
    world.queued -= 1  # a slot took a job
    world.submit(admission, "203.0.113.2")


def test_a_client_s_jobs_in_progress_are_limited_and_free_again_when_they_end():
    world = World()
    admission = world.admission(active=2, per_hour=10)
    first = world.submit(admission, "203.0.113.1")
    world.submit(admission, "203.0.113.1")
    with pytest.raises(LimitExceeded) as refused:
        world.submit(admission, "203.0.113.1")
    assert refused.value.reason == "client_active_limit"
    assert refused.value.retry_after_s == ACTIVE_LIMIT_RETRY_AFTER_S  # a client is told when to come back
    assert "2 videos asked for from your address are still in progress (the limit is 2)" in str(refused.value)
    world.submit(admission, "203.0.113.2")  # another client is not affected
    world.submit(admission, None)  # nor a submission with no client (Telegram, the CLI)
    world.active.discard(first)
    world.submit(admission, "203.0.113.1")


def test_a_client_s_submissions_per_hour_are_a_sliding_window():
    world = World()
    admission = world.admission(active=10, per_hour=3)
    for _ in range(3):
        world.submit(admission, "203.0.113.1")
        world.clock.now += 600
    with pytest.raises(LimitExceeded) as refused:
        admission.check("203.0.113.1")
    # The first submission leaves the hour 1800 s from now.
    assert refused.value.reason == "client_hourly_limit" and refused.value.retry_after_s == 1800
    assert "sent 3 problems in the last hour, the limit is 3" in str(refused.value)
    assert "about 30 minutes" in str(refused.value)
    world.clock.now += 1799
    with pytest.raises(LimitExceeded):
        admission.check("203.0.113.1")
    world.clock.now += 1
    world.submit(admission, "203.0.113.1")
    with pytest.raises(LimitExceeded):
        admission.check("203.0.113.1")


def test_a_job_that_is_not_created_is_not_counted():
    world = World()
    admission = world.admission(active=1, per_hour=1)
    with pytest.raises(RuntimeError), admission.admit("203.0.113.1"):
        raise RuntimeError("the store refused it")
    world.submit(admission, "203.0.113.1")
    with pytest.raises(LimitExceeded):
        admission.check("203.0.113.1")


def test_idle_clients_are_forgotten():
    world = World()
    admission = world.admission(queued=1000, active=5, per_hour=5)
    for index in range(300):
        world.active.discard(world.submit(admission, f"198.51.100.{index % 250}"))
    world.clock.now += 3601
    for _ in range(256):
        admission.check("203.0.113.1")
    assert not admission._clients  # every one of them idle for an hour


# -- the model budget ------------------------------------------------------------------------------


def test_the_model_budget_is_a_sliding_hour():
    clock = Clock()
    budget = ModelBudget(3, clock)
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    assert budget.remaining() == 0
    clock.now += 3599
    assert not budget.try_spend()
    clock.now += 1
    assert budget.remaining() == 3 and budget.try_spend() and budget.remaining() == 2


class Spent:
    def try_spend(self) -> bool:
        return False


@dataclass
class Solution:
    answer_text: str = "x = 4"
    steps: list[str] = field(default_factory=lambda: ["Subtract 3.", "Divide by 2."])
    code: str = GOOD_CODE
    narration: list[str] = field(default_factory=lambda: ["Subtract 3.", "Divide by 2."])


class Solver:
    """The built-in solver's seam: it solves linear equations and nothing else."""

    def solve(self, problem_text: str, language: str | None = None) -> Solution:
        if "Prove" in problem_text:
            raise UnsupportedProblem("proofs are not computations")
        return Solution()

    def reference_answer(self, problem_text: str) -> None:
        return None

    def answers_agree(self, stated: str, reference: object) -> bool:
        return True


def test_a_spent_budget_makes_no_call_and_the_built_in_solver_says_so(tmp_path: Path):
    settings = Settings.from_env({}, data_dir=tmp_path, llm_retries=0)
    # Nothing listens there: a call that were made would fail as a connection error instead.
    route = ModelRoute("openai/model-a", "openai", unused_port_url(), "sk-test-123456")
    chain = ProviderChain(settings, routes=[route], budget=Spent())
    with pytest.raises(ModelBudgetExhausted) as spent:
        chain.complete([{"role": "user", "content": "Solve 2x = 4"}])
    assert spent.value.failures == []
    scene = Generator(settings, chain, solver=Solver()).generate("Solve 2x + 3 = 11", "en")
    assert scene.provider == "builtin" and scene.answer_text == "x = 4" and scene.notice == MODEL_BUDGET_NOTICE
    with pytest.raises(ModelBudgetExhausted, match=r"budget of language-model calls is used up.*try again in an hour"):
        Generator(settings, chain, solver=Solver()).generate("Prove that there are infinitely many primes.", "en")


def test_the_generator_s_own_chain_spends_the_budget_it_is_given(tmp_path: Path):
    settings = Settings.from_env({}, data_dir=tmp_path, llm_models=("openai/model-a",),
                                 openai_api_base=unused_port_url(), openai_api_key="sk-test-123456")
    scene = Generator(settings, solver=Solver(), budget=Spent()).generate("Solve 2x + 3 = 11", "en")
    assert scene.notice == MODEL_BUDGET_NOTICE


# -- the start-up warning ----------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "token", "login", "warned"), [
    ("0.0.0.0", None, None, True), ("::", None, None, True), ("192.168.1.10", None, None, True),
    ("appliance.example", None, None, True),
    ("127.0.0.1", None, None, False), ("localhost", None, None, False), ("::1", None, None, False),
    ("0.0.0.0", "token-123", None, False), ("0.0.0.0", None, "user:password", False),
])
def test_an_open_server_beyond_loopback_is_warned_about(tmp_path, host, token, login, warned):
    settings = Settings.from_env({}, data_dir=tmp_path, host=host, api_token=token, web_auth=login)
    warning = exposure_warning(settings)
    assert (warning is not None) == warned
    if warning:
        assert f"APPLIANCE_HOST={host}" in warning and "APPLIANCE_API_TOKEN" in warning
        assert "4 in progress and 30 an hour per client address, 50 waiting in all and 300 model calls" in warning


# -- through the service ---------------------------------------------------------------------------


async def test_a_new_session_does_not_reset_the_client_s_limits_and_a_refusal_makes_no_session(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, max_submissions_per_client_per_hour=2)
    appliance = build_appliance(settings, source=FakeGenerator(), renderer=FakeSandbox(), run_workers=False,
                                run_maintenance=False)
    try:
        first = await appliance.submit("Solve 2x + 3 = 11", Channel("api", client="203.0.113.1"))
        second = await appliance.submit("Solve 2x + 3 = 11", Channel("api", client="203.0.113.1"))
        sessions = {(await appliance.get(r.job_id)).session_id for r in (first, second)}
        assert len(sessions) == 2  # a fresh session each time...
        sessions_before = _session_count(appliance)
        for channel in (Channel("api", client="203.0.113.1"), Channel.web(sessions.pop(), client="203.0.113.1")):
            with pytest.raises(LimitExceeded) as refused:  # ...but the address's count goes on
                await appliance.submit("Solve 2x + 3 = 11", channel)
            assert refused.value.reason == "client_hourly_limit"
        assert _session_count(appliance) == sessions_before  # the refused flood left no sessions behind
        await appliance.submit("Solve 2x + 3 = 11", Channel("api", client="203.0.113.2"))
        await appliance.submit("Solve 2x + 3 = 11", Channel.telegram(42))  # a chat has its session's limits
        assert 'appliance_jobs_refused_total{reason="client_hourly_limit"} 2' in appliance.metrics_text()
    finally:
        await appliance.stop()


def _session_count(appliance) -> int:
    return sum(1 for key in appliance.store._cache.iterkeys() if str(key).startswith("session:"))


# -- the CLI -----------------------------------------------------------------------------------------


def test_render_exits_busy_with_the_sentence_when_the_queue_is_full(tmp_path, monkeypatch, capsys):
    from appliance import assemble
    from frontends.cli import main
    from frontends.cli.exit_codes import EXIT_BUSY

    real_build = assemble.build_appliance

    def build(settings, **kwargs):
        appliance = real_build(settings, source=FakeGenerator(), renderer=FakeSandbox(), run_workers=False,
                               run_maintenance=False)
        session = appliance.store.create_session(UserSession.new(telegram_chat_id="0", channel="api"))
        appliance.store.create_job(ProcessingJob.new(session.session_id, "Solve 3x = 12 please"))
        return appliance

    monkeypatch.setattr(assemble, "build_appliance", build)
    monkeypatch.setenv("APPLIANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("APPLIANCE_MAX_QUEUED_JOBS", "1")
    code = main(["render", "Solve 2x + 3 = 11", "-o", str(tmp_path / "out.mp4")])
    assert code == EXIT_BUSY == 4
    assert f"appliance: {QUEUE_FULL_MESSAGE}" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_client_slots_bound_each_client_and_are_given_back() -> None:
    slots = ClientSlots(2)
    with slots.hold("203.0.113.7") as first, slots.hold("203.0.113.7") as second:
        assert first and second
        with slots.hold("203.0.113.7") as third:
            assert not third  # the client's share is taken
        with slots.hold("198.51.100.9") as other:
            assert other  # another client is not affected
        with slots.hold(None) as unknown:
            assert unknown  # no address: not limited here
        assert slots.held("203.0.113.7") == 2
    assert slots.held("203.0.113.7") == 0
    try:
        with slots.hold("203.0.113.7"):
            raise RuntimeError("the block fails")
    except RuntimeError:
        pass
    assert slots.held("203.0.113.7") == 0  # given back all the same
