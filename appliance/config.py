"""Settings: one table (name, environment variable, default, help), read once.

Nothing else in the appliance reads the environment: ``Settings.from_env()``
builds a frozen object at start-up and it is passed down. Invalid values fail
at start-up with a ``ConfigError`` that names the variable. The README's
settings section is generated from ``SETTINGS`` (``appliance settings
--update-readme README.md``) and a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.errors import ConfigError

SANDBOX_IMAGE_VERSION = "7"
"""Bumped whenever sandbox_image/ changes; the image is tagged and labelled with it."""

MANIM_VERSION = "0.19.0"
"""The Manim Community release installed in the sandbox image; prompts are written for it."""

QUALITIES = ("low", "medium", "high")
STORAGE_BACKENDS = ("local", "s3")
TELEGRAM_MODES = ("polling", "webhook")
KNOWN_PROVIDERS = (
    # Providers whose keys the settings table carries (litellm's own env lookups are not used).
    "groq",
    "cloudflare",
    "huggingface",
    "openai",
    "ollama",
    "ollama_chat",
    "builtin",
)


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true/false")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


SANDBOX_RUNTIMES = ("runc", "runsc")
"""The OCI runtimes sandbox containers may run under (Docker's runtime names)."""


def _sandbox_runtime(raw: str) -> str:
    value = raw.strip().lower()
    if value not in SANDBOX_RUNTIMES:
        raise ValueError(
            "unknown sandbox runtime: use runc (Docker's default) or runsc (gVisor, registered with the Docker "
            "engine under the name runsc)")
    return value


def _string(raw: str) -> str:
    return raw.strip()


def _optional_string(raw: str) -> str | None:
    value = raw.strip()
    return value or None


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _optional_path(raw: str) -> Path | None:
    value = raw.strip()
    return Path(value).expanduser() if value else None


def _string_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _host_list(raw: str) -> tuple[str, ...]:
    """``name, name, ...`` -> lower-case host names (an IPv6 address without brackets), or ``("*",)``."""
    hosts = []
    for entry in _string_list(raw):
        host = entry.lower().strip("[]")
        port_given = ":" in entry and not entry.startswith("[") and not _is_ip(host)
        if host != "*" and ("/" in host or " " in host or port_given):
            raise ValueError(f"{entry!r} is not a host name (no scheme, port or path: e.g. video.example.org)")
        hosts.append(host)
    return tuple(hosts)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


TrustedNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network_list(raw: str) -> tuple[TrustedNetwork, ...]:
    """``ADDRESS[/PREFIX], ...`` -> networks (an address alone is a network of one)."""
    networks: list[TrustedNetwork] = []
    for entry in _string_list(raw):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.2 or 172.16.0.0/12)") from None
    return tuple(networks)


def _model_list(raw: str) -> tuple[str, ...]:
    models = _string_list(raw)
    for model in models:
        provider = model.split("/", 1)[0]
        if provider not in KNOWN_PROVIDERS:
            raise ValueError(
                f"unknown provider {provider!r} in {model!r}; known: {', '.join(KNOWN_PROVIDERS)}"
            )
    return models


def _speech_model(raw: str) -> str | None:
    model = raw.strip()
    if not model:
        return None
    provider, _, name = model.partition("/")
    if provider != "openai" or not name:
        raise ValueError("expected an OpenAI-compatible speech model, openai/NAME (e.g. openai/tts-1, or "
                         "openai/kokoro with APPLIANCE_SPEECH_API_BASE)")
    return model


ENGINE_SCHEMES = ("tcp", "unix")


