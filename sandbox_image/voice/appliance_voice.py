"""The appliance's voice inside the sandbox: speech for narrated scenes, offline.

The runner calls ``configure`` with the render request's ``voice`` part before the scene
runs. ``speak(text)`` then returns a clip: a WAV file and its duration.

- engine "espeak-ng": the Debian espeak-ng synthesizer in this image, in the problem's
  language (en, es, ru, de, fr); no network, no model files.
- engine "clips": the appliance synthesized the narration itself (a better voice through
  an OpenAI-compatible speech endpoint; keys never enter the sandbox) and put one WAV per
  text under /work/voice-clips, named in ``clips``; a text without a clip falls back to
  espeak-ng.
- voice off: no sound at all, but the same pacing, estimated from the text's length, so a
  silent video still leaves time to read each caption (and subtitles are still made).

Runs under the image's Python only: standard library.
"""

from __future__ import annotations

import os
import re
import subprocess
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

VOICE_DIR = Path("/work/voice")
CLIPS_DIR = Path("/work/voice-clips")
LANGUAGES = {"en": "en-us", "es": "es", "ru": "ru", "de": "de", "fr": "fr"}
WORDS_PER_MINUTE = 155
SILENT_CHARS_PER_SECOND = 14.0  # a reading pace for a caption with no voice
MAX_TEXT_CHARS = 600
ESPEAK_TIMEOUT_S = 30

_BOOKMARK = re.compile(r"<bookmark\s+mark\s*=\s*['\"]([^'\"]*)['\"]\s*/>")
# Sentences are spoken one by one and joined with this much silence: espeak-ng's own pause
# after a full stop is long enough to sound like the end of a step.
SENTENCE_GAP_S = 0.2
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")
# Quieter than this (of 32767) at the start and end of a clip is silence, cut off so that a
# narration starts when its step starts.
SILENCE_LEVEL = 400
EDGE_KEEP_S = 0.03


@dataclass
class VoiceSettings:
    enabled: bool = True
    language: str = "en"
    engine: str = "espeak-ng"
    clips: dict[str, str] | None = None


@dataclass(frozen=True)
class Clip:
    text: str
    path: Path | None  # None: voice off (pacing only)
    duration: float
    engine: str


SETTINGS = VoiceSettings()
SPOKEN: list[Clip] = []  # every clip handed out, in order (the runner reports the engines used)


def configure(request_voice: object) -> None:
    """Take the request's ``voice`` object (anything else: the defaults, voice on)."""
    global SETTINGS
    settings = VoiceSettings()
    if isinstance(request_voice, dict):
        settings.enabled = bool(request_voice.get("enabled", True))
        language = str(request_voice.get("language") or "en")
        settings.language = language if language in LANGUAGES else "en"
        clips = request_voice.get("clips")
        if isinstance(clips, dict):
            settings.clips = {str(text): str(name) for text, name in clips.items()}
            settings.engine = "clips"
    SETTINGS = settings


def plain_text(text: str) -> str:
    """What is said: the text without bookmarks and without runs of spaces."""
    return " ".join(_BOOKMARK.sub(" ", text).split())


def bookmark_offsets(text: str) -> dict[str, int]:
    """Each bookmark's position in the plain text (characters before it)."""
    offsets: dict[str, int] = {}
    said = ""
    position = 0
    for match in _BOOKMARK.finditer(text):
        said += text[position:match.start()]
        offsets[match.group(1)] = len(" ".join(said.split()))
        position = match.end()
    return offsets


