"""The exit codes of the ``appliance`` command, defined once. Scripts can rely on them:

    0    success (for ``render``: the video is ready)
    1    the job or check failed (a render failure, a failed doctor check)
    2    usage error or invalid settings
    3    infrastructure unavailable (Docker down, sandbox image missing)
    4    busy: the appliance's queue is full (APPLIANCE_MAX_QUEUED_JOBS); try again in a few minutes
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_BUSY = 4
EXIT_INTERRUPTED = 130
