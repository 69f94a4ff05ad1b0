"""``appliance sandbox build | run | push | sweep``: the sandbox from the command line.

A failed render exits 1; an unreachable engine or a missing image is a ``SandboxError``,
which ``frontends.cli.main`` turns into exit code 3.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from appliance.config import QUALITIES, Settings, parse_engine_list
from appliance.contracts import VOICE_LANGUAGES, RenderStatus, VoiceRequest
from appliance.errors import CodeRejected, ConfigError
from appliance.sandbox.connection import engine_specs, open_client, open_local_client
from appliance.sandbox.docker import DockerSandbox
from appliance.sandbox.image import build_sandbox_image, push_sandbox_image
from appliance.validation import COMPAT_PRELUDE, validate_and_repair
from frontends.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from frontends.cli.parsing import Subcommands

ReportValue = str | int | float | list[str] | dict[str, object] | None


def register(sub: Subcommands) -> None:
    sandbox = sub.add_parser("sandbox", help="build the sandbox image, render a file in it, sweep leftovers")
    commands = sandbox.add_subparsers(dest="sandbox_command", metavar="SANDBOX_COMMAND")
    commands.required = True

    build = commands.add_parser("build", help="build the sandbox image through the Docker engine")
    build.add_argument("--debootstrap", action="store_true",
                       help="if the base image cannot be pulled, make it from Debian packages (needs root)")
    build.add_argument("--base-image", metavar="IMAGE", help="base image (default: APPLIANCE_SANDBOX_BASE_IMAGE)")
    build.add_argument("--extra-ca-certs", metavar="PEM", type=Path,
                       help="CA certificates to trust while downloading packages (default: APPLIANCE_EXTRA_CA_CERTS)")
    build.add_argument("--no-host-network", action="store_true",
                       help="run build steps on the default bridge network instead of the host's")
    build.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    build.add_argument("-v", "--verbose", action="store_true", help="show every line of the build output")
    build.set_defaults(handler=_cmd_build)

    run = commands.add_parser(
        "run", help="render a scene file in the sandbox (a safe way to run Manim code you did not write)")
    run.add_argument("scene_file", metavar="SCENE.py", type=Path)
    run.add_argument("--scene", metavar="NAME", default="", help="Scene class to render (default: the last one)")
    run.add_argument("--quality", choices=QUALITIES, help="low (480p15), medium (720p30), high (1080p60)")
    run.add_argument("-o", "--output", metavar="OUT.mp4", type=Path, help="where to write the video")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    run.add_argument("--repair", action="store_true",
                     help="validate and repair the code first (as a live job would) and report the repairs")
    run.add_argument("--language", metavar="CODE", choices=VOICE_LANGUAGES,
                     help="the language a narrated scene is spoken in (default: en)")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit (default: setting)")
    run.set_defaults(handler=_cmd_run)

    push = commands.add_parser(
        "push", help="copy the sandbox image from the local engine to the render engines (APPLIANCE_RENDER_ENGINES)")
    push.add_argument("--engine", metavar="URL", action="append",
                      help="copy to this engine instead (tcp://HOST:2376 or unix:///PATH; repeatable)")
    push.set_defaults(handler=_cmd_push)

    sweep = commands.add_parser("sweep", help="remove sandbox containers left by an appliance that is gone")
    sweep.add_argument("--all", action="store_true", help="remove every sandbox container, even ones in use")
    sweep.set_defaults(handler=_cmd_sweep)


# -- build -----------------------------------------------------------------------------------

class _BuildDisplay:
    """Prints build steps with elapsed time; every other line only when verbose."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.started = time.monotonic()
        self.width = max(60, shutil.get_terminal_size((120, 20)).columns)

    def __call__(self, line: str) -> None:
        elapsed = time.monotonic() - self.started
        important = line.startswith(("Step ", "building ", "built ", "base image", "cannot pull", "made base",
                                     "importing ", "Successfully"))
        if important:
            print(f"[{elapsed:6.1f}s] {line}"[: self.width], flush=True)
        elif self.verbose:
            print(f"          {line}", flush=True)


