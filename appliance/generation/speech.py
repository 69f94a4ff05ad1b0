"""Narration in a better voice: an OpenAI-compatible speech endpoint, asked before the render.

The sandbox speaks with espeak-ng, offline. When the operator names a speech model
(``APPLIANCE_SPEECH_MODEL``: OpenAI's ``openai/tts-1``, or a local Kokoro or Piper server
speaking OpenAI's ``/v1/audio/speech``), the appliance itself asks it for every narration of a
scene through litellm (so keys never enter the sandbox) and hands the WAV clips to the
container with the code; the sandbox says a text that has a clip with the clip.

- ``narration_in(code)``: the narrations of a scene, read with ``ast`` (never executed): the
  string literals given to ``self.voiceover(...)``, normalized exactly as the sandbox's
  ``appliance_voice.speak`` normalizes them, since a clip is found by that text.
- ``EndpointSpeech.synthesize(texts, language)``: one request per distinct text, each answer
  checked and rewritten as a plain PCM WAV (``checked_wav``). All or nothing: if any text
  fails (connection, HTTP error, timeout, audio that is not a short 16-bit PCM WAV) one warning
  is logged and nothing is returned, so espeak-ng says the whole video; one video never has
  two voices. It never raises.
- ``build_speech(settings)``: the synthesizer the settings ask for, or None.

litellm's exceptions are translated in ``appliance.generation.llm`` (``map_litellm_exceptions``),
the one place that knows them.
"""

from __future__ import annotations

import ast
import io
import logging
import re
import time
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeGuard

from appliance.config import Settings
from appliance.contracts import CallBudget, SpeechClip, SpeechSynthesizer
from appliance.generation.llm import (
    NO_KEY_PLACEHOLDER,
    OPENAI_API_BASE,
    ProviderCallFailed,
    load_litellm,
    map_litellm_exceptions,
)
from appliance.python_syntax import parse_module

log = logging.getLogger(__name__)

# What the sandbox says of one narration (sandbox_image/voice/appliance_voice.py): the text
# without bookmarks and runs of white space, at most MAX_TEXT_CHARS of it.
MAX_TEXT_CHARS = 600
_BOOKMARK = re.compile(r"<bookmark\s+mark\s*=\s*['\"]([^'\"]*)['\"]\s*/>")

# The calls that narrate (manim-voiceover's API, as the sandbox's stand-in implements it).
_NARRATING_METHODS = frozenset({"voiceover", "add_voiceover_text", "add_voiceover_ssml"})

# What a clip may be: anything else is a failure, and espeak-ng speaks the video.
MAX_WAV_BYTES = 8 * 1024 * 1024
MIN_RATE_HZ, MAX_RATE_HZ = 8_000, 48_000
MIN_CLIP_S, MAX_CLIP_S = 0.1, 60.0

MAX_TEXTS = 60  # more narrations than this in one scene: not worth that many requests
PARALLEL_REQUESTS = 4


def said_text(text: str) -> str:
    """What the sandbox says of a narration, and so the text its clip is found by."""
    return " ".join(_BOOKMARK.sub(" ", text).split())[:MAX_TEXT_CHARS]


def narration_in(code: str, *, all_or_nothing: bool = False) -> list[str]:
    """The narrations of a scene, in source order, each once, as the sandbox will say them.

    A narration is the string literal given to ``self.voiceover(text=...)`` (or as its first
    argument; ``ssml=`` too) or to ``self.add_voiceover_text``/``add_voiceover_ssml``. A text
    known only at render time (an f-string, a variable) is skipped: espeak-ng says it. With
    ``all_or_nothing`` one such text makes the answer empty, so that the whole video is said
    by one voice. Code that does not parse has no narration.
    """
    try:
        tree = parse_module(code)
    except (SyntaxError, ValueError, RecursionError):
        return []
    calls = sorted(
        (node for node in ast.walk(tree) if _is_narrating_call(node)),
        key=lambda call: (call.lineno, call.col_offset),
    )
    texts: list[str] = []
    for call in calls:
        text = _literal_text(call)
        if text is None:
            if all_or_nothing:
                return []
            continue
        said = said_text(text)
        if said and said not in texts:
            texts.append(said)
    return texts


def _is_narrating_call(node: ast.AST) -> TypeGuard[ast.Call]:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _NARRATING_METHODS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    )


def _literal_text(call: ast.Call) -> str | None:
    """The text a narrating call says when the code alone tells it, else None."""
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg is not None}
    argument = call.args[0] if call.args else keywords.get("text") or keywords.get("ssml")
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    return None


# -- the audio ------------------------------------------------------------------------------


class BadAudio(ValueError):
    """A speech answer that is not a clip the sandbox can use; the message says why."""


