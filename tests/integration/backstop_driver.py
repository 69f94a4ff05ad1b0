"""An appliance process that renders one scene and is killed mid-render by the backstop test
(run as a script, not collected):

    python -m tests.integration.backstop_driver DATA_DIR RENDER_TIMEOUT_S SCENE_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

from appliance.config import Settings
from appliance.sandbox.connection import open_local_client
from appliance.sandbox.docker import DockerSandbox


def main(data_dir: str, timeout_s: str, scene_file: str) -> None:
    settings = Settings.from_env({}, data_dir=Path(data_dir), render_timeout_s=float(timeout_s),
                                 render_quality="low", warm_pool_size=0)
    sandbox = DockerSandbox(settings, open_local_client())
    print("OWNER", sandbox.owner, flush=True)
    sandbox.render(Path(scene_file).read_text(), "Hostile", "low")  # killed before it returns
    print("RENDER RETURNED", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
