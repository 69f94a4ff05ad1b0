"""Code -> MP4 inside disposable, hardened Docker containers.

``DockerSandbox.render()`` is the entry point; ``RenderResult`` is what comes back.
``connection`` opens clients of the Docker engines and is the one place docker-py's
exceptions become the appliance's; ``engines`` gives each engine its render slots.
"""

from __future__ import annotations

from appliance.sandbox.result import RenderResult, RenderStatus

__all__ = ["RenderResult", "RenderStatus"]
