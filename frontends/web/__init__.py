"""The web UI: a Gradio Blocks page mounted at ``/`` of the appliance's server."""

from __future__ import annotations

from frontends.web.app import build_ui, mount_options

__all__ = ["build_ui", "mount_options"]
