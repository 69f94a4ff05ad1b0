"""``appliance doctor``: check each component and say exactly what to fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

from appliance.config import Settings
from appliance.generation.builtin import solve
from appliance.generation.llm import ModelRoute, ProviderChain
from appliance.sandbox.connection import (
    EngineSpec,
    engine_facts,
    engine_specs,
    open_client,
    open_local_client,
    translate_docker_errors,
)
from appliance.sandbox.docker import REGISTER_RUNSC, DockerSandbox
from appliance.storage import make_storage
from appliance.store import Store


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _run(name: str, probe: Callable[[], str], fix: str) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:  # any failure is the check's answer; the class name is only shown
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:400], fix)


def run_checks(settings: Settings, online: bool = True) -> list[Check]:
    checks: list[Check] = []

    def docker_probe() -> str:
        client = open_local_client(timeout=10)
        try:
            with translate_docker_errors("cannot reach the Docker engine"):
                version = client.version()
            return f"Docker engine {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"
        finally:
            client.close()

    checks.append(_run("docker", docker_probe,
                       "start the Docker engine (e.g. `sudo systemctl start docker`), set DOCKER_HOST, or mount "
                       "/var/run/docker.sock into the appliance container"))

    def image_probe() -> str:
        sandbox = DockerSandbox(settings, open_local_client())
        try:
            sandbox.check_image()
        finally:
            sandbox.close()
        return f"{settings.sandbox_image} present"

    checks.append(_run("sandbox image", image_probe, "run `appliance sandbox build` (add --debootstrap "
                                                      "when the base image cannot be pulled)"))

    def runtime_probe() -> str:
        sandbox = DockerSandbox(settings.replace(warm_pool_size=0), open_local_client())
        try:
            sandbox.check_image()  # a missing image is the check above's failure, said once there
            return sandbox.check_runtime()
        finally:
            sandbox.close()

    checks.append(_run("sandbox runtime", runtime_probe, _runtime_fix(settings)))
    checks.extend(_engine_checks(settings))

    def store_probe() -> str:
        store = Store(settings.store_dir)
        try:
            store.check_writable()
            return f"{settings.store_dir} writable ({store.queue_length()} job(s) queued)"
        finally:
            store.close()

    checks.append(_run("store", store_probe, f"make {settings.data_dir} writable by this user "
                                             "(APPLIANCE_DATA_DIR)"))

    def storage_probe() -> str:
        storage = make_storage(settings)
        storage.check()
        return f"{settings.storage_backend} storage usable"

    checks.append(_run("video storage", storage_probe,
                       "check APPLIANCE_S3_* settings (bucket, endpoint, keys)" if settings.storage_backend == "s3"
                       else f"make {settings.videos_dir} writable"))

    def builtin_probe() -> str:
        solution = solve("Solve 2x + 3 = 11")
        return f"built-in solver works (Solve 2x + 3 = 11 -> {solution.answer_text})"

    checks.append(_run("built-in solver", builtin_probe, "reinstall the appliance (sympy missing?)"))
    checks.extend(_provider_checks(settings, online))
    checks.append(_telegram_check(settings, online))
    return checks


def _runtime_fix(settings: Settings) -> str:
    if settings.sandbox_runtime == "runsc":
        return REGISTER_RUNSC
    return "check that the Docker engine runs containers (`docker run --rm --network none IMAGE true`)"


def _engine_checks(settings: Settings) -> list[Check]:
    """One check per extra render engine (APPLIANCE_RENDER_ENGINES): reachable, image there,
    the sandbox runtime registered and running."""
    checks = []
    for spec in engine_specs(settings)[1:]:
        def probe(spec: EngineSpec = spec) -> str:
            client = open_client(spec, timeout=10)
            sandbox = DockerSandbox(settings.replace(warm_pool_size=0), client, engine=spec.name)
            try:
                facts = engine_facts(client)
                sandbox.check_image()
                sandbox.check_runtime()
            finally:
                sandbox.close()
            slots = spec.slots or settings.slots_for_cpus(facts.cpus)
            return (f"Docker engine {facts.version} ({facts.architecture}, {facts.cpus} CPUs), "
                    f"{slots} render slot(s), {settings.sandbox_image} present, runs under "
                    f"{settings.sandbox_runtime}")

        checks.append(_run(f"render engine {spec.name}", probe,
                           "check that the engine listens at that URL (tcp: dockerd --tlsverify on port 2376) and "
                           "the client certificates in APPLIANCE_RENDER_ENGINES_TLS_DIR; copy the sandbox image "
                           "there with `appliance sandbox push`"
                           + ("; on that machine, " + REGISTER_RUNSC if settings.sandbox_runtime == "runsc" else "")))
    return checks


def _provider_checks(settings: Settings, online: bool) -> list[Check]:
    chain = ProviderChain(settings, retry_backoff_s=0)
    if not chain.routes:
        return [Check("model providers", True, "none configured: the built-in solver writes every scene "
                      "(set GROQ_API_KEY, CLOUDFLARE_API_KEY, HUGGINGFACE_API_KEY, OPENAI_API_BASE or "
                      "OLLAMA_API_BASE to add a model)")]
    checks = []
    for route in chain.routes:
        name = f"provider {route.model}"
        if not online:
            checks.append(Check(name, True, "configured (not called)", skipped=True))
            continue

        def probe(route: ModelRoute = route) -> str:
            # One tiny real call through the same path jobs use (timeout, no retries).
            single = ProviderChain(settings.replace(llm_retries=0), routes=[route], retry_backoff_s=0)
            reply = single.complete([{"role": "user", "content": "Reply with the single word OK."}])
            return f"answered in {reply.duration_s:.1f}s"

        checks.append(_run(name, probe, "check the provider's key and base URL; jobs fall back to the next "
                                        "provider and finally to the built-in solver"))
    return checks


def _telegram_check(settings: Settings, online: bool) -> Check:
    token = settings.telegram_bot_token
    if not token:
        return Check("telegram", True, "bot off (TELEGRAM_BOT_TOKEN not set)")
    if not online:
        return Check("telegram", True, "token set (not checked)", skipped=True)

    def probe() -> str:
        response = httpx.get(f"{settings.telegram_api_base}{token}/getMe", timeout=15)
        data = response.json()
        if not data.get("ok"):
            raise RuntimeError(data.get("description", f"HTTP {response.status_code}"))
        mode = settings.telegram_mode
        return f"bot @{data['result'].get('username')} reachable, mode {mode}"

    return _run("telegram", probe, "check TELEGRAM_BOT_TOKEN (from @BotFather) and network access to Telegram")