def parse_engine_list(raw: str) -> tuple[tuple[str, int], ...]:
    """``URL[=SLOTS], ...`` -> ((url, slots), ...); slots 0 = from the engine's CPUs."""
    engines: list[tuple[str, int]] = []
    for entry in _string_list(raw):
        url, _, slots_text = entry.partition("=")
        url = url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ENGINE_SCHEMES:
            raise ValueError(
                f"{url!r}: an engine is tcp://HOST:PORT (TLS, see APPLIANCE_RENDER_ENGINES_TLS_DIR) or "
                f"unix:///PATH (for ssh, forward a socket: ssh -L /tmp/e.sock:/var/run/docker.sock HOST)")
        if parts.scheme == "tcp" and (not parts.hostname or not parts.port):
            raise ValueError(f"{url!r}: a tcp engine needs a host and a port, e.g. tcp://render2:2376")
        if parts.scheme == "unix" and not parts.path:
            raise ValueError(f"{url!r}: a unix engine needs a socket path, e.g. unix:///run/render2.sock")
        slots = 0
        if slots_text.strip():
            slots = int(slots_text)
            if slots <= 0:
                raise ValueError(f"{entry!r}: the slot count after = must be a positive integer")
        if url in (known for known, _ in engines):
            raise ValueError(f"{url!r} is listed twice")
        engines.append((url, slots))
    return tuple(engines)


@dataclass(frozen=True)
class Setting:
    """One row of the settings table; ``name`` is the ``Settings`` field the row fills."""

    group: str
    env: str
    default: str
    # Rows parse to different types (int, Path, tuple, ...); each field's annotation says which.
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    name: str = ""  # filled in from the field when SETTINGS is derived


_ROW = "appliance.setting"
"""The key of a ``Settings`` field's metadata that holds its row."""


def _row(
    group: str,
    env: str,
    default: str,
    parse: Callable[[str], Any],
    help: str,
    secret: bool = False,
) -> dict[str, Setting]:
    """The metadata of one ``Settings`` field: its row of the table."""
    return {_ROW: Setting(group=group, env=env, default=default, parse=parse, help=help, secret=secret)}


def _default_data_dir() -> str:
    return str(Path.home() / ".local" / "share" / "manim-appliance")


def _default_render_slots() -> str:
    # A render is pinned to APPLIANCE_RENDER_CPUS; more slots than the machine's
    # CPUs can carry only slow every render down.
    return "0"  # 0 = derived at start-up from os.cpu_count() and render_cpus


