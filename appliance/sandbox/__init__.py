"""Code -> MP4 inside disposable, hardened Docker containers.

``DockerSandbox.render()`` is the entry point; ``RenderResult`` is what comes back.
Docker itself is imported only by the modules that talk to it.
"""

from __future__ import annotations

from appliance.sandbox.result import RenderResult, RenderStatus

__all__ = ["RenderResult", "RenderStatus"]
