"""Everything the bot says, in English, Spanish, Russian, German and French.

Plain text only (no parse mode): problems and answers are full of ``*``, ``_`` and
``<``, and escaping them for Markdown or HTML is a classic source of "can't parse
entities" errors. ``t(lang, key, **values)`` falls back to English for an unknown
language; a test checks that every key exists in every language with the same
placeholders.
"""

from __future__ import annotations

from datetime import datetime

from appliance.admission import QUEUE_FULL_MESSAGE
from appliance.models import ProcessingJob, ProcessingStatus, VideoMetadata

S = ProcessingStatus

LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "ru": "Русский",
    "de": "Deutsch",
    "fr": "Français",
}
DEFAULT_LANGUAGE = "en"

# Tap-to-send examples on /start. Kept in the notation every solver reads, whatever
# the chat's language: the built-in solver parses formulas, not prose.
EXAMPLES: tuple[str, ...] = (
    "Solve 2x + 3 = 11",
    "Find the derivative of x^2 * sin(x)",
)

CAPTION_LIMIT = 1024  # Telegram's limit for media captions
MESSAGE_LIMIT = 4096  # Telegram's limit for a text message

TEXTS: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hi! I turn math problems into short explanatory videos.\n\n"
              "Send me a problem as a text message, for example:\n• {example1}\n• {example2}\n\n"
              "Or tap an example below. /help explains more.",
        "es": "¡Hola! Convierto problemas de matemáticas en vídeos cortos que los explican.\n\n"
              "Envíame un problema como mensaje de texto, por ejemplo:\n• {example1}\n• {example2}\n\n"
              "O toca un ejemplo abajo. /help explica más.",
        "ru": "Привет! Я превращаю математические задачи в короткие видео с объяснением.\n\n"
              "Пришлите задачу текстом, например:\n• {example1}\n• {example2}\n\n"
              "Или нажмите на пример ниже. Подробнее: /help",
        "de": "Hallo! Ich mache aus Matheaufgaben kurze Erklärvideos.\n\n"
              "Schick mir eine Aufgabe als Textnachricht, zum Beispiel:\n• {example1}\n• {example2}\n\n"
              "Oder tippe unten auf ein Beispiel. /help erklärt mehr.",
        "fr": "Bonjour ! Je transforme des problèmes de maths en courtes vidéos explicatives.\n\n"
              "Envoyez-moi un problème en message texte, par exemple :\n• {example1}\n• {example2}\n\n"
              "Ou touchez un exemple ci-dessous. /help en dit plus.",
    },
    "help": {
        "en": "Send a math problem as text ({min} to {max} characters) and I reply with a short video "
              "that explains it. You can have {active} videos in progress at once and send {hourly} "
              "problems per hour.\n\n"
              "/status: your current video\n/cancel: stop it\n/history: your recent videos\n"
              "/language: change my language\n/voice: narration on or off (subtitles stay)\n\n"
              "In a group, mention me or reply to my message.",
        "es": "Envía un problema de matemáticas como texto (de {min} a {max} caracteres) y te respondo "
              "con un vídeo corto que lo explica. Puedes tener {active} vídeos en curso a la vez y enviar "
              "{hourly} problemas por hora.\n\n"
              "/status: tu vídeo actual\n/cancel: detenerlo\n/history: tus vídeos recientes\n"
              "/language: cambiar mi idioma\n/voice: narración sí o no (los subtítulos quedan)\n\n"
              "En un grupo, menciónome o responde a mi mensaje.",
        "ru": "Пришлите математическую задачу текстом (от {min} до {max} символов), и я отвечу "
              "коротким видео с объяснением. Одновременно может готовиться {active} видео, "
              "в час можно отправить {hourly} задач.\n\n"
              "/status: текущее видео\n/cancel: остановить его\n/history: недавние видео\n"
              "/language: сменить язык\n/voice: озвучка вкл./выкл. (субтитры остаются)\n\n"
              "В группе упомяните меня или ответьте на моё сообщение.",
        "de": "Schick eine Matheaufgabe als Text ({min} bis {max} Zeichen), und ich antworte mit einem "
              "kurzen Erklärvideo. Du kannst {active} Videos gleichzeitig in Arbeit haben und {hourly} "
              "Aufgaben pro Stunde senden.\n\n"
              "/status: dein aktuelles Video\n/cancel: abbrechen\n/history: deine letzten Videos\n"
              "/language: Sprache ändern\n/voice: Sprecherstimme an oder aus (Untertitel bleiben)\n\n"
              "In einer Gruppe erwähne mich oder antworte auf meine Nachricht.",
        "fr": "Envoyez un problème de maths en texte ({min} à {max} caractères) et je réponds avec une "
              "courte vidéo qui l'explique. Vous pouvez avoir {active} vidéos en cours à la fois et "
              "envoyer {hourly} problèmes par heure.\n\n"
              "/status : votre vidéo en cours\n/cancel : l'arrêter\n/history : vos vidéos récentes\n"
              "/language : changer de langue\n/voice : voix ou non (les sous-titres restent)\n\n"
              "Dans un groupe, mentionnez-moi ou répondez à mon message.",
    },
    "cmd_start": {"en": "What I do, with examples", "es": "Qué hago, con ejemplos",
                  "ru": "Что я умею, с примерами", "de": "Was ich kann, mit Beispielen",
                  "fr": "Ce que je fais, avec des exemples"},
    "cmd_help": {"en": "How to use me", "es": "Cómo usarme", "ru": "Как мной пользоваться",
                 "de": "So benutzt du mich", "fr": "Comment m'utiliser"},
    "cmd_status": {"en": "Your current video", "es": "Tu vídeo actual", "ru": "Текущее видео",
                   "de": "Dein aktuelles Video", "fr": "Votre vidéo en cours"},
    "cmd_cancel": {"en": "Stop the current video", "es": "Detener el vídeo actual",
                   "ru": "Остановить текущее видео", "de": "Aktuelles Video abbrechen",
                   "fr": "Arrêter la vidéo en cours"},
    "cmd_history": {"en": "Your recent videos", "es": "Tus vídeos recientes", "ru": "Недавние видео",
                    "de": "Deine letzten Videos", "fr": "Vos vidéos récentes"},
    "cmd_language": {"en": "Change the language", "es": "Cambiar el idioma", "ru": "Сменить язык",
                     "de": "Sprache ändern", "fr": "Changer de langue"},
    "cmd_voice": {"en": "Narration on or off", "es": "Narración sí o no", "ru": "Озвучка вкл./выкл.",
                  "de": "Stimme an oder aus", "fr": "Voix ou non"},
    # -- progress ------------------------------------------------------------------------------
    "status_queued_at": {"en": "⏳ In line: number {position}", "es": "⏳ En la cola: número {position}",
                         "ru": "⏳ В очереди: номер {position}", "de": "⏳ In der Warteschlange: Nummer {position}",
                         "fr": "⏳ Dans la file : numéro {position}"},
    "status_queued": {"en": "⏳ Waiting in line", "es": "⏳ Esperando en la cola", "ru": "⏳ Ждёт в очереди",
                      "de": "⏳ Wartet in der Schlange", "fr": "⏳ En attente dans la file"},
    "status_generating": {"en": "✍️ Writing the scene…", "es": "✍️ Escribiendo la escena…",
                          "ru": "✍️ Пишу сцену…", "de": "✍️ Schreibe die Szene…",
                          "fr": "✍️ Écriture de la scène…"},
    "status_generating_again": {"en": "✍️ Writing the scene again (attempt {attempt})…",
                                "es": "✍️ Escribiendo la escena de nuevo (intento {attempt})…",
                                "ru": "✍️ Переписываю сцену (попытка {attempt})…",
                                "de": "✍️ Schreibe die Szene neu (Versuch {attempt})…",
                                "fr": "✍️ Nouvelle écriture de la scène (essai {attempt})…"},
    "status_validating": {"en": "🔍 Checking the scene…", "es": "🔍 Comprobando la escena…",
                          "ru": "🔍 Проверяю сцену…", "de": "🔍 Prüfe die Szene…",
                          "fr": "🔍 Vérification de la scène…"},
    "status_rendering": {"en": "🎬 Rendering the video…", "es": "🎬 Renderizando el vídeo…",
                         "ru": "🎬 Рендерю видео…", "de": "🎬 Rendere das Video…",
                         "fr": "🎬 Rendu de la vidéo…"},
    "status_uploading": {"en": "📦 Preparing the video…", "es": "📦 Preparando el vídeo…",
                         "ru": "📦 Готовлю видео…", "de": "📦 Bereite das Video vor…",
                         "fr": "📦 Préparation de la vidéo…"},
    "status_sending": {"en": "📤 Sending the video…", "es": "📤 Enviando el vídeo…",
                       "ru": "📤 Отправляю видео…", "de": "📤 Sende das Video…",
                       "fr": "📤 Envoi de la vidéo…"},
    "status_cancelling": {"en": "🛑 Cancelling…", "es": "🛑 Cancelando…", "ru": "🛑 Отменяю…",
                          "de": "🛑 Breche ab…", "fr": "🛑 Annulation…"},
    "status_delivered": {"en": "✅ Done: the video is below.", "es": "✅ Listo: el vídeo está abajo.",
                         "ru": "✅ Готово: видео ниже.", "de": "✅ Fertig: das Video ist unten.",
                         "fr": "✅ Terminé : la vidéo est ci-dessous."},
    "status_link": {"en": "✅ Done: the video was too large to send here, so it came as a link.",
                    "es": "✅ Listo: el vídeo era demasiado grande para enviarlo aquí, así que va como enlace.",
                    "ru": "✅ Готово: видео слишком большое для отправки сюда, поэтому пришла ссылка.",
                    "de": "✅ Fertig: das Video war zu groß für den Chat, daher kam es als Link.",
                    "fr": "✅ Terminé : la vidéo était trop lourde pour être envoyée ici, elle arrive en lien."},
    "status_expired": {"en": "⌛ This video expired before it could be sent. Please send the problem again.",
                       "es": "⌛ Este vídeo caducó antes de poder enviarse. Envía el problema de nuevo.",
                       "ru": "⌛ Срок хранения видео истёк до отправки. Пришлите задачу ещё раз.",
                       "de": "⌛ Dieses Video ist abgelaufen, bevor es gesendet werden konnte. "
                             "Bitte schick die Aufgabe noch einmal.",
                       "fr": "⌛ Cette vidéo a expiré avant d'être envoyée. Renvoyez le problème."},
    "status_lost": {"en": "⚠️ I lost track of this video. Please send the problem again.",
                    "es": "⚠️ Perdí el rastro de este vídeo. Envía el problema de nuevo.",
                    "ru": "⚠️ Я потерял это видео. Пришлите задачу ещё раз.",
                    "de": "⚠️ Ich habe dieses Video aus den Augen verloren. Bitte schick die Aufgabe noch einmal.",
                    "fr": "⚠️ J'ai perdu la trace de cette vidéo. Renvoyez le problème."},
    "button_cancel": {"en": "Cancel", "es": "Cancelar", "ru": "Отменить", "de": "Abbrechen", "fr": "Annuler"},
    # -- failures: one sentence per reason class -----------------------------------------------
    "failed": {"en": "❌ Sorry, I couldn't make this video: {reason}.",
               "es": "❌ Lo siento, no pude hacer este vídeo: {reason}.",
               "ru": "❌ Не получилось сделать это видео: {reason}.",
               "de": "❌ Leider konnte ich dieses Video nicht erstellen: {reason}.",
               "fr": "❌ Désolé, je n'ai pas pu faire cette vidéo : {reason}."},
    "reason_cancelled": {"en": "it was cancelled", "es": "se canceló", "ru": "оно отменено",
                         "de": "es wurde abgebrochen", "fr": "elle a été annulée"},
    "reason_unsupported_problem": {
        "en": "I did not understand it as a math problem I can draw; try rephrasing it, e.g. \"{example}\"",
        "es": "no lo entendí como un problema de matemáticas que sepa dibujar; prueba a reformularlo, "
              "p. ej. \"{example}\"",
        "ru": "я не распознал в этом задачу, которую умею нарисовать; попробуйте переформулировать, "
              "например \"{example}\"",
        "de": "ich habe es nicht als Matheaufgabe erkannt, die ich zeichnen kann; formuliere sie anders, "
              "z. B. \"{example}\"",
        "fr": "je ne l'ai pas compris comme un problème de maths que je sais dessiner ; reformulez-le, "
              "par ex. « {example} »"},
    "reason_generation_failed": {
        "en": "the service that writes the scenes is not answering right now, please try again later",
        "es": "el servicio que escribe las escenas no responde ahora mismo, inténtalo más tarde",
        "ru": "сервис, который пишет сцены, сейчас не отвечает, попробуйте позже",
        "de": "der Dienst, der die Szenen schreibt, antwortet gerade nicht, bitte versuch es später noch einmal",
        "fr": "le service qui écrit les scènes ne répond pas pour l'instant, réessayez plus tard"},
    "reason_model_budget": {
        "en": "the hourly budget of language-model calls is used up and the built-in solver does not handle "
              "this kind of problem, please try again in an hour",
        "es": "se agotó el presupuesto horario de llamadas al modelo de lenguaje y el solucionador integrado no "
              "maneja este tipo de problema, inténtalo dentro de una hora",
        "ru": "лимит обращений к языковой модели на этот час исчерпан, а встроенный решатель такие задачи не "
              "решает, попробуйте через час",
        "de": "das stündliche Kontingent an Sprachmodell-Aufrufen ist aufgebraucht, und der eingebaute Löser "
              "kann diese Art Aufgabe nicht, bitte versuch es in einer Stunde noch einmal",
        "fr": "le budget horaire d'appels au modèle de langage est épuisé et le solveur intégré ne traite pas "
              "ce type de problème, réessayez dans une heure"},
    "reason_code_rejected": {
        "en": "the scene I wrote kept failing the safety check",
        "es": "la escena que escribí no pasó el control de seguridad",
        "ru": "написанная сцена не прошла проверку безопасности",
        "de": "die Szene, die ich geschrieben habe, hat die Sicherheitsprüfung nicht bestanden",
        "fr": "la scène que j'ai écrite n'a pas passé le contrôle de sécurité"},
    "reason_render_timeout": {
        "en": "the video took too long to render", "es": "el vídeo tardó demasiado en renderizarse",
        "ru": "видео рендерилось слишком долго", "de": "das Rendern hat zu lange gedauert",
        "fr": "le rendu de la vidéo a pris trop de temps"},
    "reason_render_memory": {
        "en": "the video needed too much memory to render", "es": "el vídeo necesitaba demasiada memoria",
        "ru": "для рендера не хватило памяти", "de": "das Rendern brauchte zu viel Speicher",
        "fr": "le rendu demandait trop de mémoire"},
    "reason_render": {
        "en": "the scene failed to render", "es": "la escena no se pudo renderizar",
        "ru": "сцену не удалось отрендерить", "de": "die Szene ließ sich nicht rendern",
        "fr": "la scène n'a pas pu être rendue"},
    "reason_storage_error": {
        "en": "the finished video could not be stored", "es": "no se pudo guardar el vídeo terminado",
        "ru": "готовое видео не удалось сохранить", "de": "das fertige Video konnte nicht gespeichert werden",
        "fr": "la vidéo terminée n'a pas pu être enregistrée"},
    "reason_sandbox_unavailable": {
        "en": "the renderer is unavailable right now, please try again later",
        "es": "el renderizador no está disponible ahora, inténtalo más tarde",
        "ru": "рендерер сейчас недоступен, попробуйте позже",
        "de": "der Renderer ist gerade nicht verfügbar, bitte versuch es später noch einmal",
        "fr": "le moteur de rendu est indisponible pour l'instant, réessayez plus tard"},
    "reason_queued_timeout": {
        "en": "it waited too long in line, please send it again",
        "es": "esperó demasiado en la cola, envíalo de nuevo",
        "ru": "задача слишком долго ждала в очереди, пришлите её ещё раз",
        "de": "es hat zu lange in der Warteschlange gewartet, bitte schick es noch einmal",
        "fr": "elle a attendu trop longtemps dans la file, renvoyez-la"},
    "reason_internal_error": {
        "en": "something went wrong on our side", "es": "algo falló por nuestra parte",
        "ru": "что-то пошло не так на нашей стороне", "de": "bei uns ist etwas schiefgelaufen",
        "fr": "un problème est survenu de notre côté"},
    "reason_video_missing": {
        "en": "the finished video was no longer there", "es": "el vídeo terminado ya no estaba",
        "ru": "готового видео уже нет", "de": "das fertige Video war nicht mehr da",
        "fr": "la vidéo terminée n'était plus disponible"},
    # -- delivery ------------------------------------------------------------------------------
    "steps_title": {"en": "📝 The solution, step by step (the video follows):",
                    "es": "📝 La solución, paso a paso (el vídeo llega después):",
                    "ru": "📝 Решение по шагам (видео придёт следом):",
                    "de": "📝 Die Lösung Schritt für Schritt (das Video folgt):",
                    "fr": "📝 La solution, étape par étape (la vidéo suit) :"},
    "voice_on": {"en": "🔊 Your videos will be narrated. /voice turns the voice off (subtitles stay).",
                 "es": "🔊 Tus vídeos tendrán narración. /voice la desactiva (los subtítulos quedan).",
                 "ru": "🔊 Видео будут с озвучкой. /voice выключает её (субтитры остаются).",
                 "de": "🔊 Deine Videos werden gesprochen. /voice schaltet die Stimme aus (Untertitel bleiben).",
                 "fr": "🔊 Vos vidéos seront commentées. /voice coupe la voix (les sous-titres restent)."},
    "voice_off": {"en": "🔇 Your videos will be silent, with subtitles. /voice turns the voice back on.",
                  "es": "🔇 Tus vídeos serán mudos, con subtítulos. /voice vuelve a activar la voz.",
                  "ru": "🔇 Видео будут без звука, с субтитрами. /voice снова включает озвучку.",
                  "de": "🔇 Deine Videos sind stumm, mit Untertiteln. /voice schaltet die Stimme wieder ein.",
                  "fr": "🔇 Vos vidéos seront muettes, avec sous-titres. /voice remet la voix."},
    "answer_verified": {"en": "Answer: {answer} (checked)", "es": "Respuesta: {answer} (comprobada)",
                        "ru": "Ответ: {answer} (проверен)", "de": "Antwort: {answer} (geprüft)",
                        "fr": "Réponse : {answer} (vérifiée)"},
    "answer_corrected": {"en": "Answer: {answer} (checked and corrected)",
                         "es": "Respuesta: {answer} (comprobada y corregida)",
                         "ru": "Ответ: {answer} (проверен и исправлен)",
                         "de": "Antwort: {answer} (geprüft und korrigiert)",
                         "fr": "Réponse : {answer} (vérifiée et corrigée)"},
    "answer_unverified": {"en": "Answer: {answer} (not independently checked)",
                          "es": "Respuesta: {answer} (sin comprobación independiente)",
                          "ru": "Ответ: {answer} (не проверен независимо)",
                          "de": "Antwort: {answer} (nicht unabhängig geprüft)",
                          "fr": "Réponse : {answer} (non vérifiée indépendamment)"},
    "video_link": {"en": "{caption}\n\nThe video is too large for Telegram; download it here (valid until "
                         "{expires}):\n{url}",
                   "es": "{caption}\n\nEl vídeo es demasiado grande para Telegram; descárgalo aquí (válido "
                         "hasta {expires}):\n{url}",
                   "ru": "{caption}\n\nВидео слишком большое для Telegram; скачайте его здесь (ссылка "
                         "действует до {expires}):\n{url}",
                   "de": "{caption}\n\nDas Video ist zu groß für Telegram; lade es hier herunter (gültig bis "
                         "{expires}):\n{url}",
                   "fr": "{caption}\n\nLa vidéo est trop lourde pour Telegram ; téléchargez-la ici (valable "
                         "jusqu'au {expires}) :\n{url}"},
    "send_failed": {"en": "⚠️ The video is ready but I could not send it here ({reason}).",
                    "es": "⚠️ El vídeo está listo pero no pude enviarlo aquí ({reason}).",
                    "ru": "⚠️ Видео готово, но отправить его сюда не получилось ({reason}).",
                    "de": "⚠️ Das Video ist fertig, aber ich konnte es hier nicht senden ({reason}).",
                    "fr": "⚠️ La vidéo est prête mais je n'ai pas pu l'envoyer ici ({reason})."},
    "send_failed_link": {"en": "You can download it here: {url}", "es": "Puedes descargarlo aquí: {url}",
                         "ru": "Скачать его можно здесь: {url}", "de": "Du kannst es hier herunterladen: {url}",
                         "fr": "Vous pouvez la télécharger ici : {url}"},
    "send_failed_retry": {"en": "Please send the problem again later.",
                          "es": "Envía el problema de nuevo más tarde.",
                          "ru": "Пришлите задачу ещё раз позже.",
                          "de": "Bitte schick die Aufgabe später noch einmal.",
                          "fr": "Renvoyez le problème plus tard."},
    "sendfail_network": {"en": "a network error", "es": "un error de red", "ru": "ошибка сети",
                         "de": "ein Netzwerkfehler", "fr": "une erreur réseau"},
    "sendfail_timeout": {"en": "the upload timed out", "es": "la subida tardó demasiado",
                         "ru": "загрузка не успела завершиться", "de": "der Upload hat zu lange gedauert",
                         "fr": "l'envoi a pris trop de temps"},
    "sendfail_flood": {"en": "Telegram asked me to slow down", "es": "Telegram me pidió ir más despacio",
                       "ru": "Telegram попросил меня подождать", "de": "Telegram hat mich gebremst",
                       "fr": "Telegram m'a demandé de ralentir"},
    "sendfail_refused": {"en": "Telegram refused the file", "es": "Telegram rechazó el archivo",
                         "ru": "Telegram не принял файл", "de": "Telegram hat die Datei abgelehnt",
                         "fr": "Telegram a refusé le fichier"},
    "sendfail_error": {"en": "a Telegram error", "es": "un error de Telegram", "ru": "ошибка Telegram",
                       "de": "ein Telegram-Fehler", "fr": "une erreur Telegram"},
    # -- refusals ------------------------------------------------------------------------------
    "too_short": {"en": "Please describe the problem in a full sentence: at least {min} characters, "
                        "e.g. \"{example}\".",
                  "es": "Describe el problema en una frase completa: al menos {min} caracteres, "
                        "p. ej. \"{example}\".",
                  "ru": "Опишите задачу полным предложением: не меньше {min} символов, "
                        "например \"{example}\".",
                  "de": "Beschreib die Aufgabe in einem ganzen Satz: mindestens {min} Zeichen, "
                        "z. B. \"{example}\".",
                  "fr": "Décrivez le problème en une phrase complète : au moins {min} caractères, "
                        "par ex. « {example} »."},
    "too_long": {"en": "That is too long for me: at most {max} characters (yours has {length}). "
                       "Please send a shorter problem.",
                 "es": "Es demasiado largo: como máximo {max} caracteres (el tuyo tiene {length}). "
                       "Envía un problema más corto.",
                 "ru": "Слишком длинно: не больше {max} символов (у вас {length}). Пришлите задачу короче.",
                 "de": "Das ist zu lang: höchstens {max} Zeichen (deine Nachricht hat {length}). "
                       "Bitte schick eine kürzere Aufgabe.",
                 "fr": "C'est trop long : {max} caractères au plus (le vôtre en a {length}). "
                       "Envoyez un problème plus court."},
    "invalid_text": {"en": "Your message contains a character that is not valid text ({code}) at position "
                           "{position}. Please remove it and send the problem again.",
                     "es": "Tu mensaje contiene un carácter que no es texto válido ({code}) en la posición "
                           "{position}. Quítalo y vuelve a enviar el problema.",
                     "ru": "В вашем сообщении есть символ, который не является допустимым текстом ({code}), "
                           "на позиции {position}. Удалите его и пришлите задачу ещё раз.",
                     "de": "Deine Nachricht enthält ein Zeichen, das kein gültiger Text ist ({code}), an "
                           "Position {position}. Bitte entferne es und schick die Aufgabe noch einmal.",
                     "fr": "Votre message contient un caractère qui n'est pas du texte valide ({code}) à la "
                           "position {position}. Retirez-le et renvoyez le problème."},
    "active_limit": {"en": "You already have {limit} videos in progress, the most at once. "
                           "Please wait for one to finish (/status shows them).",
                     "es": "Ya tienes {limit} vídeos en curso, el máximo a la vez. "
                           "Espera a que termine uno (/status los muestra).",
                     "ru": "У вас уже готовится {limit} видео, это максимум. "
                           "Дождитесь, пока одно закончится (/status покажет их).",
                     "de": "Du hast schon {limit} Videos in Arbeit, mehr gehen nicht gleichzeitig. "
                           "Bitte warte, bis eines fertig ist (/status zeigt sie).",
                     "fr": "Vous avez déjà {limit} vidéos en cours, le maximum à la fois. "
                           "Attendez qu'une se termine (/status les affiche)."},
    "hourly_limit": {"en": "You have sent {limit} problems in the last hour, which is the limit. "
                           "Please try again a little later.",
                     "es": "Has enviado {limit} problemas en la última hora, que es el límite. "
                           "Vuelve a intentarlo un poco más tarde.",
                     "ru": "За последний час вы отправили {limit} задач, это предел. Попробуйте чуть позже.",
                     "de": "Du hast in der letzten Stunde {limit} Aufgaben geschickt, das ist das Limit. "
                           "Bitte versuch es etwas später noch einmal.",
                     "fr": "Vous avez envoyé {limit} problèmes dans la dernière heure, c'est la limite. "
                           "Réessayez un peu plus tard."},
    "queue_full": {"en": QUEUE_FULL_MESSAGE,
                   "es": "El servicio está ocupado: su cola está llena. Vuelve a intentarlo en unos minutos.",
                   "ru": "Сервис занят: очередь заполнена. Попробуйте через несколько минут.",
                   "de": "Der Dienst ist ausgelastet: seine Warteschlange ist voll. Bitte versuch es in ein paar "
                         "Minuten noch einmal.",
                   "fr": "Le service est occupé : sa file d'attente est pleine. Réessayez dans quelques minutes."},
    "not_text": {"en": "I can only read text problems. Please type the problem, e.g. \"{example}\".",
                 "es": "Solo puedo leer problemas escritos. Escribe el problema, p. ej. \"{example}\".",
                 "ru": "Я понимаю только задачи, написанные текстом. Напишите задачу, например \"{example}\".",
                 "de": "Ich kann nur Aufgaben als Text lesen. Bitte tipp die Aufgabe ein, z. B. \"{example}\".",
                 "fr": "Je ne lis que les problèmes écrits. Tapez le problème, par ex. « {example} »."},
    "edited": {"en": "I only read new messages, not edits. Please send the corrected problem as a new message.",
               "es": "Solo leo mensajes nuevos, no ediciones. Envía el problema corregido como mensaje nuevo.",
               "ru": "Я читаю только новые сообщения, а не правки. Пришлите исправленную задачу новым "
                     "сообщением.",
               "de": "Ich lese nur neue Nachrichten, keine Bearbeitungen. Bitte schick die korrigierte Aufgabe "
                     "als neue Nachricht.",
               "fr": "Je ne lis que les nouveaux messages, pas les modifications. Envoyez le problème corrigé "
                     "dans un nouveau message."},
    "unknown_command": {"en": "I don't know that command. /help lists what I can do.",
                        "es": "No conozco ese comando. /help muestra lo que puedo hacer.",
                        "ru": "Я не знаю такой команды. /help покажет, что я умею.",
                        "de": "Diesen Befehl kenne ich nicht. /help zeigt, was ich kann.",
                        "fr": "Je ne connais pas cette commande. /help liste ce que je sais faire."},
    "internal_error": {"en": "Sorry, something went wrong on my side. Please try again.",
                       "es": "Lo siento, algo falló por mi parte. Inténtalo de nuevo.",
                       "ru": "Извините, что-то пошло не так. Попробуйте ещё раз.",
                       "de": "Entschuldige, bei mir ist etwas schiefgelaufen. Bitte versuch es noch einmal.",
                       "fr": "Désolé, un problème est survenu de mon côté. Réessayez."},
    # -- commands ------------------------------------------------------------------------------
    "nothing_running": {"en": "Nothing in progress. Send me a problem to start.",
                        "es": "No hay nada en curso. Envíame un problema para empezar.",
                        "ru": "Сейчас ничего не готовится. Пришлите задачу, чтобы начать.",
                        "de": "Gerade ist nichts in Arbeit. Schick mir eine Aufgabe, um zu beginnen.",
                        "fr": "Rien en cours. Envoyez-moi un problème pour commencer."},
    "last_job": {"en": "Nothing in progress. Your last video: {line}",
                 "es": "No hay nada en curso. Tu último vídeo: {line}",
                 "ru": "Сейчас ничего не готовится. Последнее видео: {line}",
                 "de": "Gerade ist nichts in Arbeit. Dein letztes Video: {line}",
                 "fr": "Rien en cours. Votre dernière vidéo : {line}"},
    "nothing_to_cancel": {"en": "There is nothing to cancel.", "es": "No hay nada que cancelar.",
                          "ru": "Отменять нечего.", "de": "Es gibt nichts abzubrechen.",
                          "fr": "Il n'y a rien à annuler."},
    "cancelled_some": {"en": "🛑 Cancelling {count} video(s).", "es": "🛑 Cancelando {count} vídeo(s).",
                       "ru": "🛑 Отменяю видео: {count}.", "de": "🛑 Breche {count} Video(s) ab.",
                       "fr": "🛑 Annulation de {count} vidéo(s)."},
    "already_finished": {"en": "This video is already finished.", "es": "Este vídeo ya terminó.",
                         "ru": "Это видео уже готово.", "de": "Dieses Video ist schon fertig.",
                         "fr": "Cette vidéo est déjà terminée."},
    "not_yours": {"en": "This button belongs to another chat.", "es": "Este botón es de otro chat.",
                  "ru": "Эта кнопка из другого чата.", "de": "Dieser Knopf gehört zu einem anderen Chat.",
                  "fr": "Ce bouton appartient à une autre discussion."},
    "not_your_job": {"en": "Only the person who asked for this video (or a group admin) can cancel it.",
                     "es": "Solo quien pidió este vídeo (o un administrador del grupo) puede cancelarlo.",
                     "ru": "Отменить это видео может только тот, кто его заказал (или администратор группы).",
                     "de": "Nur wer dieses Video angefordert hat (oder ein Gruppen-Admin), kann es abbrechen.",
                     "fr": "Seule la personne qui a demandé cette vidéo (ou un admin du groupe) peut l'annuler."},
    "too_many_commands": {"en": "That is a lot of commands at once: I'll answer again in a minute.",
                          "es": "Son muchos comandos seguidos: responderé de nuevo en un minuto.",
                          "ru": "Слишком много команд подряд: я снова отвечу через минуту.",
                          "de": "Das sind viele Befehle auf einmal: Ich antworte in einer Minute wieder.",
                          "fr": "Cela fait beaucoup de commandes d'un coup : je répondrai de nouveau dans une minute."},
    "history_empty": {"en": "No videos yet. Send me a problem!", "es": "Aún no hay vídeos. ¡Envíame un problema!",
                      "ru": "Видео пока нет. Пришлите задачу!", "de": "Noch keine Videos. Schick mir eine Aufgabe!",
                      "fr": "Pas encore de vidéos. Envoyez-moi un problème !"},
    "history_title": {"en": "Your recent videos:", "es": "Tus vídeos recientes:", "ru": "Ваши недавние видео:",
                      "de": "Deine letzten Videos:", "fr": "Vos vidéos récentes :"},
    "language_prompt": {"en": "Choose my language:", "es": "Elige mi idioma:", "ru": "Выберите язык:",
                        "de": "Wähle meine Sprache:", "fr": "Choisissez ma langue :"},
    "language_set": {"en": "I will speak English from now on.", "es": "A partir de ahora hablaré en español.",
                     "ru": "Теперь я буду говорить по-русски.", "de": "Ab jetzt spreche ich Deutsch.",
                     "fr": "Je parlerai français désormais."},
    # -- status names (history, /status) -------------------------------------------------------
    "st_queued": {"en": "waiting", "es": "en espera", "ru": "в очереди", "de": "wartet", "fr": "en attente"},
    "st_processing": {"en": "in progress", "es": "en curso", "ru": "готовится", "de": "in Arbeit",
                      "fr": "en cours"},
    "st_ready": {"en": "ready", "es": "listo", "ru": "готово", "de": "fertig", "fr": "prête"},
    "st_delivered": {"en": "delivered", "es": "entregado", "ru": "доставлено", "de": "zugestellt",
                     "fr": "livrée"},
    "st_failed": {"en": "failed", "es": "falló", "ru": "не удалось", "de": "fehlgeschlagen", "fr": "échouée"},
    "st_expired": {"en": "expired", "es": "caducado", "ru": "истекло", "de": "abgelaufen", "fr": "expirée"},
}


