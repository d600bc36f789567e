"""Errors of the gRPC service and the one mapping of every mmsvc error to a status.

:func:`status_for` is the only place where an exception becomes a gRPC status:
each class of :mod:`mmsvc.errors` (and the service's own classes below) gets a
code, an ``ErrorInfo`` (domain ``mmsvc.dev``, reason, metadata naming the
exception class) and, where it applies, a ``BadRequest`` naming the field or a
``PreconditionFailure``.
"""

from __future__ import annotations

import re

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from mmsvc import errors as e

DOMAIN = "mmsvc.dev"


class ServiceError(e.MmsvcError):
    """Base of the errors only the service raises."""


class RequestError(e.InvalidArgumentError, ServiceError):
    """A malformed request; ``field`` names the request field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFoundError(ServiceError):
    """No simulation with that id."""

    def __init__(self, simulation_id: str) -> None:
        super().__init__(f"simulation_id: no simulation {simulation_id!r}")
        self.simulation_id = simulation_id


class NotControllerError(e.InvalidStateError, ServiceError):
    """A mutating call from a client that does not control the simulation."""

    def __init__(self, simulation_id: str, client: str, controller: str) -> None:
        super().__init__(f"simulation {simulation_id!r} is controlled by {controller!r}; "
                         f"client {client!r} is a read-only observer")
        self.simulation_id = simulation_id
        self.client = client
        self.controller = controller


class LimitExceededError(ServiceError):
    """A server limit (``limit`` names it) would be exceeded; nothing changed."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class NotImplementedYetError(ServiceError):
    """A feature the contract reserves but the server does not implement yet."""


class UnauthenticatedError(ServiceError):
    """Missing or wrong bearer token."""


class CancelledError(ServiceError):
    """The client cancelled, or the deadline passed, between two steps."""

    def __init__(self, deadline: bool) -> None:
        super().__init__("deadline exceeded" if deadline else "cancelled by the client")
        self.deadline = deadline


class SnapshotError(RequestError):
    """A snapshot blob that cannot be read or replayed."""

    def __init__(self, reason: str) -> None:
        super().__init__("snapshot", reason)


class SnapshotVersionError(e.InvalidStateError, ServiceError):
    """A snapshot from another server version."""


def _reason(exc: BaseException) -> str:
    """``DoubleFreeError`` -> ``DOUBLE_FREE``."""
    name = type(exc).__name__.removesuffix("Error") or type(exc).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]<>]*): ")


def _field_of(exc: BaseException) -> str | None:
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        return field
    m = _FIELD.match(str(exc))
    return m.group(1) if m else None


# (class, code), most specific first: the first match wins.
_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (UnauthenticatedError, code_pb2.UNAUTHENTICATED),
    (CancelledError, code_pb2.CANCELLED),
    (NotFoundError, code_pb2.NOT_FOUND),
    (NotControllerError, code_pb2.FAILED_PRECONDITION),
    (SnapshotVersionError, code_pb2.FAILED_PRECONDITION),
    (LimitExceededError, code_pb2.RESOURCE_EXHAUSTED),
    (NotImplementedYetError, code_pb2.UNIMPLEMENTED),
    (e.MachineConfigError, code_pb2.INVALID_ARGUMENT),
    (e.InvalidArgumentError, code_pb2.INVALID_ARGUMENT),
    (e.OutOfRangeError, code_pb2.OUT_OF_RANGE),
    (e.FreeError, code_pb2.FAILED_PRECONDITION),
    (e.OutOfMemoryError, code_pb2.RESOURCE_EXHAUSTED),
    (e.CapacityExceededError, code_pb2.RESOURCE_EXHAUSTED),
    (e.InvalidStateError, code_pb2.FAILED_PRECONDITION),
    (e.PluginError, code_pb2.FAILED_PRECONDITION),
    (e.InternalError, code_pb2.INTERNAL),
    (e.MmsvcError, code_pb2.UNKNOWN),
)


def _pack(msg: object) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)  # type: ignore[arg-type]
    return a


def status_proto(exc: BaseException) -> status_pb2.Status:
    """The ``google.rpc.Status`` for an exception (INTERNAL for anything unexpected)."""
    code = code_pb2.INTERNAL
    for cls, c in _CODES:
        if isinstance(exc, cls):
            code = c
            break
    if isinstance(exc, CancelledError) and exc.deadline:
        code = code_pb2.DEADLINE_EXCEEDED
    known = isinstance(exc, e.MmsvcError)
    message = str(exc) if known else f"internal error: {type(exc).__name__}: {exc}"
    metadata = {"exception": type(exc).__name__}
    for attr in ("plugin", "hook", "limit", "simulation_id", "controller"):
        v = getattr(exc, attr, None)
        if isinstance(v, str):
            metadata[attr] = v
    details = [_pack(error_details_pb2.ErrorInfo(
        reason=_reason(exc) if known else "INTERNAL", domain=DOMAIN, metadata=metadata))]
    field = _field_of(exc) if known else None
    if code in (code_pb2.INVALID_ARGUMENT, code_pb2.OUT_OF_RANGE) and field:
        reason = getattr(exc, "reason", None)
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=field, description=reason if isinstance(reason, str) else str(exc))])))
    elif code == code_pb2.FAILED_PRECONDITION:
        kind = "CONTROLLER" if isinstance(exc, NotControllerError) else _reason(exc)
        subject = getattr(exc, "simulation_id", None) or ""
        details.append(_pack(error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type=kind, subject=subject, description=str(exc))])))
    return status_pb2.Status(code=code, message=message, details=details)


def grpc_status(exc: BaseException) -> grpc.Status:
    """The status to abort an RPC with (``context.abort_with_status``)."""
    from grpc_status import rpc_status

    return rpc_status.to_status(status_proto(exc))
