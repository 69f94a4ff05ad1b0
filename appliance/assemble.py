"""The composition root: every part of the appliance is built here, from ``Settings``.

(Work in progress: the parts move here from ``Appliance.__init__``.)
"""

from __future__ import annotations

from appliance.config import Settings
from appliance.contracts import EngineSandbox, SceneSource, VideoStorage
from appliance.metrics import Metrics
from appliance.service import Appliance
from appliance.store import Store


def build_appliance(
    settings: Settings,
    *,
    renderer: EngineSandbox | None = None,
    source: SceneSource | None = None,
    storage: VideoStorage | None = None,
    store: Store | None = None,
    metrics: Metrics | None = None,
    run_workers: bool = True,
    run_maintenance: bool = True,
) -> Appliance:
    """The appliance for ``settings``; a part given here (tests, benchmarks) replaces the real one.

    ``renderer`` stands in for the local engine's Docker sandbox."""
    return Appliance(settings, generator=source, sandbox=renderer, storage=storage, store=store, metrics=metrics,
                     run_workers=run_workers, run_maintenance=run_maintenance)