def language_of(code: str | None) -> str | None:
    """A supported language for a Telegram ``language_code`` ("pt-br" -> None, "de-AT" -> "de")."""
    if not code:
        return None
    short = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return short if short in LANGUAGES else None


def t(lang: str | None, key: str, **values: object) -> str:
    table = TEXTS[key]
    template = table.get(lang or DEFAULT_LANGUAGE) or table[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def preview(problem_text: str, limit: int = 80) -> str:
    return clip(" ".join(problem_text.split()), limit)


def status_line(job: ProcessingJob, lang: str, position: int | None = None) -> str:
    """The progress line for a job that is still moving."""
    if job.cancel_requested and job.status.is_in_flight:
        return t(lang, "status_cancelling")
    if job.status is S.QUEUED:
        return t(lang, "status_queued_at", position=position) if position else t(lang, "status_queued")
    if job.status is S.AI_GENERATING:
        if job.attempts > 1:
            return t(lang, "status_generating_again", attempt=job.attempts)
        return t(lang, "status_generating")
    if job.status is S.CODE_VALIDATING:
        return t(lang, "status_validating")
    if job.status is S.RENDERING:
        return t(lang, "status_rendering")
    if job.status is S.UPLOADING:
        return t(lang, "status_uploading")
    if job.status is S.READY:
        return t(lang, "status_sending")
    if job.status is S.DELIVERED:
        return t(lang, "status_delivered")
    if job.status is S.EXPIRED:
        return t(lang, "status_expired")
    return failure_text(job, lang)


def status_message(problem_text: str, line: str) -> str:
    """The whole status message: which problem, then where it is."""
    return f"📝 {preview(problem_text)}\n{line}"


def reason_key(failure_reason: str | None) -> str:
    """Map the core's failure_reason to the class of sentence the person sees."""
    reason = failure_reason or "internal_error"
    if reason in ("render_timeout", "render_memory"):
        return f"reason_{reason}"
    if reason.startswith("render_"):
        return "reason_render"
    key = f"reason_{reason}"
    return key if key in TEXTS else "reason_internal_error"


def failure_text(job: ProcessingJob, lang: str) -> str:
    """One friendly sentence with the reason class; never the raw error."""
    reason = t(lang, reason_key(job.failure_reason), example=EXAMPLES[0])
    return t(lang, "failed", reason=reason)


def answer_line(job: ProcessingJob, lang: str) -> str | None:
    if not job.answer_text:
        return None
    answer = clip(job.answer_text, 300)
    if job.answer_check == "verified":
        return t(lang, "answer_verified", answer=answer)
    if job.answer_check == "corrected":
        return t(lang, "answer_corrected", answer=answer)
    return t(lang, "answer_unverified", answer=answer)


def steps_message(job: ProcessingJob, lang: str) -> str:
    """The solution as text, sent before the video: the steps, numbered, then the answer.
    Plain text (no parse mode), so nothing in a step needs escaping."""
    lines = [t(lang, "steps_title")]
    lines += [f"{number}. {step}" for number, step in enumerate(job.steps, start=1)]
    answer = answer_line(job, lang)
    if answer:
        lines += ["", answer]
    return clip("\n".join(lines), MESSAGE_LIMIT)


def caption(job: ProcessingJob, lang: str, limit: int = CAPTION_LIMIT) -> str:
    """The problem and the answer, within Telegram's caption limit (the answer always fits)."""
    answer = answer_line(job, lang)
    room = limit - (len(answer) + 2 if answer else 0)
    problem = clip(job.problem_text, max(room, 40))
    return clip(f"{problem}\n\n{answer}" if answer else problem, limit)


def status_name(status: ProcessingStatus, lang: str) -> str:
    if status is S.QUEUED:
        return t(lang, "st_queued")
    if status.is_in_flight:
        return t(lang, "st_processing")
    return t(lang, f"st_{status.value}")


def history_line(entry: VideoMetadata, lang: str) -> str:
    when = _short_time(entry.created_at)
    duration = f", {entry.render_duration_seconds:.0f} s" if entry.render_duration_seconds else ""
    return f"• {when}: {entry.problem_preview} ({status_name(entry.status, lang)}{duration})"


def _short_time(timestamp: str) -> str:
    try:
        return datetime.fromisoformat(timestamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return timestamp
