"""The composition root: every part of the appliance is built here, from ``Settings``.

    store        Store (diskcache, JSON rows)
    source       Generator: the model chain, the built-in solver as its floor     (SceneSource)
    engines      RenderEngine per Docker engine, the local one first, each with its DockerSandbox
    lanes        per engine: a Pipeline rendering through a LaneRenderer (its own engine, then
                 failover to another)                                                (Renderer)
    storage      local disk or S3/R2                                                 (VideoStorage)
    worker       render slots pulling the queue, one lane per engine
    maintenance  APScheduler jobs: expiry, timeouts, orphan containers
    provisioner  the sandbox image built or copied where it is missing
    admission    the queue cap and the per-client limits; budget: model calls per hour

A render, by name: ``Appliance.submit`` -> ``Store.create_job`` (queued) -> ``Worker`` slot
-> ``Pipeline.run`` -> ``Pipeline.attempt`` -> ``Generator.generate`` -> ``LaneRenderer.render``
-> ``RenderEngine.render`` -> ``DockerSandbox.render`` (a warm container from ``WarmPool``)
-> ``RenderResult`` -> ``VideoStorage.put`` -> READY.

Frontends and the CLI call ``build_appliance``; tests and benchmarks pass fakes of the
contracts (``appliance.fakes``) for the parts they replace.
"""

from __future__ import annotations

from functools import partial

from appliance.admission import Admission, AdmissionLimits, ModelBudget
from appliance.config import Settings
from appliance.contracts import EngineSandbox, SceneSource, SpeechSynthesizer, VideoStorage
from appliance.errors import NotFound
from appliance.generation.generator import Generator
from appliance.generation.speech import build_speech
from appliance.maintenance import Maintenance
from appliance.metrics import Metrics
from appliance.models import ACTIVE_STATUSES
from appliance.pipeline import Pipeline
from appliance.provisioning import ImageProvisioner
from appliance.sandbox.connection import engine_specs
from appliance.sandbox.engines import LaneRenderer, RenderEngine
from appliance.service import Appliance, EventHub
from appliance.storage import make_storage
from appliance.store import Store
from appliance.validation import COMPAT_PRELUDE
from appliance.worker import Lane, Worker


def build_appliance(
    settings: Settings,
    *,
    renderer: EngineSandbox | None = None,
    source: SceneSource | None = None,
    storage: VideoStorage | None = None,
    store: Store | None = None,
    metrics: Metrics | None = None,
    speech: SpeechSynthesizer | None = None,
    run_workers: bool = True,
    run_maintenance: bool = True,
) -> Appliance:
    """The appliance for ``settings``; a part given here (tests, benchmarks) replaces the real one.

    ``renderer`` stands in for the local engine's Docker sandbox (extra render engines from
    APPLIANCE_RENDER_ENGINES are still real). Nothing connects to anything until ``start()``."""
    store = store or Store(settings.store_dir)
    storage = storage or make_storage(settings)
    metrics = metrics or Metrics()
    if source is None:
        budget = ModelBudget(settings.model_calls_per_hour)  # one for every job of this appliance
        source = Generator(settings, budget=budget)
        metrics.collect_with("appliance_model_calls_left", budget.remaining)
    admission = Admission(AdmissionLimits.from_settings(settings), queue_length=store.queue_length,
                          job_active=partial(_job_active, store))
    events = EventHub()
    # The operator's speech endpoint, if set; the sandbox's espeak-ng speaks otherwise.
    speech = speech or build_speech(settings)

    specs = engine_specs(settings)
    engines = [RenderEngine(specs[0], settings, renderer)]
    engines += [RenderEngine(spec, settings) for spec in specs[1:]]
    provisioner = ImageProvisioner(settings, engines)

    lanes = []
    for engine in engines:
        lane_renderer = LaneRenderer(engine, engines, failover_wait_s=settings.render_timeout_s)
        pipeline = Pipeline(settings, store, source, lane_renderer, storage, metrics, events.publish,
                            prelude=COMPAT_PRELUDE, speech=speech)
        lanes.append(Lane(engine.name, pipeline, partial(_slots_of, engine), provisioner.readiness_of(engine)))
    worker = Worker(store, lanes)

    def sweep_containers() -> int:
        return sum(engine.sweep_orphans() for engine in engines)

    maintenance = Maintenance(settings, store, storage, metrics, events.publish, sweep_containers=sweep_containers)
    return Appliance(settings, store=store, source=source, storage=storage, metrics=metrics, events=events,
                     engines=engines, worker=worker, maintenance=maintenance, provisioner=provisioner,
                     admission=admission, run_workers=run_workers, run_maintenance=run_maintenance)


def _job_active(store: Store, job_id: str) -> bool:
    try:
        return store.get_job(job_id).status in ACTIVE_STATUSES
    except NotFound:
        return False


def _slots_of(engine: RenderEngine) -> int:
    # Read when the worker starts: ``Appliance.start`` sets each engine's count first.
    return engine.slots
