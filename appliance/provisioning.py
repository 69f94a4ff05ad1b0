"""The sandbox image where renders need it: built on the local engine at first start,
copied to an extra render engine that lacks it. Both run in the background (minutes);
jobs wait in the queue meanwhile, because render slots take jobs only from a ready engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from appliance.config import Settings
from appliance.sandbox.engines import RenderEngine
from appliance.sandbox.image import build_sandbox_image, push_sandbox_image

log = logging.getLogger(__name__)


class ImageProvisioner:
    def __init__(self, settings: Settings, engines: Sequence[RenderEngine]) -> None:
        self.settings = settings
        self.engines = list(engines)
        self._lock = threading.Lock()
        self._copying: set[str] = set()
        self.builder: threading.Thread | None = None

    @property
    def local_engine(self) -> RenderEngine:
        return self.engines[0]

    def build_in_background(self) -> None:
        """First start without a sandbox image: build it, with progress in the log."""
        def build() -> None:
            log.warning("no sandbox image %s: building it now (a few minutes; progress follows)",
                        self.settings.sandbox_image)
            try:
                build_sandbox_image(self.settings, progress=_log_line("sandbox build"))
                log.warning("sandbox image %s built; renders can start", self.settings.sandbox_image)
            except Exception as exc:  # the thread's last word: whatever it was, say it in the log
                log.error("building the sandbox image failed: %s. Build it by hand with: appliance sandbox "
                          "build (add --debootstrap when the base image cannot be pulled)", exc)

        self.builder = threading.Thread(target=build, name="sandbox-image-build", daemon=True)
        self.builder.start()

    def readiness_of(self, engine: RenderEngine) -> Callable[[], bool]:
        """The readiness check of one engine's render slots; an extra engine without the
        sandbox image gets a copy from the local engine (in the background, one at a time)."""
        def ready() -> bool:
            if engine.ready():
                return True
            if engine.image_missing and not engine.is_local and self.settings.sandbox_auto_build:
                self._copy_in_background(engine)
            return False

        return ready

    def _copy_in_background(self, engine: RenderEngine) -> None:
        with self._lock:
            if engine.name in self._copying or not self.local_engine.ready():
                return
            self._copying.add(engine.name)

        def copy() -> None:
            try:
                push_sandbox_image(self.settings, engine.spec, progress=_log_line(f"render engine {engine.name}"))
            except Exception as exc:  # the thread's last word: whatever it was, say it in the log
                log.error("cannot put the sandbox image on the render engine %s: %s", engine.name, exc)
            finally:
                with self._lock:
                    self._copying.discard(engine.name)

        threading.Thread(target=copy, name=f"provision-{engine.name}", daemon=True).start()


def _log_line(prefix: str) -> Callable[[str], None]:
    def write(line: str) -> None:
        log.info("%s: %s", prefix, line)

    return write
