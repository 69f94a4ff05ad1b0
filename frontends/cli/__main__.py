"""``python -m frontends.cli``: the ``appliance`` command without installing it."""

from __future__ import annotations

import sys

from frontends.cli import main

sys.exit(main())
