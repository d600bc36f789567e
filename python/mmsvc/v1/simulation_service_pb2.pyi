import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_STEP: _ClassVar[Granularity]
    GRANULARITY_SUBSTEP: _ClassVar[Granularity]

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_STEPPED: _ClassVar[StopReason]
    STOP_REASON_BREAKPOINT: _ClassVar[StopReason]
    STOP_REASON_UNTIL: _ClassVar[StopReason]
    STOP_REASON_BOOT_COMPLETE: _ClassVar[StopReason]

class BreakpointKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKPOINT_KIND_UNSPECIFIED: _ClassVar[BreakpointKind]
    BREAKPOINT_KIND_STEP: _ClassVar[BreakpointKind]
    BREAKPOINT_KIND_PFN_RANGE: _ClassVar[BreakpointKind]
    BREAKPOINT_KIND_ALLOCATION_FAILURE: _ClassVar[BreakpointKind]
    BREAKPOINT_KIND_ZONE_FREE_BELOW: _ClassVar[BreakpointKind]
    BREAKPOINT_KIND_PLUGIN_REPORT: _ClassVar[BreakpointKind]

class BreakpointWhen(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKPOINT_WHEN_UNSPECIFIED: _ClassVar[BreakpointWhen]
    BREAKPOINT_WHEN_ENTRY: _ClassVar[BreakpointWhen]
    BREAKPOINT_WHEN_EXIT: _ClassVar[BreakpointWhen]

class StepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATE_UNSPECIFIED: _ClassVar[StepState]
    STEP_STATE_PENDING: _ClassVar[StepState]
    STEP_STATE_RUNNING: _ClassVar[StepState]
    STEP_STATE_DONE: _ClassVar[StepState]
    STEP_STATE_SKIPPED: _ClassVar[StepState]
    STEP_STATE_FAILED: _ClassVar[StepState]

class ProcFile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROC_FILE_UNSPECIFIED: _ClassVar[ProcFile]
    PROC_FILE_BUDDYINFO: _ClassVar[ProcFile]
    PROC_FILE_PAGETYPEINFO: _ClassVar[ProcFile]
    PROC_FILE_ZONEINFO: _ClassVar[ProcFile]
    PROC_FILE_MEMINFO: _ClassVar[ProcFile]
    PROC_FILE_SLABINFO: _ClassVar[ProcFile]
    PROC_FILE_VMALLOCINFO: _ClassVar[ProcFile]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_LOG: _ClassVar[EventKind]
    EVENT_KIND_STEP: _ClassVar[EventKind]
    EVENT_KIND_BREAKPOINT: _ClassVar[EventKind]
    EVENT_KIND_RESET: _ClassVar[EventKind]
    EVENT_KIND_DELETED: _ClassVar[EventKind]
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_STEP: Granularity
GRANULARITY_SUBSTEP: Granularity
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_STEPPED: StopReason
STOP_REASON_BREAKPOINT: StopReason
STOP_REASON_UNTIL: StopReason
STOP_REASON_BOOT_COMPLETE: StopReason
BREAKPOINT_KIND_UNSPECIFIED: BreakpointKind
BREAKPOINT_KIND_STEP: BreakpointKind
BREAKPOINT_KIND_PFN_RANGE: BreakpointKind
BREAKPOINT_KIND_ALLOCATION_FAILURE: BreakpointKind
BREAKPOINT_KIND_ZONE_FREE_BELOW: BreakpointKind
BREAKPOINT_KIND_PLUGIN_REPORT: BreakpointKind
BREAKPOINT_WHEN_UNSPECIFIED: BreakpointWhen
BREAKPOINT_WHEN_ENTRY: BreakpointWhen
BREAKPOINT_WHEN_EXIT: BreakpointWhen
STEP_STATE_UNSPECIFIED: StepState
STEP_STATE_PENDING: StepState
STEP_STATE_RUNNING: StepState
STEP_STATE_DONE: StepState
STEP_STATE_SKIPPED: StepState
STEP_STATE_FAILED: StepState
PROC_FILE_UNSPECIFIED: ProcFile
PROC_FILE_BUDDYINFO: ProcFile
PROC_FILE_PAGETYPEINFO: ProcFile
PROC_FILE_ZONEINFO: ProcFile
PROC_FILE_MEMINFO: ProcFile
PROC_FILE_SLABINFO: ProcFile
PROC_FILE_VMALLOCINFO: ProcFile
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_LOG: EventKind
EVENT_KIND_STEP: EventKind
EVENT_KIND_BREAKPOINT: EventKind
EVENT_KIND_RESET: EventKind
EVENT_KIND_DELETED: EventKind

class MachineSource(_message.Message):
    __slots__ = ("toml", "json", "dmesg", "default_machine")
    TOML_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    DMESG_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MACHINE_FIELD_NUMBER: _ClassVar[int]
    toml: str
    json: str
    dmesg: str
    default_machine: bool
    def __init__(self, toml: _Optional[str] = ..., json: _Optional[str] = ..., dmesg: _Optional[str] = ..., default_machine: _Optional[bool] = ...) -> None: ...

class CreateSimulationRequest(_message.Message):
    __slots__ = ("machine", "profile", "plugins", "display_name")
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    machine: MachineSource
    profile: str
    plugins: _containers.RepeatedScalarFieldContainer[str]
    display_name: str
    def __init__(self, machine: _Optional[_Union[MachineSource, _Mapping]] = ..., profile: _Optional[str] = ..., plugins: _Optional[_Iterable[str]] = ..., display_name: _Optional[str] = ...) -> None: ...

class CreateSimulationResponse(_message.Message):
    __slots__ = ("simulation",)
    SIMULATION_FIELD_NUMBER: _ClassVar[int]
    simulation: Simulation
    def __init__(self, simulation: _Optional[_Union[Simulation, _Mapping]] = ...) -> None: ...

class Simulation(_message.Message):
    __slots__ = ("simulation_id", "display_name", "controller", "arch", "profile", "ram_bytes", "boot_complete", "next_step", "log_records", "next_event_seq", "plugins", "history_length", "breakpoints", "create_time")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    RAM_BYTES_FIELD_NUMBER: _ClassVar[int]
    BOOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    LOG_RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    BREAKPOINTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    display_name: str
    controller: str
    arch: str
    profile: str
    ram_bytes: int
    boot_complete: bool
    next_step: str
    log_records: int
    next_event_seq: int
    plugins: _containers.RepeatedScalarFieldContainer[str]
    history_length: int
    breakpoints: _containers.RepeatedCompositeFieldContainer[Breakpoint]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, simulation_id: _Optional[str] = ..., display_name: _Optional[str] = ..., controller: _Optional[str] = ..., arch: _Optional[str] = ..., profile: _Optional[str] = ..., ram_bytes: _Optional[int] = ..., boot_complete: _Optional[bool] = ..., next_step: _Optional[str] = ..., log_records: _Optional[int] = ..., next_event_seq: _Optional[int] = ..., plugins: _Optional[_Iterable[str]] = ..., history_length: _Optional[int] = ..., breakpoints: _Optional[_Iterable[_Union[Breakpoint, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSimulationRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class GetSimulationResponse(_message.Message):
    __slots__ = ("simulation",)
    SIMULATION_FIELD_NUMBER: _ClassVar[int]
    simulation: Simulation
    def __init__(self, simulation: _Optional[_Union[Simulation, _Mapping]] = ...) -> None: ...

class ListSimulationsRequest(_message.Message):
    __slots__ = ("only_mine",)
    ONLY_MINE_FIELD_NUMBER: _ClassVar[int]
    only_mine: bool
    def __init__(self, only_mine: _Optional[bool] = ...) -> None: ...

class ListSimulationsResponse(_message.Message):
    __slots__ = ("simulations",)
    SIMULATIONS_FIELD_NUMBER: _ClassVar[int]
    simulations: _containers.RepeatedCompositeFieldContainer[Simulation]
    def __init__(self, simulations: _Optional[_Iterable[_Union[Simulation, _Mapping]]] = ...) -> None: ...

class DeleteSimulationRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class DeleteSimulationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetSimulationRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class ResetSimulationResponse(_message.Message):
    __slots__ = ("simulation",)
    SIMULATION_FIELD_NUMBER: _ClassVar[int]
    simulation: Simulation
    def __init__(self, simulation: _Optional[_Union[Simulation, _Mapping]] = ...) -> None: ...

class ForkSimulationRequest(_message.Message):
    __slots__ = ("simulation_id", "display_name")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    display_name: str
    def __init__(self, simulation_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class ForkSimulationResponse(_message.Message):
    __slots__ = ("simulation",)
    SIMULATION_FIELD_NUMBER: _ClassVar[int]
    simulation: Simulation
    def __init__(self, simulation: _Optional[_Union[Simulation, _Mapping]] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ("name", "distribution", "version", "hooks", "error", "architectures")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    distribution: str
    version: str
    hooks: _containers.RepeatedScalarFieldContainer[str]
    error: str
    architectures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., distribution: _Optional[str] = ..., version: _Optional[str] = ..., hooks: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ..., architectures: _Optional[_Iterable[str]] = ...) -> None: ...

class ArchitectureInfo(_message.Message):
    __slots__ = ("name", "description", "plugin", "zone_names", "max_order")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    ZONE_NAMES_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    plugin: str
    zone_names: _containers.RepeatedScalarFieldContainer[str]
    max_order: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., plugin: _Optional[str] = ..., zone_names: _Optional[_Iterable[str]] = ..., max_order: _Optional[int] = ...) -> None: ...

class GetCapabilitiesResponse(_message.Message):
    __slots__ = ("api_version", "server_version", "profiles", "architectures", "plugins", "step_names", "granularities", "breakpoint_kinds", "proc_files", "limits", "snapshot_version")
    class StepNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StepNames
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StepNames, _Mapping]] = ...) -> None: ...
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURES_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    STEP_NAMES_FIELD_NUMBER: _ClassVar[int]
    GRANULARITIES_FIELD_NUMBER: _ClassVar[int]
    BREAKPOINT_KINDS_FIELD_NUMBER: _ClassVar[int]
    PROC_FILES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    server_version: str
    profiles: _containers.RepeatedScalarFieldContainer[str]
    architectures: _containers.RepeatedCompositeFieldContainer[ArchitectureInfo]
    plugins: _containers.RepeatedCompositeFieldContainer[PluginInfo]
    step_names: _containers.MessageMap[str, StepNames]
    granularities: _containers.RepeatedScalarFieldContainer[Granularity]
    breakpoint_kinds: _containers.RepeatedScalarFieldContainer[BreakpointKind]
    proc_files: _containers.RepeatedScalarFieldContainer[ProcFile]
    limits: Limits
    snapshot_version: int
    def __init__(self, api_version: _Optional[str] = ..., server_version: _Optional[str] = ..., profiles: _Optional[_Iterable[str]] = ..., architectures: _Optional[_Iterable[_Union[ArchitectureInfo, _Mapping]]] = ..., plugins: _Optional[_Iterable[_Union[PluginInfo, _Mapping]]] = ..., step_names: _Optional[_Mapping[str, StepNames]] = ..., granularities: _Optional[_Iterable[_Union[Granularity, str]]] = ..., breakpoint_kinds: _Optional[_Iterable[_Union[BreakpointKind, str]]] = ..., proc_files: _Optional[_Iterable[_Union[ProcFile, str]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., snapshot_version: _Optional[int] = ...) -> None: ...

class StepNames(_message.Message):
    __slots__ = ("paths",)
    PATHS_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, paths: _Optional[_Iterable[str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_simulations", "max_ram_per_simulation", "max_total_ram", "max_message_bytes", "max_batch_size", "max_streams_per_client", "max_history")
    MAX_SIMULATIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_RAM_PER_SIMULATION_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_RAM_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAMS_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    MAX_HISTORY_FIELD_NUMBER: _ClassVar[int]
    max_simulations: int
    max_ram_per_simulation: int
    max_total_ram: int
    max_message_bytes: int
    max_batch_size: int
    max_streams_per_client: int
    max_history: int
    def __init__(self, max_simulations: _Optional[int] = ..., max_ram_per_simulation: _Optional[int] = ..., max_total_ram: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_batch_size: _Optional[int] = ..., max_streams_per_client: _Optional[int] = ..., max_history: _Optional[int] = ...) -> None: ...

class StopInfo(_message.Message):
    __slots__ = ("reason", "last_step", "next_step", "breakpoint", "leaves_run", "next_event_seq")
    REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    BREAKPOINT_FIELD_NUMBER: _ClassVar[int]
    LEAVES_RUN_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    reason: StopReason
    last_step: str
    next_step: str
    breakpoint: Breakpoint
    leaves_run: int
    next_event_seq: int
    def __init__(self, reason: _Optional[_Union[StopReason, str]] = ..., last_step: _Optional[str] = ..., next_step: _Optional[str] = ..., breakpoint: _Optional[_Union[Breakpoint, _Mapping]] = ..., leaves_run: _Optional[int] = ..., next_event_seq: _Optional[int] = ...) -> None: ...

class Breakpoint(_message.Message):
    __slots__ = ("kind", "step", "pfn_range", "allocation_failure", "zone_free_below", "plugin_report")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PFN_RANGE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_FAILURE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FREE_BELOW_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_REPORT_FIELD_NUMBER: _ClassVar[int]
    kind: BreakpointKind
    step: StepCondition
    pfn_range: PfnRangeCondition
    allocation_failure: AllocationFailureCondition
    zone_free_below: ZoneFreeBelowCondition
    plugin_report: PluginReportCondition
    def __init__(self, kind: _Optional[_Union[BreakpointKind, str]] = ..., step: _Optional[_Union[StepCondition, _Mapping]] = ..., pfn_range: _Optional[_Union[PfnRangeCondition, _Mapping]] = ..., allocation_failure: _Optional[_Union[AllocationFailureCondition, _Mapping]] = ..., zone_free_below: _Optional[_Union[ZoneFreeBelowCondition, _Mapping]] = ..., plugin_report: _Optional[_Union[PluginReportCondition, _Mapping]] = ...) -> None: ...

class StepCondition(_message.Message):
    __slots__ = ("step", "when")
    STEP_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    step: str
    when: BreakpointWhen
    def __init__(self, step: _Optional[str] = ..., when: _Optional[_Union[BreakpointWhen, str]] = ...) -> None: ...

class PfnRangeCondition(_message.Message):
    __slots__ = ("start_pfn", "end_pfn")
    START_PFN_FIELD_NUMBER: _ClassVar[int]
    END_PFN_FIELD_NUMBER: _ClassVar[int]
    start_pfn: int
    end_pfn: int
    def __init__(self, start_pfn: _Optional[int] = ..., end_pfn: _Optional[int] = ...) -> None: ...

class AllocationFailureCondition(_message.Message):
    __slots__ = ("min_order",)
    MIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    min_order: int
    def __init__(self, min_order: _Optional[int] = ...) -> None: ...

class ZoneFreeBelowCondition(_message.Message):
    __slots__ = ("nid", "zone", "pages")
    NID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    nid: int
    zone: str
    pages: int
    def __init__(self, nid: _Optional[int] = ..., zone: _Optional[str] = ..., pages: _Optional[int] = ...) -> None: ...

class PluginReportCondition(_message.Message):
    __slots__ = ("plugin",)
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    def __init__(self, plugin: _Optional[str] = ...) -> None: ...

class StepRequest(_message.Message):
    __slots__ = ("simulation_id", "granularity", "count")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    granularity: Granularity
    count: int
    def __init__(self, simulation_id: _Optional[str] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., count: _Optional[int] = ...) -> None: ...

class StepResponse(_message.Message):
    __slots__ = ("stop",)
    STOP_FIELD_NUMBER: _ClassVar[int]
    stop: StopInfo
    def __init__(self, stop: _Optional[_Union[StopInfo, _Mapping]] = ...) -> None: ...

class RunUntilRequest(_message.Message):
    __slots__ = ("simulation_id", "step", "boot_complete", "ignore_breakpoints")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    BOOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    IGNORE_BREAKPOINTS_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    step: str
    boot_complete: bool
    ignore_breakpoints: bool
    def __init__(self, simulation_id: _Optional[str] = ..., step: _Optional[str] = ..., boot_complete: _Optional[bool] = ..., ignore_breakpoints: _Optional[bool] = ...) -> None: ...

class RunUntilResponse(_message.Message):
    __slots__ = ("stop",)
    STOP_FIELD_NUMBER: _ClassVar[int]
    stop: StopInfo
    def __init__(self, stop: _Optional[_Union[StopInfo, _Mapping]] = ...) -> None: ...

class SetBreakpointsRequest(_message.Message):
    __slots__ = ("simulation_id", "breakpoints")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    BREAKPOINTS_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    breakpoints: _containers.RepeatedCompositeFieldContainer[Breakpoint]
    def __init__(self, simulation_id: _Optional[str] = ..., breakpoints: _Optional[_Iterable[_Union[Breakpoint, _Mapping]]] = ...) -> None: ...

class SetBreakpointsResponse(_message.Message):
    __slots__ = ("breakpoints",)
    BREAKPOINTS_FIELD_NUMBER: _ClassVar[int]
    breakpoints: _containers.RepeatedCompositeFieldContainer[Breakpoint]
    def __init__(self, breakpoints: _Optional[_Iterable[_Union[Breakpoint, _Mapping]]] = ...) -> None: ...

class ListStepsRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class StepInfo(_message.Message):
    __slots__ = ("name", "path", "phase", "kind", "state", "doc", "note", "substeps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DOC_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SUBSTEPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    phase: str
    kind: str
    state: StepState
    doc: str
    note: str
    substeps: _containers.RepeatedCompositeFieldContainer[StepInfo]
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., phase: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[_Union[StepState, str]] = ..., doc: _Optional[str] = ..., note: _Optional[str] = ..., substeps: _Optional[_Iterable[_Union[StepInfo, _Mapping]]] = ...) -> None: ...

class ListStepsResponse(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[StepInfo]
    def __init__(self, steps: _Optional[_Iterable[_Union[StepInfo, _Mapping]]] = ...) -> None: ...

class GetProcFileRequest(_message.Message):
    __slots__ = ("simulation_id", "file")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    file: ProcFile
    def __init__(self, simulation_id: _Optional[str] = ..., file: _Optional[_Union[ProcFile, str]] = ...) -> None: ...

class GetProcFileResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class GetMemblockRequest(_message.Message):
    __slots__ = ("simulation_id", "read_mask")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    READ_MASK_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    read_mask: _field_mask_pb2.FieldMask
    def __init__(self, simulation_id: _Optional[str] = ..., read_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class MemblockRegion(_message.Message):
    __slots__ = ("base", "size", "nid", "flags")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NID_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    base: int
    size: int
    nid: int
    flags: int
    def __init__(self, base: _Optional[int] = ..., size: _Optional[int] = ..., nid: _Optional[int] = ..., flags: _Optional[int] = ...) -> None: ...

class GetMemblockResponse(_message.Message):
    __slots__ = ("memory", "reserved", "dump")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    DUMP_FIELD_NUMBER: _ClassVar[int]
    memory: _containers.RepeatedCompositeFieldContainer[MemblockRegion]
    reserved: _containers.RepeatedCompositeFieldContainer[MemblockRegion]
    dump: str
    def __init__(self, memory: _Optional[_Iterable[_Union[MemblockRegion, _Mapping]]] = ..., reserved: _Optional[_Iterable[_Union[MemblockRegion, _Mapping]]] = ..., dump: _Optional[str] = ...) -> None: ...

class GetZonesRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class FreeByType(_message.Message):
    __slots__ = ("migratetype", "nr_free")
    MIGRATETYPE_FIELD_NUMBER: _ClassVar[int]
    NR_FREE_FIELD_NUMBER: _ClassVar[int]
    migratetype: str
    nr_free: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, migratetype: _Optional[str] = ..., nr_free: _Optional[_Iterable[int]] = ...) -> None: ...

class Zone(_message.Message):
    __slots__ = ("nid", "name", "start_pfn", "spanned", "present", "managed", "nr_free_pages", "pcp_pages", "min", "low", "high", "protection", "nr_free", "free_by_type")
    NID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_PFN_FIELD_NUMBER: _ClassVar[int]
    SPANNED_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    NR_FREE_PAGES_FIELD_NUMBER: _ClassVar[int]
    PCP_PAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_FIELD_NUMBER: _ClassVar[int]
    NR_FREE_FIELD_NUMBER: _ClassVar[int]
    FREE_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    nid: int
    name: str
    start_pfn: int
    spanned: int
    present: int
    managed: int
    nr_free_pages: int
    pcp_pages: int
    min: int
    low: int
    high: int
    protection: _containers.RepeatedScalarFieldContainer[int]
    nr_free: _containers.RepeatedScalarFieldContainer[int]
    free_by_type: _containers.RepeatedCompositeFieldContainer[FreeByType]
    def __init__(self, nid: _Optional[int] = ..., name: _Optional[str] = ..., start_pfn: _Optional[int] = ..., spanned: _Optional[int] = ..., present: _Optional[int] = ..., managed: _Optional[int] = ..., nr_free_pages: _Optional[int] = ..., pcp_pages: _Optional[int] = ..., min: _Optional[int] = ..., low: _Optional[int] = ..., high: _Optional[int] = ..., protection: _Optional[_Iterable[int]] = ..., nr_free: _Optional[_Iterable[int]] = ..., free_by_type: _Optional[_Iterable[_Union[FreeByType, _Mapping]]] = ...) -> None: ...

class GetZonesResponse(_message.Message):
    __slots__ = ("zones",)
    ZONES_FIELD_NUMBER: _ClassVar[int]
    zones: _containers.RepeatedCompositeFieldContainer[Zone]
    def __init__(self, zones: _Optional[_Iterable[_Union[Zone, _Mapping]]] = ...) -> None: ...

class GetMeminfoRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class GetMeminfoResponse(_message.Message):
    __slots__ = ("fields", "counters")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[MeminfoField]
    counters: _containers.ScalarMap[str, int]
    def __init__(self, fields: _Optional[_Iterable[_Union[MeminfoField, _Mapping]]] = ..., counters: _Optional[_Mapping[str, int]] = ...) -> None: ...

class MeminfoField(_message.Message):
    __slots__ = ("name", "kb")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KB_FIELD_NUMBER: _ClassVar[int]
    name: str
    kb: int
    def __init__(self, name: _Optional[str] = ..., kb: _Optional[int] = ...) -> None: ...

class WalkPageTableRequest(_message.Message):
    __slots__ = ("simulation_id", "virt")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRT_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    virt: int
    def __init__(self, simulation_id: _Optional[str] = ..., virt: _Optional[int] = ...) -> None: ...

class PageTableLevel(_message.Message):
    __slots__ = ("level", "name", "index", "table_pfn", "entry", "kind", "text")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TABLE_PFN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    level: int
    name: str
    index: int
    table_pfn: int
    entry: int
    kind: str
    text: str
    def __init__(self, level: _Optional[int] = ..., name: _Optional[str] = ..., index: _Optional[int] = ..., table_pfn: _Optional[int] = ..., entry: _Optional[int] = ..., kind: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class WalkPageTableResponse(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[PageTableLevel]
    def __init__(self, levels: _Optional[_Iterable[_Union[PageTableLevel, _Mapping]]] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("simulation_id", "from_seq", "follow", "kinds")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    from_seq: int
    follow: bool
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    def __init__(self, simulation_id: _Optional[str] = ..., from_seq: _Optional[int] = ..., follow: _Optional[bool] = ..., kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("record_seq", "level", "step", "text", "visible")
    RECORD_SEQ_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_FIELD_NUMBER: _ClassVar[int]
    record_seq: int
    level: int
    step: str
    text: str
    visible: bool
    def __init__(self, record_seq: _Optional[int] = ..., level: _Optional[int] = ..., step: _Optional[str] = ..., text: _Optional[str] = ..., visible: _Optional[bool] = ...) -> None: ...

class StepTransition(_message.Message):
    __slots__ = ("path", "state", "leaves_done", "leaves_total")
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LEAVES_DONE_FIELD_NUMBER: _ClassVar[int]
    LEAVES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    path: str
    state: StepState
    leaves_done: int
    leaves_total: int
    def __init__(self, path: _Optional[str] = ..., state: _Optional[_Union[StepState, str]] = ..., leaves_done: _Optional[int] = ..., leaves_total: _Optional[int] = ...) -> None: ...

class BreakpointHit(_message.Message):
    __slots__ = ("breakpoint", "stop")
    BREAKPOINT_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    breakpoint: Breakpoint
    stop: StopInfo
    def __init__(self, breakpoint: _Optional[_Union[Breakpoint, _Mapping]] = ..., stop: _Optional[_Union[StopInfo, _Mapping]] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("seq", "kind", "log", "step", "breakpoint")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    BREAKPOINT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: EventKind
    log: LogLine
    step: StepTransition
    breakpoint: BreakpointHit
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[EventKind, str]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., step: _Optional[_Union[StepTransition, _Mapping]] = ..., breakpoint: _Optional[_Union[BreakpointHit, _Mapping]] = ...) -> None: ...

class AllocPagesRequest(_message.Message):
    __slots__ = ("simulation_id", "order", "gfp", "nid", "cpu")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    NID_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    order: int
    gfp: str
    nid: int
    cpu: int
    def __init__(self, simulation_id: _Optional[str] = ..., order: _Optional[int] = ..., gfp: _Optional[str] = ..., nid: _Optional[int] = ..., cpu: _Optional[int] = ...) -> None: ...

class AllocPagesResponse(_message.Message):
    __slots__ = ("pfn",)
    PFN_FIELD_NUMBER: _ClassVar[int]
    pfn: int
    def __init__(self, pfn: _Optional[int] = ...) -> None: ...

class FreePagesRequest(_message.Message):
    __slots__ = ("simulation_id", "pfn", "order", "cpu")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    PFN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    pfn: int
    order: int
    cpu: int
    def __init__(self, simulation_id: _Optional[str] = ..., pfn: _Optional[int] = ..., order: _Optional[int] = ..., cpu: _Optional[int] = ...) -> None: ...

class FreePagesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TranslateRequest(_message.Message):
    __slots__ = ("simulation_id", "virt")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRT_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    virt: int
    def __init__(self, simulation_id: _Optional[str] = ..., virt: _Optional[int] = ...) -> None: ...

class TranslateResponse(_message.Message):
    __slots__ = ("phys", "page_size", "level", "flags", "entry")
    PHYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    phys: int
    page_size: int
    level: int
    flags: _containers.RepeatedScalarFieldContainer[str]
    entry: int
    def __init__(self, phys: _Optional[int] = ..., page_size: _Optional[int] = ..., level: _Optional[int] = ..., flags: _Optional[_Iterable[str]] = ..., entry: _Optional[int] = ...) -> None: ...

class MapRangeRequest(_message.Message):
    __slots__ = ("simulation_id", "virt", "phys", "length", "flags", "page_size", "unmap")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRT_FIELD_NUMBER: _ClassVar[int]
    PHYS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    UNMAP_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    virt: int
    phys: int
    length: int
    flags: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    unmap: bool
    def __init__(self, simulation_id: _Optional[str] = ..., virt: _Optional[int] = ..., phys: _Optional[int] = ..., length: _Optional[int] = ..., flags: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., unmap: _Optional[bool] = ...) -> None: ...

class MapRangeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ("simulation_id", "batch_id", "alloc", "free")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOC_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    batch_id: int
    alloc: AllocBatch
    free: FreeBatch
    def __init__(self, simulation_id: _Optional[str] = ..., batch_id: _Optional[int] = ..., alloc: _Optional[_Union[AllocBatch, _Mapping]] = ..., free: _Optional[_Union[FreeBatch, _Mapping]] = ...) -> None: ...

class AllocBatch(_message.Message):
    __slots__ = ("count", "order", "gfp", "cpu")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    count: int
    order: int
    gfp: str
    cpu: int
    def __init__(self, count: _Optional[int] = ..., order: _Optional[int] = ..., gfp: _Optional[str] = ..., cpu: _Optional[int] = ...) -> None: ...

class FreeBatch(_message.Message):
    __slots__ = ("pfns", "order", "cpu")
    PFNS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    pfns: _containers.RepeatedScalarFieldContainer[int]
    order: int
    cpu: int
    def __init__(self, pfns: _Optional[_Iterable[int]] = ..., order: _Optional[int] = ..., cpu: _Optional[int] = ...) -> None: ...

class BatchResponse(_message.Message):
    __slots__ = ("batch_id", "pfns", "count", "status")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PFNS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    pfns: _containers.RepeatedScalarFieldContainer[int]
    count: int
    status: _status_pb2.Status
    def __init__(self, batch_id: _Optional[int] = ..., pfns: _Optional[_Iterable[int]] = ..., count: _Optional[int] = ..., status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("snapshot", "snapshot_version")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    snapshot: bytes
    snapshot_version: int
    def __init__(self, snapshot: _Optional[bytes] = ..., snapshot_version: _Optional[int] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("snapshot", "display_name")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    snapshot: bytes
    display_name: str
    def __init__(self, snapshot: _Optional[bytes] = ..., display_name: _Optional[str] = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ("simulation",)
    SIMULATION_FIELD_NUMBER: _ClassVar[int]
    simulation: Simulation
    def __init__(self, simulation: _Optional[_Union[Simulation, _Mapping]] = ...) -> None: ...

class KmallocRequest(_message.Message):
    __slots__ = ("simulation_id", "size", "gfp", "cpu")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GFP_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    size: int
    gfp: str
    cpu: int
    def __init__(self, simulation_id: _Optional[str] = ..., size: _Optional[int] = ..., gfp: _Optional[str] = ..., cpu: _Optional[int] = ...) -> None: ...

class KmallocResponse(_message.Message):
    __slots__ = ("addr", "usable_size")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    USABLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    addr: int
    usable_size: int
    def __init__(self, addr: _Optional[int] = ..., usable_size: _Optional[int] = ...) -> None: ...

class KfreeRequest(_message.Message):
    __slots__ = ("simulation_id", "addr", "cpu")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    addr: int
    cpu: int
    def __init__(self, simulation_id: _Optional[str] = ..., addr: _Optional[int] = ..., cpu: _Optional[int] = ...) -> None: ...

class KfreeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VmallocRequest(_message.Message):
    __slots__ = ("simulation_id", "size", "caller", "huge")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    HUGE_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    size: int
    caller: str
    huge: bool
    def __init__(self, simulation_id: _Optional[str] = ..., size: _Optional[int] = ..., caller: _Optional[str] = ..., huge: _Optional[bool] = ...) -> None: ...

class VmallocResponse(_message.Message):
    __slots__ = ("addr",)
    ADDR_FIELD_NUMBER: _ClassVar[int]
    addr: int
    def __init__(self, addr: _Optional[int] = ...) -> None: ...

class VfreeRequest(_message.Message):
    __slots__ = ("simulation_id", "addr")
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    addr: int
    def __init__(self, simulation_id: _Optional[str] = ..., addr: _Optional[int] = ...) -> None: ...

class VfreeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSlabCachesRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class SlabCache(_message.Message):
    __slots__ = ("name", "active_objs", "num_objs", "objsize", "objperslab", "pagesperslab", "active_slabs", "num_slabs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_OBJS_FIELD_NUMBER: _ClassVar[int]
    NUM_OBJS_FIELD_NUMBER: _ClassVar[int]
    OBJSIZE_FIELD_NUMBER: _ClassVar[int]
    OBJPERSLAB_FIELD_NUMBER: _ClassVar[int]
    PAGESPERSLAB_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SLABS_FIELD_NUMBER: _ClassVar[int]
    NUM_SLABS_FIELD_NUMBER: _ClassVar[int]
    name: str
    active_objs: int
    num_objs: int
    objsize: int
    objperslab: int
    pagesperslab: int
    active_slabs: int
    num_slabs: int
    def __init__(self, name: _Optional[str] = ..., active_objs: _Optional[int] = ..., num_objs: _Optional[int] = ..., objsize: _Optional[int] = ..., objperslab: _Optional[int] = ..., pagesperslab: _Optional[int] = ..., active_slabs: _Optional[int] = ..., num_slabs: _Optional[int] = ...) -> None: ...

class GetSlabCachesResponse(_message.Message):
    __slots__ = ("caches",)
    CACHES_FIELD_NUMBER: _ClassVar[int]
    caches: _containers.RepeatedCompositeFieldContainer[SlabCache]
    def __init__(self, caches: _Optional[_Iterable[_Union[SlabCache, _Mapping]]] = ...) -> None: ...

class GetVmallocAreasRequest(_message.Message):
    __slots__ = ("simulation_id",)
    SIMULATION_ID_FIELD_NUMBER: _ClassVar[int]
    simulation_id: str
    def __init__(self, simulation_id: _Optional[str] = ...) -> None: ...

class VmallocArea(_message.Message):
    __slots__ = ("addr", "size", "caller", "nr_pages", "flags")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    NR_PAGES_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    addr: int
    size: int
    caller: str
    nr_pages: int
    flags: int
    def __init__(self, addr: _Optional[int] = ..., size: _Optional[int] = ..., caller: _Optional[str] = ..., nr_pages: _Optional[int] = ..., flags: _Optional[int] = ...) -> None: ...

class GetVmallocAreasResponse(_message.Message):
    __slots__ = ("areas",)
    AREAS_FIELD_NUMBER: _ClassVar[int]
    areas: _containers.RepeatedCompositeFieldContainer[VmallocArea]
    def __init__(self, areas: _Optional[_Iterable[_Union[VmallocArea, _Mapping]]] = ...) -> None: ...