# What espeak-ng gets wrong when it reads math as written (heard on its five voices): "3/4" is
# "three slash four"; "1 - √2" loses its minus (" - " is a pause); the Russian voice drops the
# minus of "-5"; "78.54" is "seven thousand eight hundred fifty-four" in es, ru, de and fr, where
# the decimal mark is a comma; "≈" and "−" are read in English whatever the voice. ``speakable``
# rewrites those into the voice's own words. The subtitles keep the text as written.
_MATH_WORDS: dict[str, dict[str, str]] = {
    "en": {"eq": "equals", "ne": "is not equal to",
           "minus": "minus", "over": "over", "root": "root of", "squared": "squared", "cubed": "cubed",
           "power": "to the power", "times": "times", "pi": "pi", "approx": "approximately", "le": "at most",
           "ge": "at least", "lt": "less than", "gt": "greater than", "pm": "plus or minus", "inf": "infinity",
           "prime": "prime of", "second": "double prime of"},
    "es": {"eq": "igual a", "ne": "distinto de",
           "minus": "menos", "over": "entre", "root": "raíz de", "squared": "al cuadrado", "cubed": "al cubo",
           "power": "elevado a", "times": "por", "pi": "pi", "approx": "aproximadamente", "le": "como mucho",
           "ge": "como mínimo", "lt": "menor que", "gt": "mayor que", "pm": "más o menos", "inf": "infinito",
           "prime": "prima de", "second": "segunda de"},
    "ru": {"eq": "равно", "ne": "не равно",
           "minus": "минус", "over": "делённое на", "root": "корень из", "squared": "в квадрате",
           "cubed": "в кубе", "power": "в степени", "times": "умножить на", "pi": "пи", "approx": "примерно",
           "le": "не больше", "ge": "не меньше", "lt": "меньше", "gt": "больше", "pm": "плюс минус",
           "inf": "бесконечность", "prime": "штрих от", "second": "два штриха от"},
    "de": {"eq": "gleich", "ne": "ungleich",
           "minus": "minus", "over": "durch", "root": "Wurzel aus", "squared": "Quadrat", "cubed": "hoch drei",
           "power": "hoch", "times": "mal", "pi": "pi", "approx": "ungefähr", "le": "höchstens",
           "ge": "mindestens", "lt": "kleiner als", "gt": "größer als", "pm": "plus minus", "inf": "unendlich",
           "prime": "Strich von", "second": "zwei Strich von"},
    "fr": {"eq": "égale", "ne": "différent de",
           "minus": "moins", "over": "sur", "root": "racine de", "squared": "au carré", "cubed": "au cube",
           "power": "puissance", "times": "fois", "pi": "pi", "approx": "environ", "le": "au plus",
           "ge": "au moins", "lt": "inférieur à", "gt": "supérieur à", "pm": "plus ou moins", "inf": "l'infini",
           "prime": "prime de", "second": "seconde de"},
}
# A variable is a lone Latin letter. The Russian voice reads one as an English letter ("y" is
# "why"), the Spanish and French voices read "y" as the word "and"/"i"; a teacher says its name.
_LETTER_NAMES: dict[str, dict[str, str]] = {
    "ru": {"a": "а", "b": "бэ", "c": "цэ", "d": "дэ", "e": "е", "f": "эф", "g": "жэ", "h": "аш", "k": "ка",
           "m": "эм", "n": "эн", "p": "пэ", "q": "ку", "r": "эр", "s": "эс", "t": "тэ", "u": "у", "v": "вэ",
           "w": "дубль-вэ", "x": "икс", "y": "игрек", "z": "зет"},
    "es": {"y": "ye"},
    "fr": {"y": "i grec"},
}
# Russian text has no Latin words but formulas: "4ac" is "4 а цэ", "sin" is "синус".
_RUSSIAN_FUNCTIONS = {"sin": "синус", "cos": "косинус", "tan": "тангенс", "tg": "тангенс", "cot": "котангенс",
                      "ctg": "котангенс", "ln": "логарифм", "log": "логарифм", "lim": "предел", "exp": "экспонента"}
_LATIN_RUN = re.compile(r"(?<![A-Za-z])[A-Za-z]{1,3}(?![A-Za-z])")
# A binary minus has a number, one letter, a bracket or a root on at least one side: "x - 3" and
# "1 - √2" are subtractions; "Hoch- und Tiefpunkt" and a dash between two words are not.
_OPERAND_LEFT = r"(?:\d|\b[A-Za-z]|[)²³])"
_OPERAND_RIGHT = r"(?:\d|[A-Za-z]\b|[(√])"


def speakable(text: str, language: str) -> str:
    """``text`` with its math written out in ``language``'s words, for espeak-ng to read."""
    words = _MATH_WORDS.get(language, _MATH_WORDS["en"])
    text = text.replace("\u2212", "-")
    if language in ("es", "fr"):  # before the signs become words: "y - 3" tells a variable from "and"
        text = re.sub(r"(?<![A-Za-z])y(?![A-Za-z])", lambda m: _variable_y(m, _LETTER_NAMES[language]), text)
    if language != "en":
        text = re.sub(r"(?<=\d)\.(?=\d)", ",", text)
    text = re.sub(r"\b([A-Za-z])''\(", rf"\1 {words['second']} (", text)
    text = re.sub(r"\b([A-Za-z])'\(", rf"\1 {words['prime']} (", text)
    # y' = 3x² (a derivative named without its bracket): "y prime equals", not "y of".
    # Only before "=" or the end, so that French "l'équation" keeps its apostrophe.
    bare = r"(?=\s*(?:=|$|[,.;:)]))"
    text = re.sub(r"(?<=\w)\s*''" + bare, " " + words["second"].rsplit(" ", 1)[0], text)
    text = re.sub(r"(?<=\w)\s*'" + bare, " " + words["prime"].rsplit(" ", 1)[0], text)
    text = re.sub(r"\b([A-Za-z])_\{?(\d+)\}?", r"\1 \2", text)
    text = re.sub(rf"(?<={_OPERAND_LEFT})\s+-\s+|\s+-\s+(?={_OPERAND_RIGHT})", f" {words['minus']} ", text)
    text = re.sub(r"(?:(?<=^)|(?<=[\s(=,<>:;\[^]))-(?=[\d√(π]|[A-Za-z]\b)", f"{words['minus']} ", text)
    # "= - pi/4", "(- root of 2": a sign the answer's words moved apart from what it negates.
    # A binary minus became a word above, so a "-" right after "(", "=" or "," is a sign.
    text = re.sub(r"(?<=[(=,:;])(\s?)-\s+(?=[\w√π])", rf"\1{words['minus']} ", text)
    text = re.sub(r"\^2\b|²", f" {words['squared']}", text)
    text = re.sub(r"\^3\b|³", f" {words['cubed']}", text)
    text = re.sub(r"\^\(([^()]*)\)|\^(\w+)", lambda m: f" {words['power']} {m.group(1) or m.group(2)} ", text)
    text = re.sub(r"(?<=[\w)])\s*/\s*(?=[\w(√])", f" {words['over']} ", text)
    for symbol, key in (("√", "root"), ("·", "times"), ("×", "times"), ("π", "pi"), ("±", "pm"),
                        ("≤", "le"), ("≥", "ge"), ("<", "lt"), (">", "gt"), ("∞", "inf")):
        text = text.replace(symbol, f" {words[key]} ")
    text = re.sub(r"\s*≈\s*", f", {words['approx']} ", text)
    names = _LETTER_NAMES.get(language)
    if names and language == "ru":
        text = _LATIN_RUN.sub(lambda m: _said_letters(m.group(0), names), text)
    text = text.replace("≠", f" {words['ne']} ").replace("=", f" {words['eq']} ")
    return re.sub(r"\s+([,.;:])(?=\s|$)", r"\1", " ".join(text.split()))