@dataclass(frozen=True)
class Settings:
    """Every setting of the appliance, parsed and checked. Build with ``from_env``.

    This class is the settings table: each field carries its row (group, environment
    variable, default text, parser, help, secret) in its metadata, in the order the
    README shows them; ``SETTINGS`` is derived from the fields.
    """

    # -- core --------------------------------------------------------------------------------
    data_dir: Path = field(metadata=_row(
        "Core", "APPLIANCE_DATA_DIR", _default_data_dir(), _path,
        "Directory for the state store, the job queue and local videos (created 0700)."))
    host: str = field(metadata=_row(
        "Core", "APPLIANCE_HOST", "127.0.0.1", _string,
        "Address the HTTP server binds to (the appliance image sets 0.0.0.0)."))
    port: int = field(metadata=_row(
        "Core", "APPLIANCE_PORT", "7860", _positive_int,
        "Port of the HTTP server (API, web UI, Telegram webhook, local video URLs)."))
    public_url: str = field(metadata=_row(
        "Core", "APPLIANCE_PUBLIC_URL", "", _string,
        "Base URL people reach the appliance at, used in video links; empty means http://HOST:PORT."))
    log_level: str = field(metadata=_row(
        "Core", "APPLIANCE_LOG_LEVEL", "INFO", _choice("debug", "info", "warning", "error"),
        "Logging level of the appliance's own messages."))
    # -- sandbox -----------------------------------------------------------------------------
    sandbox_image: str = field(metadata=_row(
        "Sandbox", "APPLIANCE_SANDBOX_IMAGE", f"manim-appliance-sandbox:{SANDBOX_IMAGE_VERSION}", _string,
        "Docker image renders run in; `appliance sandbox build` creates it."))
    sandbox_runtime: str = field(metadata=_row(
        "Sandbox", "APPLIANCE_SANDBOX_RUNTIME", "runc", _sandbox_runtime,
        "OCI runtime every sandbox container runs under: runc (Docker's default) or runsc (gVisor: the scene's "
        "system calls go to gVisor's own kernel, not the host's; register it with each render engine first, "
        "see Security model). `appliance doctor` checks that it is registered and runs."))
    sandbox_base_image: str = field(metadata=_row(
        "Sandbox", "APPLIANCE_SANDBOX_BASE_IMAGE", "debian:bookworm-slim", _string,
        "Base image of the sandbox image. When it cannot be pulled, `appliance sandbox build "
        "--debootstrap` makes it from Debian packages."))
    sandbox_context: Path | None = field(metadata=_row(
        "Sandbox", "APPLIANCE_SANDBOX_CONTEXT", "", _optional_path,
        "Directory with the sandbox image's Dockerfile; empty: sandbox_image/ of this installation."))
    sandbox_auto_build: bool = field(metadata=_row(
        "Sandbox", "APPLIANCE_SANDBOX_AUTO_BUILD", "true", _parse_bool,
        "When `appliance serve` finds no sandbox image, build it in the background (progress in the log)."))
    extra_ca_certs: Path | None = field(metadata=_row(
        "Sandbox", "APPLIANCE_EXTRA_CA_CERTS", "", _optional_path,
        "PEM file of extra CA certificates trusted while building the sandbox image (TLS-inspecting "
        "proxies); an empty file adds none. The appliance image sets it to its bundle of `certs/*.crt`."))
    render_timeout_s: float = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_TIMEOUT_S", "180", _positive_float,
        "Wall-clock limit of one render; the container is killed when it is reached."))
    render_memory_mb: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_MEMORY_MB", "1536", _positive_int,
        "Memory limit of one render container (swap is not allowed: memory == memory+swap)."))
    render_cpus: float = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_CPUS", "1.0", _positive_float,
        "CPUs one render container may use."))
    render_pids: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_PIDS", "256", _positive_int,
        "Maximum number of processes and threads inside one render container."))
    render_tmpfs_mb: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_TMPFS_MB", "512", _positive_int,
        "Size of the in-memory work area (/work) of one render; /tmp gets a quarter of it."))
    render_max_video_mb: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_MAX_VIDEO_MB", "100", _positive_int,
        "Largest video a render may produce; a bigger one is refused as output too large."))
    render_nofile: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_NOFILE", "1024", _positive_int,
        "Open-file limit (ulimit nofile) inside a render container."))
    render_log_kb: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_LOG_KB", "256", _positive_int,
        "How much of a render's stdout/stderr is kept (the rest is dropped)."))
    render_quality: str = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_QUALITY", "medium", _choice(*QUALITIES),
        "Default video quality: low (480p15), medium (720p30) or high (1080p60)."))
    voice_default: bool = field(metadata=_row(
        "Sandbox", "APPLIANCE_VOICE_DEFAULT", "true", _parse_bool,
        "Narrate videos with a voice unless a request says otherwise (web toggle, Telegram /voice, the API's "
        "`voice` field, `appliance render --no-voice`). The voice is espeak-ng inside the sandbox, offline, in the "
        "problem's language (en, es, ru, de, fr); subtitles are made either way."))
    render_encoder_preset: str = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_ENCODER_PRESET", "ultrafast",
        _choice("ultrafast", "superfast", "veryfast", "faster", "fast", "medium"),
        "x264 preset of the sandbox's video encoding: ultrafast renders about 30% faster on a capped CPU than "
        "Manim's own default (medium), for files about 3x larger."))
    warm_pool_size: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_WARM_POOL_SIZE", "1", _non_negative_int,
        "Containers kept started with Manim already imported, each used for one render (0 disables)."))
    render_slots: int = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_SLOTS", _default_render_slots(), _non_negative_int,
        "Renders run at once; 0 derives it from the CPUs and APPLIANCE_RENDER_CPUS."))
    render_engines: tuple[tuple[str, int], ...] = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_ENGINES", "", parse_engine_list,
        "More Docker engines that render too, as extra render slots: comma-separated `URL=SLOTS` "
        "(tcp://HOST:2376 with TLS, or unix:///PATH); without =SLOTS, the engine's CPUs / APPLIANCE_RENDER_CPUS. "
        "The engine of DOCKER_HOST (or the local socket) keeps APPLIANCE_RENDER_SLOTS."))
    render_engines_tls_dir: Path | None = field(metadata=_row(
        "Sandbox", "APPLIANCE_RENDER_ENGINES_TLS_DIR", "", _optional_path,
        "Client certificates for tcp:// render engines, Docker's file names (ca.pem, cert.pem, key.pem): "
        "DIR/HOST/ for one engine, else DIR/. Plain tcp:// without them is only allowed to 127.0.0.1."))
    # -- generation --------------------------------------------------------------------------
    llm_models: tuple[str, ...] = field(metadata=_row(
        "Generation", "APPLIANCE_LLM_MODELS", "", _model_list,
        "Ordered litellm models to try, comma-separated (e.g. groq/llama-3.3-70b-versatile,"
        "ollama/qwen2.5-coder). Empty: derived from the provider keys that are set. The "
        "built-in solver always comes last."))
    llm_timeout_s: float = field(metadata=_row(
        "Generation", "APPLIANCE_LLM_TIMEOUT_S", "60", _positive_float,
        "Timeout of one model call."))
    llm_retries: int = field(metadata=_row(
        "Generation", "APPLIANCE_LLM_RETRIES", "1", _non_negative_int,
        "Retries of one provider (rate limits, timeouts) before moving to the next."))
    model_calls_per_hour: int = field(metadata=_row(
        "Generation", "APPLIANCE_MODEL_CALLS_PER_HOUR", "300", _positive_int,
        "Model calls (each request to a provider, retries included) the appliance makes in any hour, across "
        "every job, so a flood cannot drain a paid key. Once spent, jobs use the built-in solver and say so."))
    llm_temperature: float = field(metadata=_row(
        "Generation", "APPLIANCE_LLM_TEMPERATURE", "0.2", float,
        "Sampling temperature for scene generation."))
    max_attempts: int = field(metadata=_row(
        "Generation", "APPLIANCE_MAX_ATTEMPTS", "3", _positive_int,
        "Generation attempts per job (each failed validation or render feeds the error back)."))
    max_interruptions: int = field(metadata=_row(
        "Generation", "APPLIANCE_MAX_INTERRUPTIONS", "20", _positive_int,
        "Restarts or crashes a job may live through while it is being worked on (a waiting job is not "
        "interrupted): an interrupted attempt is not counted against the job, but a job interrupted more "
        "often than this fails, saying so. It stops a job that itself brings the appliance down from doing "
        "so forever; an appliance killed ten times during one job still finishes it."))
    code_cache: bool = field(metadata=_row(
        "Generation", "APPLIANCE_CODE_CACHE", "true", _parse_bool,
        "Reuse validated scene code for the same problem asked again within a day."))
    code_cache_ttl_s: int = field(metadata=_row(
        "Generation", "APPLIANCE_CODE_CACHE_TTL_S", "86400", _positive_int,
        "How long cached scene code is reused."))
    max_code_bytes: int = field(metadata=_row(
        "Generation", "APPLIANCE_MAX_CODE_BYTES", "60000", _positive_int,
        "Largest scene code accepted from a model."))
    speech_model: str | None = field(metadata=_row(
        "Generation", "APPLIANCE_SPEECH_MODEL", "", _speech_model,
        "A better narration voice: an OpenAI-compatible speech model through litellm, e.g. openai/tts-1 "
        "(OpenAI), or openai/kokoro with APPLIANCE_SPEECH_API_BASE for a local Kokoro or Piper server speaking "
        "that API. The appliance asks it for every narration of a scene before the render (the key never enters "
        "the sandbox); if any of them fails (no answer, an HTTP error, a timeout, audio that is not a short "
        "16-bit PCM WAV) the sandbox's offline espeak-ng says the whole video instead, so one video never has two "
        "voices. Empty: espeak-ng only."))
    speech_voice: str = field(metadata=_row(
        "Generation", "APPLIANCE_SPEECH_VOICE", "alloy", _string,
        "Voice of APPLIANCE_SPEECH_MODEL (OpenAI: alloy, echo, fable, onyx, nova, shimmer; a Kokoro server: "
        "e.g. af_heart)."))
    speech_api_base: str | None = field(metadata=_row(
        "Generation", "APPLIANCE_SPEECH_API_BASE", "", _optional_string,
        "Base URL of the speech server, e.g. http://127.0.0.1:8880/v1 for a local Kokoro server. Empty: "
        "OPENAI_API_BASE when it is set, else OpenAI's own API."))
    speech_api_key: str | None = field(metadata=_row(
        "Generation", "APPLIANCE_SPEECH_API_KEY", "", _optional_string,
        "Key of the speech server, sent as a bearer token. Empty: OPENAI_API_KEY when the speech goes to "
        "OPENAI_API_BASE or OpenAI's own API; no key for a server named by APPLIANCE_SPEECH_API_BASE.",
        secret=True))
    speech_timeout_s: float = field(metadata=_row(
        "Generation", "APPLIANCE_SPEECH_TIMEOUT_S", "20", _positive_float,
        "Timeout of one speech request (one narration); when it is reached espeak-ng speaks the video."))
    # -- provider keys (conventional variables) ----------------------------------------------
    groq_api_key: str | None = field(metadata=_row(
        "Providers", "GROQ_API_KEY", "", _optional_string,
        "Groq API key; enables groq/llama-3.3-70b-versatile.", secret=True))
    cloudflare_api_key: str | None = field(metadata=_row(
        "Providers", "CLOUDFLARE_API_KEY", "", _optional_string,
        "Cloudflare Workers AI token; needs CLOUDFLARE_ACCOUNT_ID too.", secret=True))
    cloudflare_account_id: str | None = field(metadata=_row(
        "Providers", "CLOUDFLARE_ACCOUNT_ID", "", _optional_string,
        "Cloudflare account id for Workers AI."))
    huggingface_api_key: str | None = field(metadata=_row(
        "Providers", "HUGGINGFACE_API_KEY", "", _optional_string,
        "Hugging Face token; enables a Hugging Face Inference model.", secret=True))
    openai_api_key: str | None = field(metadata=_row(
        "Providers", "OPENAI_API_KEY", "", _optional_string,
        "OpenAI (or OpenAI-compatible server) API key.", secret=True))
    openai_api_base: str | None = field(metadata=_row(
        "Providers", "OPENAI_API_BASE", "", _optional_string,
        "Base URL of an OpenAI-compatible server (vLLM, LM Studio, llama.cpp), e.g. "
        "http://127.0.0.1:8000/v1."))
    ollama_api_base: str | None = field(metadata=_row(
        "Providers", "OLLAMA_API_BASE", "", _optional_string,
        "Base URL of an Ollama server, e.g. http://127.0.0.1:11434."))
    # -- orchestration -----------------------------------------------------------------------
    max_active_jobs_per_session: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAX_ACTIVE_JOBS_PER_SESSION", "2", _positive_int,
        "Jobs one session (chat or browser) may have queued or running at once."))
    max_submissions_per_hour: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAX_SUBMISSIONS_PER_HOUR", "20", _positive_int,
        "Submissions one session may make per hour."))
    max_active_jobs_per_client: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAX_ACTIVE_JOBS_PER_CLIENT", "4", _positive_int,
        "Jobs one client address may have queued or running at once through the API and the web page, "
        "whatever sessions it names (a new session does not reset it); beyond it HTTP 429 with Retry-After: 30. "
        "IPv6 addresses count by /64."))
    max_submissions_per_client_per_hour: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAX_SUBMISSIONS_PER_CLIENT_PER_HOUR", "30", _positive_int,
        "Submissions one client address may make per hour through the API and the web page (HTTP 429 "
        "with Retry-After beyond it)."))
    max_queued_jobs: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAX_QUEUED_JOBS", "50", _positive_int,
        "Jobs waiting in the queue across everyone; while it is full, every submission is refused (HTTP 503 "
        "with Retry-After, and the same sentence on the web page, in Telegram and from the CLI)."))
    queued_timeout_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_QUEUED_TIMEOUT_S", "3600", _positive_int,
        "A job still QUEUED after this long fails (the seed's 1 h processing timeout)."))
    ready_ttl_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_READY_TTL_S", "86400", _positive_int,
        "A READY video not accessed within this window expires and is deleted."))
    web_replay_grace_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_WEB_REPLAY_GRACE_S", "900", _non_negative_int,
        "How long the web UI keeps a delivered video for replay after first access."))
    shutdown_grace_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_SHUTDOWN_GRACE_S", "30", _non_negative_int,
        "On shutdown, running renders get this long to finish before they are re-queued."))
    maintenance_interval_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_MAINTENANCE_INTERVAL_S", "60", _positive_int,
        "Interval of the housekeeping run (expiry, timeouts, cache culling)."))
    orphan_sweep_interval_s: int = field(metadata=_row(
        "Jobs", "APPLIANCE_ORPHAN_SWEEP_INTERVAL_S", "300", _positive_int,
        "Interval of the sweep that removes sandbox containers left by a crash."))
    # -- storage -----------------------------------------------------------------------------
    storage_backend: str = field(metadata=_row(
        "Storage", "APPLIANCE_STORAGE", "local", _choice(*STORAGE_BACKENDS),
        "Where videos go: local (disk under the data directory, signed URLs) or s3 (S3/R2)."))
    video_url_ttl_s: int = field(metadata=_row(
        "Storage", "APPLIANCE_VIDEO_URL_TTL_S", "86400", _positive_int,
        "Lifetime of a video URL (presigned or signed)."))
    signing_key: str | None = field(metadata=_row(
        "Storage", "APPLIANCE_SIGNING_KEY", "", _optional_string,
        ("HMAC key for local video URLs and for the session and job keys that prove who owns a job (web page and "
        "API); empty: generated once and kept in the data directory."), secret=True))
    s3_bucket: str | None = field(metadata=_row(
        "Storage", "APPLIANCE_S3_BUCKET", "", _optional_string,
        "Bucket for videos when APPLIANCE_STORAGE=s3."))
    s3_endpoint_url: str | None = field(metadata=_row(
        "Storage", "APPLIANCE_S3_ENDPOINT_URL", "", _optional_string,
        "S3-compatible endpoint, e.g. https://ACCOUNT.r2.cloudflarestorage.com for R2."))
    s3_region: str = field(metadata=_row(
        "Storage", "APPLIANCE_S3_REGION", "auto", _string,
        "Region of the bucket (R2 uses auto)."))
    s3_access_key_id: str | None = field(metadata=_row(
        "Storage", "APPLIANCE_S3_ACCESS_KEY_ID", "", _optional_string,
        "Access key id for the bucket.", secret=True))
    s3_secret_access_key: str | None = field(metadata=_row(
        "Storage", "APPLIANCE_S3_SECRET_ACCESS_KEY", "", _optional_string,
        "Secret access key for the bucket.", secret=True))
    s3_prefix: str = field(metadata=_row(
        "Storage", "APPLIANCE_S3_PREFIX", "videos/", _string,
        "Key prefix for videos in the bucket."))
    # -- web and API -------------------------------------------------------------------------
    api_token: str | None = field(metadata=_row(
        "Web", "APPLIANCE_API_TOKEN", "", _optional_string,
        "When set, /api/* requires `Authorization: Bearer TOKEN`.", secret=True))
    web_auth: str | None = field(metadata=_row(
        "Web", "APPLIANCE_WEB_AUTH", "", _optional_string,
        "When set (user:password), the web UI asks for this login.", secret=True))
    max_request_bytes: int = field(metadata=_row(
        "Web", "APPLIANCE_MAX_REQUEST_BYTES", "65536", _positive_int,
        "Largest HTTP request body accepted by the API."))
    trusted_proxies: tuple[TrustedNetwork, ...] = field(metadata=_row(
        "Web", "APPLIANCE_TRUSTED_PROXIES", "127.0.0.1,::1", _network_list,
        "Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed, to find "
        "the client address the per-client limits count; from anyone else the header is ignored and the "
        "connection's own address counts. Empty: trust no proxy."))
    allowed_hosts: tuple[str, ...] = field(metadata=_row(
        "Web", "APPLIANCE_ALLOWED_HOSTS", "", _host_list,
        "Host names (comma-separated) the server answers to, besides the ones it knows: a request naming "
        "any other host gets 400, so a web page cannot reach a 127.0.0.1 install through DNS rebinding. "
        "Always allowed: localhost, 127.0.0.1, ::1, APPLIANCE_HOST and the hosts of APPLIANCE_PUBLIC_URL and "
        "APPLIANCE_TELEGRAM_WEBHOOK_URL. Empty: on a loopback APPLIANCE_HOST only those; on any other, every "
        "host. `*`: every host."))
    max_streams_per_client: int = field(metadata=_row(
        "Web", "APPLIANCE_MAX_STREAMS_PER_CLIENT", "20", _positive_int,
        "Long-lived connections one client address may hold open at once: API event streams "
        "(/api/jobs/ID/events) and open web pages (each keeps one). More get HTTP 429."))
    web_ui: bool = field(metadata=_row(
        "Web", "APPLIANCE_WEB_UI", "true", _parse_bool,
        "Serve the Gradio web UI at /."))
    # -- telegram ----------------------------------------------------------------------------
    telegram_bot_token: str | None = field(metadata=_row(
        "Telegram", "TELEGRAM_BOT_TOKEN", "", _optional_string,
        "Bot token from @BotFather; the bot is off when empty.", secret=True))
    telegram_mode: str = field(metadata=_row(
        "Telegram", "APPLIANCE_TELEGRAM_MODE", "polling", _choice(*TELEGRAM_MODES),
        "polling (no public URL needed) or webhook (Telegram calls APPLIANCE_TELEGRAM_WEBHOOK_URL)."))
    telegram_webhook_url: str | None = field(metadata=_row(
        "Telegram", "APPLIANCE_TELEGRAM_WEBHOOK_URL", "", _optional_string,
        "Public HTTPS URL of the webhook route (…/telegram/webhook) in webhook mode."))
    telegram_webhook_secret: str | None = field(metadata=_row(
        "Telegram", "APPLIANCE_TELEGRAM_WEBHOOK_SECRET", "", _optional_string,
        "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; empty: generated and kept in "
        "the data directory.", secret=True))
    telegram_commands_per_minute: int = field(metadata=_row(
        "Telegram", "APPLIANCE_TELEGRAM_COMMANDS_PER_MINUTE", "20", _positive_int,
        "Commands and button presses one chat may send a minute; more are ignored (the chat is told once), "
        "so one chatty chat cannot hold up everyone else's answers and videos."))
    telegram_api_base: str = field(metadata=_row(
        "Telegram", "APPLIANCE_TELEGRAM_API_BASE", "https://api.telegram.org/bot", _string,
        "Bot API base URL (a self-hosted Bot API server, or a test stand-in)."))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``environ`` (default: the process environment).

        ``overrides`` take already-parsed values by setting name, for tests and the CLI.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            values[setting.name] = _parse_setting(setting, setting.default if raw is None else raw)
        unknown = set(overrides) - set(_SETTINGS_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (already-parsed values)."""
        settings = dataclasses.replace(self, **changes)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-setting rules that one row alone cannot express."""
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ConfigError("APPLIANCE_STORAGE=s3 needs APPLIANCE_S3_BUCKET")
        if (
            self.telegram_bot_token
            and self.telegram_mode == "webhook"
            and not self.telegram_webhook_url
        ):
            raise ConfigError("APPLIANCE_TELEGRAM_MODE=webhook needs APPLIANCE_TELEGRAM_WEBHOOK_URL")
        if bool(self.cloudflare_api_key) != bool(self.cloudflare_account_id) and any(
            m.startswith("cloudflare/") for m in self.llm_models
        ):
            raise ConfigError("Cloudflare Workers AI needs both CLOUDFLARE_API_KEY and CLOUDFLARE_ACCOUNT_ID")
        if self.speech_model and not (
            self.speech_api_key or self.speech_api_base or self.openai_api_key or self.openai_api_base
        ):
            raise ConfigError(
                "APPLIANCE_SPEECH_MODEL needs a key (APPLIANCE_SPEECH_API_KEY or OPENAI_API_KEY) or the URL of "
                "a local speech server (APPLIANCE_SPEECH_API_BASE)")
        if self.sandbox_runtime not in SANDBOX_RUNTIMES:  # an override skips the row's parser
            raise ConfigError(f"APPLIANCE_SANDBOX_RUNTIME={self.sandbox_runtime!r} is invalid: use runc or runsc")
        if self.render_tmpfs_mb < 64:
            raise ConfigError("APPLIANCE_RENDER_TMPFS_MB must be at least 64")
        if self.render_memory_mb < 256:
            raise ConfigError("APPLIANCE_RENDER_MEMORY_MB must be at least 256")
        for url, _ in self.render_engines:
            # A Docker engine on plain TCP is root on its machine for anyone who can reach it.
            if url.startswith("tcp://") and self.render_engines_tls_dir is None and not is_loopback_url(url):
                raise ConfigError(
                    f"APPLIANCE_RENDER_ENGINES: {url} needs TLS client certificates "
                    f"(APPLIANCE_RENDER_ENGINES_TLS_DIR); plain tcp:// is only allowed to 127.0.0.1")

    # -- derived values ----------------------------------------------------------------------

    @property
    def effective_render_slots(self) -> int:
        return self.render_slots or self.slots_for_cpus(os.cpu_count() or 1)

    def slots_for_cpus(self, cpus: int) -> int:
        """Render slots a machine with ``cpus`` CPUs carries: one render is pinned to
        ``render_cpus``, more slots than that would only slow every render down."""
        return max(1, int(cpus // self.render_cpus))

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def videos_dir(self) -> Path:
        return self.data_dir / "videos"

    def host_names(self) -> frozenset[str] | None:
        """The names a request's Host header may carry (lower case, no port), or None: any.

        A server bound to loopback answers only to its own names, so a web page on another site
        that re-points its DNS name at 127.0.0.1 (DNS rebinding) gets 400 instead of the API.
        A server bound wider cannot know every name it is reached by, unless it is told
        (APPLIANCE_ALLOWED_HOSTS)."""
        if "*" in self.allowed_hosts:
            return None
        if not is_loopback_host(self.host) and not self.allowed_hosts:
            return None
        names = {"localhost", "127.0.0.1", "::1", self.host.strip().strip("[]").lower(), *self.allowed_hosts}
        for url in (self.public_url, self.telegram_webhook_url):
            host = urlsplit(url).hostname if url else None
            if host:
                names.add(host.lower())
        return frozenset(names)

    def secret_values(self) -> list[str]:
        """Every secret setting's value: none of these may enter a sandbox."""
        return [str(getattr(self, s.name)) for s in SETTINGS if s.secret and getattr(self, s.name)]

    def __repr__(self) -> str:
        # The dataclass's own repr would print every key; a secret that is set shows as ***.
        # A URL may carry a password of its own (https://user:password@host): that part too.
        shown = (
            f"{s.name}={'***' if s.secret and getattr(self, s.name) else _shown(getattr(self, s.name))}"
            for s in SETTINGS
        )
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__


SETTINGS: tuple[Setting, ...] = tuple(
    dataclasses.replace(spec.metadata[_ROW], name=spec.name) for spec in dataclasses.fields(Settings)
)
"""The settings table, one row per ``Settings`` field, in field order."""

_SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def _parse_setting(setting: Setting, raw: str) -> Any:
    try:
        return setting.parse(raw)
    except (ValueError, TypeError) as exc:
        shown = "***" if setting.secret else repr(raw)
        raise ConfigError(f"{setting.env}={shown} is invalid: {exc}") from exc


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets allowed)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")


def _shown(value: object) -> str:
    return _without_userinfo(repr(value))


def _without_userinfo(text: str) -> str:
    return _USERINFO.sub("***@", text)


def update_readme(readme: Path) -> bool:
    """Rewrite the settings section of a README between its markers; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    new = re.sub(
        r"<!-- settings:start -->.*<!-- settings:end -->",
        lambda _: "<!-- settings:start -->\n" + settings_markdown() + "<!-- settings:end -->",
        text,
        flags=re.S,
    )
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def settings_markdown() -> str:
    """The README's settings section, generated from the table."""
    lines: list[str] = []
    group = None
    for setting in SETTINGS:
        if setting.group != group:
            group = setting.group
            lines += ["", f"#### {group}", "", "| Variable | Default | What it does |", "|---|---|---|"]
        default = setting.default
        if setting.name == "data_dir":
            default = "~/.local/share/manim-appliance"
        shown_default = f"`{default}`" if default else "(empty)"
        lines.append(f"| `{setting.env}` | {shown_default} | {setting.help.replace('|', '/')} |")
    return "\n".join(lines).strip() + "\n"
