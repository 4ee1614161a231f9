"""Run in every worker of a local fleet (Ray's `worker_process_setup_hook`): Serve's replicas on loopback too.

With the node on 127.0.0.1 (runner.local_only_ray) every Ray process listens there, except one: each Serve replica's
inter-deployment gRPC server, which Ray Serve 2.60 binds to "[::]:0", every interface (serve/_private/replica.py).
Measured with `ss -ltnp` during a local fleet (docs/FLEET.md). This hook rewrites that one address to loopback; if a
Ray release names things differently it changes nothing, and docs/FLEET.md says what to do then (a firewall).
"""
from __future__ import annotations


def serve_replicas_on_loopback() -> None:
    try:
        from ray.serve._private import replica
    except ImportError:  # a worker without Serve (a camera actor): nothing to change
        return
    add_port = getattr(replica, "add_port_to_grpc_server", None)
    if add_port is None or getattr(add_port, "on_loopback", False):
        return

    def add_port_to_grpc_server(server, address: str):
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address.removeprefix("[::]:")
        return add_port(server, address)

    add_port_to_grpc_server.on_loopback = True
    replica.add_port_to_grpc_server = add_port_to_grpc_server