def _said_letters(run: str, names: dict[str, str]) -> str:
    if run.lower() in _RUSSIAN_FUNCTIONS:
        return f" {_RUSSIAN_FUNCTIONS[run.lower()]} "
    return " " + " ".join(names.get(letter.lower(), letter) for letter in run) + " "


def _variable_y(match: re.Match[str], names: dict[str, str]) -> str:
    """"y" is also a word in Spanish ("and") and French ("il y a"): it is the variable only
    when a formula goes on after it ("y = 3", "y)") or a number stands right before it ("2y")."""
    text, start, end = match.string, match.start(), match.end()
    rest = text[end:].lstrip()
    after = rest[:1]
    # "y - 3" is a subtraction; "-2 y -3" is "and" before a negative number.
    binary_minus = after == "-" and rest[1:2].isspace()
    if not after or after in "=<>+^)'·*/≤≥≠,.;:" or binary_minus or (start and text[start - 1].isdigit()):
        return f" {names['y']} "
    return match.group(0)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / float(audio.getframerate())


def _espeak(text: str, destination: Path) -> None:
    voice = LANGUAGES.get(SETTINGS.language, "en-us")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(destination), "--",
         speakable(text, SETTINGS.language)],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=ESPEAK_TIMEOUT_S)


def _trimmed_samples(path: Path) -> tuple[array, int]:
    """A mono 16-bit WAV's samples without the silence before the first and after the last sound."""
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        samples = array("h", audio.readframes(audio.getnframes()))
    loud = [index for index in range(0, len(samples), 64) if abs(samples[index]) > SILENCE_LEVEL]
    if not loud:
        return array("h"), rate
    keep = int(EDGE_KEEP_S * rate)
    return samples[max(0, loud[0] - keep):min(len(samples), loud[-1] + keep)], rate


def _speak_sentences(text: str, destination: Path) -> None:
    """``text`` spoken sentence by sentence into one WAV: trimmed, with even short gaps."""
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()] or [text]
    joined = array("h")
    rate = 22050
    for index, sentence in enumerate(sentences):
        part_path = destination.with_name(f"{destination.stem}-{index}.wav")
        _espeak(sentence, part_path)
        samples, rate = _trimmed_samples(part_path)
        part_path.unlink(missing_ok=True)
        if joined and samples:
            joined.extend(array("h", bytes(2 * int(SENTENCE_GAP_S * rate))))
        joined.extend(samples)
    if not joined:
        joined = array("h", bytes(2 * rate // 2))  # nothing audible: half a second of silence
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(joined.tobytes())


def speak(text: str) -> Clip:
    """A clip saying ``text`` (bookmarks removed)."""
    said = plain_text(text)[:MAX_TEXT_CHARS]
    if not SETTINGS.enabled or not said:
        clip = Clip(said, None, max(1.0, len(said) / SILENT_CHARS_PER_SECOND), "none")
        SPOKEN.append(clip)
        return clip
    VOICE_DIR.mkdir(parents=True, exist_ok=True)
    if SETTINGS.clips and said in SETTINGS.clips:
        name = os.path.basename(SETTINGS.clips[said])
        supplied = CLIPS_DIR / name
        try:
            clip = Clip(said, supplied, wav_duration(supplied), "clips")
            SPOKEN.append(clip)
            return clip
        except (OSError, EOFError, wave.Error):
            pass  # a missing or broken clip: the offline voice says it instead
    destination = VOICE_DIR / f"{len(SPOKEN):03d}.wav"
    _speak_sentences(said, destination)
    clip = Clip(said, destination, wav_duration(destination), "espeak-ng")
    SPOKEN.append(clip)
    return clip
