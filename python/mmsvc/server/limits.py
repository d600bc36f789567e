"""The limits a server enforces before doing any work (RESOURCE_EXHAUSTED beyond them)."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    #: simulations alive at once
    max_simulations: int = 16
    #: simulated RAM of one simulation (from its machine description), bytes
    max_ram_per_simulation: int = 64 * GiB
    #: simulated RAM of all simulations together, bytes
    max_total_ram: int = 256 * GiB
    #: largest message received or sent, bytes
    max_message_bytes: int = 16 << 20
    #: blocks (pfns) in one Batch request
    max_batch_size: int = 1 << 20
    #: open streams (StreamEvents, Batch) per client id
    max_streams_per_client: int = 8
    #: entries in one simulation's history
    max_history: int = 1 << 20
    #: Step.count at most
    max_step_count: int = 10_000
    #: machine text (TOML/JSON/dmesg) at most, bytes
    max_machine_bytes: int = 4 << 20
