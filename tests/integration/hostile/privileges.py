# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import ctypes
import os
import subprocess
import sys
from pathlib import Path

from manim import *

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
PR_GET_NO_NEW_PRIVS = 39


def unshare_in_child(libc, flags):
    """0 if a child process could unshare these namespaces, else its errno (this process stays as it is)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.unshare(flags) == 0 else min(ctypes.get_errno(), 255) or 255)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


class Hostile(Scene):
    def construct(self):
        libc = ctypes.CDLL(None, use_errno=True)
        # What this process holds, as its kernel (the host's, or gVisor's) says; gVisor's status
        # file has no NoNewPrivs line, so the kernel is asked too.
        status = Path("/proc/self/status").read_text()
        shown = ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp", "Uid", "Groups")
        report = [line for line in status.splitlines() if line.startswith(shown)]
        report.append(f"no_new_privs={libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)}")
        gained = []
        try:
            os.setuid(0)
        except OSError as exc:
            report.append(f"setuid: {exc}")
        else:
            gained.append("setuid(0)")
        for flags in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWUSER | CLONE_NEWNS):
            errno = unshare_in_child(libc, flags)
            if errno == 0:
                gained.append(f"unshare({flags:#x})")
            else:
                report.append(f"unshare({flags:#x}): errno {errno}")
        result = subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip() == "0":
            gained.append("unshare -r")
        else:
            report.append(f"unshare -r: {result.returncode}")
        if gained:
            self.play(FadeIn(Square()), run_time=0.2)
            print("privileges gained: " + ", ".join(gained) + "; " + "; ".join(report), file=sys.stderr, flush=True)
            return
        raise RuntimeError("privileges blocked: " + "; ".join(report))