def checked_wav(data: bytes) -> tuple[bytes, float]:
    """A speech answer, checked and rewritten as a plain WAV, and its duration in seconds.

    It must be a PCM 16-bit WAV, mono or stereo, 8 to 48 kHz, 0.1 to 60 s, at most 8 MB;
    ``BadAudio`` says what it is not. Streamed WAVs (OpenAI's, Kokoro-FastAPI's) carry
    placeholder sizes (0xFFFFFFFF) in their headers: the frames actually present count,
    and the copy handed on has the true sizes and no extra chunks.
    """
    if len(data) > MAX_WAV_BYTES:
        raise BadAudio(f"the audio is {len(data) / 1e6:.1f} MB, more than {MAX_WAV_BYTES // 2**20} MB")
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            channels, width, rate = audio.getnchannels(), audio.getsampwidth(), audio.getframerate()
            frame_bytes = channels * width
            if width != 2:
                raise BadAudio(f"the audio is {8 * width}-bit, not 16-bit PCM")
            if channels not in (1, 2):
                raise BadAudio(f"the audio has {channels} channels")
            if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
                raise BadAudio(f"the audio's sample rate is {rate} Hz")
            frames = audio.readframes(MAX_WAV_BYTES // frame_bytes)
    except (wave.Error, EOFError) as exc:
        raise BadAudio(f"the answer is not a PCM WAV file ({exc or type(exc).__name__})") from exc
    count = len(frames) // frame_bytes
    duration = count / rate
    if not MIN_CLIP_S <= duration <= MAX_CLIP_S:
        raise BadAudio(f"the audio lasts {duration:.2f} s")
    out = io.BytesIO()
    with wave.open(out, "wb") as clean:
        clean.setnchannels(channels)
        clean.setsampwidth(width)
        clean.setframerate(rate)
        clean.writeframes(frames[: count * frame_bytes])
    return out.getvalue(), duration


# -- the endpoint ---------------------------------------------------------------------------


class _TextFailed(Exception):
    """One text got no usable clip; ``reason`` says why (it never leaves this module)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EndpointSpeech:
    """``SpeechSynthesizer`` through litellm's ``speech`` (an OpenAI-compatible ``/audio/speech``).

    ``budget``: when given, each request is first taken from it (the appliance's hourly
    budget of model calls); a spent budget is a failure like any other.
    """

    def __init__(
        self,
        model: str,
        voice: str,
        *,
        api_base: str | None,
        api_key: str | None,
        timeout_s: float,
        budget: CallBudget | None = None,
    ) -> None:
        self.model = model
        self.voice = voice
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.budget = budget

    def __repr__(self) -> str:
        return f"EndpointSpeech(model={self.model!r}, voice={self.voice!r}, api_base={self.api_base!r})"

    def synthesize(self, texts: Sequence[str], language: str) -> tuple[SpeechClip, ...]:
        """A clip for every distinct non-empty text, in order, or () when any one fails.

        ``texts`` are said texts (``narration_in``'s). ``language`` is not sent: the
        endpoint's voice reads the text as it is written (choose a voice that speaks the
        problems' languages).
        """
        wanted = list(dict.fromkeys(text for text in texts if text))
        if not wanted:
            return ()
        if len(wanted) > MAX_TEXTS:
            self._fell_back(f"the scene has {len(wanted)} narrations, more than {MAX_TEXTS}")
            return ()
        started = time.monotonic()
        try:
            clips = self._all(wanted)
        except _TextFailed as failure:
            self._fell_back(failure.reason)
            return ()
        except Exception:  # a fault of ours must cost the voice, never the video
            log.exception("speech through %s failed unexpectedly: espeak-ng speaks this video", self.model)
            return ()
        log.info(
            "speech: %d narrations (%.1f s of audio) from %s in %.1f s",
            len(clips), sum(clip.duration_s for clip in clips), self.model, time.monotonic() - started,
        )
        return clips

    def _all(self, texts: list[str]) -> tuple[SpeechClip, ...]:
        with ThreadPoolExecutor(min(PARALLEL_REQUESTS, len(texts)), thread_name_prefix="speech") as pool:
            futures = [pool.submit(self._one, text) for text in texts]
            try:
                return tuple(future.result() for future in futures)
            finally:
                for future in futures:
                    future.cancel()  # after a failure, the requests not yet started are not made

    def _one(self, text: str) -> SpeechClip:
        if self.budget is not None and not self.budget.try_spend():
            raise _TextFailed("the hourly budget of model calls is spent")
        litellm = load_litellm()
        try:
            with map_litellm_exceptions(self.timeout_s):
                response = litellm.speech(
                    model=self.model,
                    voice=self.voice,
                    input=text,
                    api_base=self.api_base,
                    api_key=self.api_key,
                    response_format="wav",
                    timeout=self.timeout_s,
                    max_retries=0,  # one request per text: a failure means espeak-ng, not a wait
                )
                data = response.content
            if not isinstance(data, bytes):
                raise BadAudio("the answer has no audio")
            wav, duration = checked_wav(data)
        except ProviderCallFailed as failure:
            raise _TextFailed(failure.reason) from failure
        except BadAudio as bad:
            raise _TextFailed(str(bad)) from bad
        return SpeechClip(text=text, wav=wav, duration_s=duration)

    def _fell_back(self, reason: str) -> None:
        if self.api_key and len(self.api_key) >= 6:
            reason = reason.replace(self.api_key, "***")
        log.warning("speech through %s failed (%s): espeak-ng speaks this video", self.model, reason)


def build_speech(settings: Settings, budget: CallBudget | None = None) -> SpeechSynthesizer | None:
    """The speech endpoint the settings name, or None when APPLIANCE_SPEECH_MODEL is empty.

    Where it is and its key: APPLIANCE_SPEECH_API_BASE with APPLIANCE_SPEECH_API_KEY (or no
    key); else OPENAI_API_BASE, else OpenAI's own API, with APPLIANCE_SPEECH_API_KEY or
    OPENAI_API_KEY. Keys are passed on every call, never through the environment.
    """
    if not settings.speech_model:
        return None
    if settings.speech_api_base:
        api_base, api_key = settings.speech_api_base, settings.speech_api_key
    else:
        api_base = settings.openai_api_base or OPENAI_API_BASE
        api_key = settings.speech_api_key or settings.openai_api_key
    return EndpointSpeech(
        settings.speech_model,
        settings.speech_voice,
        api_base=api_base,
        # The OpenAI client sends no request without a key; a local server needs none.
        api_key=api_key or NO_KEY_PLACEHOLDER,
        timeout_s=settings.speech_timeout_s,
        budget=budget,
    )
