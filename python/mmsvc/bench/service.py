"""The gRPC service's cost, measured against the in-process API in one run.

* unary ``Step`` round trips on loopback (p50 / p99), against the same
  ``Simulation.step`` called in process;
* page operations per second through the bidirectional ``Batch`` stream
  (alloc then free batches of 65536 order-0 pages), against the in-process
  batch API on the same machine.
"""

from __future__ import annotations

import array
import queue
import statistics
import time
from typing import Any


def _percentile(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(p * len(s)))]


def measure(quick: bool = False) -> dict[str, float]:
    from mmsvc.client import Client
    from mmsvc.machine import default_machine
    from mmsvc.server.testing import ServerThread
    from mmsvc.simulation import Simulation
    from mmsvc.v1 import simulation_service_pb2 as pb

    rounds = 1 if quick else 4
    batch = 4096 if quick else 65536
    reps = 2 if quick else 16
    out: dict[str, float] = {}

    # in-process baselines
    local: list[float] = []
    for _ in range(rounds):
        sim = Simulation(default_machine())
        while not sim.done:
            t = time.perf_counter_ns()
            sim.step("substep")
            local.append(time.perf_counter_ns() - t)
    buf = array.array("Q", bytes(8 * batch))
    start = time.perf_counter_ns()
    ops = 0
    for _ in range(reps):
        n = sim.mm.alloc_pages_bulk(buf, 0)
        sim.mm.free_pages_bulk(buf[:n], 0)
        ops += 2 * n
    out["inproc_batch_ops_s"] = ops / ((time.perf_counter_ns() - start) / 1e9)
    out["inproc_step_p50_us"] = statistics.median(local) / 1e3

    with ServerThread() as srv, Client(srv.address, client_id="bench") as client:
        remote: list[float] = []
        for _ in range(rounds):
            sid = client.create().simulation_id
            while True:
                t = time.perf_counter_ns()
                stop = client.step(sid)
                remote.append(time.perf_counter_ns() - t)
                if not stop.next_step:
                    break
            client.delete(sid)
        out["step_p50_us"] = statistics.median(remote) / 1e3
        out["step_p99_us"] = _percentile(remote, 0.99) / 1e3

        sid = client.create().simulation_id
        client.boot(sid)
        results: queue.Queue[Any] = queue.Queue()

        def requests():
            for i in range(reps):
                yield pb.BatchRequest(simulation_id=sid, batch_id=2 * i,
                                      alloc=pb.AllocBatch(count=batch, order=0))
                pfns = results.get(timeout=60)
                yield pb.BatchRequest(simulation_id=sid, batch_id=2 * i + 1,
                                      free=pb.FreeBatch(pfns=pfns, order=0))

        ops = 0
        start = time.perf_counter_ns()
        for resp in client.batch(requests()):
            if resp.batch_id % 2 == 0:
                results.put(list(resp.pfns))
            ops += resp.count  # what the server says it allocated or freed
        out["service_batch_ops_s"] = ops / ((time.perf_counter_ns() - start) / 1e9)
        client.delete(sid)
    return out
