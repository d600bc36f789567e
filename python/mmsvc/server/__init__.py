"""The mmsvc gRPC server (``mmsvc serve``): SimulationService, health, reflection.

    from mmsvc.server import start_server
    server, port, service = await start_server("127.0.0.1:0")

See ``docs/grpc.md`` for the API.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mmsvc.server.limits import Limits
from mmsvc.server.service import SimulationService
from mmsvc.v1 import simulation_service_pb2 as pb
from mmsvc.v1 import simulation_service_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SimulationService"].full_name

__all__ = ["Limits", "SimulationService", "start_server", "serve", "SERVICE_NAME"]


async def start_server(listen: str = "127.0.0.1:50051", *, limits: Limits | None = None,
                       state_dir: str | os.PathLike[str] | None = None,
                       token: str | None = None,
                       tls: tuple[bytes, bytes] | None = None
                       ) -> tuple[grpc.aio.Server, int, SimulationService]:
    """Build and start a server; returns it, the bound port and the servicer.
    ``tls`` is ``(certificate_chain_pem, private_key_pem)`` for a TLS port."""
    limits = limits or Limits()
    service = SimulationService(limits, state_dir=state_dir, token=token)
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", limits.max_message_bytes),
    ])
    pb_grpc.add_SimulationServiceServicer_to_server(service, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME), server)
    if tls is not None:
        cert, key = tls
        port = server.add_secure_port(listen, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server._mmsvc_service = service  # type: ignore[attr-defined]
    return server, port, service


async def stop_server(server: grpc.aio.Server, grace: float | None = 1.0) -> None:
    await server.stop(grace)
    service: Any = getattr(server, "_mmsvc_service", None)
    if service is not None:
        # let queued work (state-dir writes) finish; nothing new arrives after stop
        await asyncio.to_thread(service.executor.shutdown, True)


def serve(listen: str = "127.0.0.1:50051", *, limits: Limits | None = None,
          state_dir: str | None = None, token: str | None = None,
          tls: tuple[bytes, bytes] | None = None, ready: Any = None) -> None:
    """Run a server until interrupted (``mmsvc serve``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def main() -> None:
        server, port, service = await start_server(listen, limits=limits, state_dir=state_dir,
                                                   token=token, tls=tls)
        host = listen.rsplit(":", 1)[0]
        logging.getLogger("mmsvc.server").info(
            "listening on %s:%d (%d simulations restored)", host, port, len(service.sessions))
        if ready is not None:
            ready(port)
        try:
            await server.wait_for_termination()
        finally:
            await stop_server(server)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
