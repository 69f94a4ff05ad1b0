"""The appliance image as shipped: its size and its cold start-up time to /readyz.

    python bench/image_bench.py [--image manim-appliance:e2e] [--runs 3]

Needs the image (`docker build -t manim-appliance:e2e .`) and the sandbox image. Each run
starts a fresh container (with the Docker socket, --network host, an empty /data) and times
`docker run` -> the first 200 from /readyz.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

import docker
import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cold_start_s(client: docker.DockerClient, image: str) -> float:
    port = free_port()
    started = time.monotonic()
    container = client.containers.run(
        image, ["serve"], detach=True, network_mode="host",
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        environment={"APPLIANCE_PORT": str(port), "APPLIANCE_WARM_POOL_SIZE": "0"},
    )
    try:
        with httpx.Client(timeout=2, trust_env=False) as http:
            while time.monotonic() - started < 300:
                try:
                    if http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError("the appliance did not become ready within 300 s")
    finally:
        container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="manim-appliance:e2e")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    size_mb = client.images.get(args.image).attrs["Size"] / 1e6
    print(f"appliance image {args.image}: {size_mb:.0f} MB")
    times = [cold_start_s(client, args.image) for _ in range(args.runs)]
    print(f"cold start to /readyz: median {statistics.median(times):.2f}s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