def _cmd_build(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    build_sandbox_image(
        settings,
        progress=_BuildDisplay(args.verbose),
        debootstrap=args.debootstrap,
        base_image=args.base_image,
        extra_ca_certs=args.extra_ca_certs,
        host_network=not args.no_host_network,
        no_cache=args.no_cache,
    )
    return EXIT_OK


# -- run -------------------------------------------------------------------------------------

def _cmd_run(args: argparse.Namespace) -> int:
    try:
        code = args.scene_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"appliance: cannot read {args.scene_file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    scene_name: str = args.scene
    prelude = ""
    repairs: list[str] | None = None
    if args.repair:
        repaired = _repair(code)
        if isinstance(repaired, str):
            return _report_rejection(args, repaired)
        code, repaired_scene, repairs, prelude = repaired
        scene_name = scene_name or repaired_scene
    timeout: dict[str, float] = {"render_timeout_s": args.timeout} if args.timeout else {}
    settings = Settings.from_env().replace(warm_pool_size=0, **timeout)
    quality = args.quality or settings.render_quality
    sandbox = DockerSandbox(settings, open_local_client())  # the sandbox closes the client
    try:
        sandbox.check_image()
        voice = VoiceRequest(True, args.language) if args.language else None
        result = sandbox.render(code, scene_name, quality, prelude=prelude, voice=voice)
    finally:
        sandbox.close()
    if result.video_path is not None:
        output = args.output or Path.cwd() / f"{args.scene_file.stem}.mp4"
        shutil.move(str(result.video_path), output)
        result.video_path = output.resolve()
    report: dict[str, ReportValue] = dict(result.to_dict())
    if repairs is not None:
        report["repairs"] = repairs
    report["layout"] = result.layout.to_dict() if result.layout is not None else None
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_text(report)
    if result.ok:
        return EXIT_OK
    return EXIT_UNAVAILABLE if result.status == RenderStatus.UNAVAILABLE else EXIT_FAILED


def _repair(code: str) -> tuple[str, str, list[str], str] | str:
    """(code, scene, repairs, prelude) from appliance.validation, or why the code was refused."""
    try:
        checked = validate_and_repair(code)
    except CodeRejected as exc:
        return f"the code was refused: {exc.reason}"
    except NotImplementedError:
        return "repair is not available in this installation yet"
    return checked.code, checked.scene_name, list(checked.repairs), COMPAT_PRELUDE


def _report_rejection(args: argparse.Namespace, reason: str) -> int:
    if args.json:
        print(json.dumps({"status": "rejected", "exit_code": None, "message": reason, "stderr_tail": "",
                          "duration_s": 0.0, "video_path": None, "video_size_bytes": None}))
    else:
        print(f"rejected: {reason}")
    return EXIT_FAILED


def _print_text(report: dict[str, ReportValue]) -> None:
    duration = report["duration_s"]
    seconds = duration if isinstance(duration, int | float) else 0.0
    print(f"{report['status']}: {report['message']} ({seconds:.1f} s)")
    if report.get("detail"):
        print(f"  detail: {report['detail']}")
    if report.get("video_path"):
        print(f"  video: {report['video_path']} ({report['video_size_bytes']} bytes, "
              f"{report['video_duration_s']} s)")
    repairs = report.get("repairs")
    for repair in repairs if isinstance(repairs, list) else []:
        print(f"  repaired: {repair}")
    layout = report.get("layout")
    if isinstance(layout, dict):
        _print_layout(layout)
    if report["status"] != "ok" and report.get("stderr_tail"):
        print("  stderr (tail):")
        for line in str(report["stderr_tail"]).splitlines():
            print(f"    {line}")


def _print_layout(layout: dict[str, object]) -> None:
    if not layout.get("checked"):
        print(f"  layout: not checked ({layout.get('note') or 'no recording'})")
        return
    issues = layout.get("issues")
    if not issues:
        print("  layout: checked, no issues")
        return
    print(f"  layout: {layout.get('errors')} error(s), {layout.get('warnings')} warning(s)")
    for issue in issues if isinstance(issues, list) else []:
        print(f"    {issue['severity']} {issue['kind']} at {issue['time_s']} s: {issue['detail']}")


# -- sweep -----------------------------------------------------------------------------------

def _cmd_sweep(args: argparse.Namespace) -> int:
    settings = Settings.from_env().replace(warm_pool_size=0)
    for spec in engine_specs(settings):
        sandbox = DockerSandbox(settings, open_client(spec), engine=spec.name)
        try:
            removed = sandbox.sweep_orphans(everything=args.all)
        finally:
            sandbox.close()
        print(f"{spec.name}: removed {removed} sandbox container(s)")
    return EXIT_OK


# -- push ------------------------------------------------------------------------------------

def _cmd_push(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.engine:
        try:
            settings = settings.replace(render_engines=parse_engine_list(",".join(args.engine)))
        except ValueError as exc:
            raise ConfigError(f"--engine: {exc}") from exc
    targets = engine_specs(settings)[1:]
    if not targets:
        print("no render engines to copy to: set APPLIANCE_RENDER_ENGINES or pass --engine URL", file=sys.stderr)
        return EXIT_USAGE
    for spec in targets:
        push_sandbox_image(settings, spec, progress=lambda line: print(line, flush=True))
    return EXIT_OK
