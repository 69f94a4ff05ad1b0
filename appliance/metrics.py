"""Counters and gauges a self-hoster wants, rendered as Prometheus text.

Kept deliberately small (no prometheus_client dependency): a thread-safe registry
of labelled counters and gauges, plus gauges computed on scrape (queue length).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

LabelKey = tuple[tuple[str, str], ...]


@dataclass
class _Metric:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    values: dict[LabelKey, float] = field(default_factory=dict)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        self._collectors: dict[tuple[str, LabelKey], Callable[[], float]] = {}
        for name, kind, help_text in _DEFINITIONS:
            self._metrics[name] = _Metric(name, kind, help_text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            metric = self._metrics[name]
            metric.values[key] = metric.values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._metrics[name].values[key] = value

    def collect_with(self, name: str, read: Callable[[], float], **labels: str) -> None:
        """A gauge read at scrape time (e.g. the queue length from the store)."""
        self._collectors[(name, tuple(sorted(labels.items())))] = read

    def value(self, name: str, **labels: str) -> float:
        key = tuple(sorted(labels.items()))
        with self._lock:
            return self._metrics[name].values.get(key, 0.0)

    def render(self) -> str:
        for (name, labels), read in self._collectors.items():
            try:
                self.set(name, float(read()), **dict(labels))
            except Exception:  # a failing collector must not break /metrics
                continue
        lines: list[str] = []
        with self._lock:
            for metric in self._metrics.values():
                lines.append(f"# HELP {metric.name} {metric.help}")
                lines.append(f"# TYPE {metric.name} {metric.kind}")
                if not metric.values and not metric.values.get(()):
                    lines.append(f"{metric.name} 0")
                for labels, value in sorted(metric.values.items()):
                    label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                    shown = f"{metric.name}{{{label_text}}}" if label_text else metric.name
                    lines.append(f"{shown} {_number(value)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


_DEFINITIONS = (
    ("appliance_jobs_submitted_total", "counter", "Jobs accepted, by channel."),
    ("appliance_jobs_refused_total", "counter", "Submissions refused, by reason."),
    ("appliance_jobs_finished_total", "counter", "Jobs that reached a final status, by status."),
    ("appliance_job_failures_total", "counter", "Failed jobs, by reason."),
    ("appliance_status_changes_total", "counter", "Job status changes, by new status."),
    ("appliance_provider_used_total", "counter", "Scenes generated, by provider."),
    ("appliance_code_cache_hits_total", "counter", "Jobs that reused cached scene code."),
    ("appliance_code_cache_misses_total", "counter", "Jobs that had to generate scene code."),
    ("appliance_render_seconds_total", "counter", "Seconds spent rendering in the sandbox."),
    ("appliance_renders_total", "counter", "Sandbox renders, by outcome."),
    ("appliance_generation_attempts_total", "counter", "Generation attempts (first tries and repairs)."),
    ("appliance_layout_checks_total", "counter", "Rendered videos checked by the layout gate, by outcome (clean, "
     "warnings, errors, unchecked)."),
    ("appliance_layout_issues_total", "counter", "Layout issues found in rendered videos, by kind and severity."),
    ("appliance_layout_retries_total", "counter", "Model videos with layout errors sent back to the model once, by "
     "outcome (improved: the retry shipped; kept_first)."),
    ("appliance_videos_deleted_total", "counter", "Videos deleted, by reason (delivered, expired, stray)."),
    ("appliance_queue_length", "gauge", "Jobs waiting in the queue."),
    ("appliance_jobs_running", "gauge", "Jobs being worked on now."),
    ("appliance_render_slots", "gauge", "Render slots of this appliance."),
    ("appliance_engine_render_slots", "gauge", "Render slots, by render engine."),
    ("appliance_engine_up", "gauge", "1 while a render engine is connected and has the sandbox image, by engine."),
    ("appliance_engine_renders_total", "counter", "Sandbox renders, by render engine."),
    ("appliance_up", "gauge", "1 while the appliance is serving."),
    ("appliance_model_calls_left", "gauge", "Model calls left in the hourly budget (APPLIANCE_MODEL_CALLS_PER_HOUR)."),
)
