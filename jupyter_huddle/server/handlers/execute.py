"""REST routes of server-side execution (all logic is in ``kernels.service``).

- ``POST /api/kernels/{kernel_id}/execute``: JupyterLab's server-side executor body
  ``{cell_id, document_id}``, or Huddle's ``{document_id, cells: [{cell_id, source_hash}],
  batch_id?}`` (several cells in order, each with the SHA-256 of the source the user saw).
  202 with the queued requests; 503 when the notebook's queue is full, 429 (Retry-After)
  when the person has as many cells queued as one may (nothing is queued either way).
- ``GET /api/huddle/queue/{document_id}``: what is queued and running, and recent runs.
- ``DELETE /api/huddle/requests/{request_id}``: cancel a queued request.
- ``POST /api/huddle/requests/{request_id}/input``: ``{value}`` answers an ``input()``.
- ``POST /api/huddle/kernels/{kernel_id}/interrupt`` and ``.../restart``.

Capabilities on the notebook (server/access.py): running cells, cancelling your own
request and answering your own prompt need ``execute``; interrupting ``interrupt``;
restarting and cancelling others' requests ``restart``; reading the queue ``read``. Owners
are checked by the server's authorizer (``execute`` / ``write`` on ``kernels``).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...collab.access.roles import Capability
from ...collab.errors import CollabError
from ...kernels.service import CellRef, ExecutionService
from ..access import REFUSALS, ServerAccess
from ..contents_backend import ContentsFileBackend
from ..kernel_access import ServerKernels
from .base import CoreErrors, PersonRequest
from .ids import parse_document_id

MAX_CELLS_PER_REQUEST = 5000


class ExecutionHandler(CoreErrors, PersonRequest, APIHandler):
    """The execution routes' shared set-up: who may act on which notebook or kernel."""

    auth_resource = "kernels"

    def initialize(self, service: ExecutionService, access: ServerAccess,
                   kernels: ServerKernels, backend: ContentsFileBackend) -> None:
        self.service = service
        self.access = access
        self.kernels = kernels
        self.backend = backend

    def require(self, capability: Capability, file_id: str | None) -> None:
        """Refuse the request unless the user has ``capability`` (on the notebook, if given).

        Raises:
            web.HTTPError: 403, saying what the user may not do.
        """
        self.access.require(self, capability, file_id)

    def allowed(self, capability: Capability, file_id: str | None) -> bool:
        """Whether the user has ``capability`` (on the notebook ``file_id``, if given)."""
        return self.access.allowed(self, capability, file_id)

    def request_document(self, request_id: str) -> str | None:
        """The notebook (file id) of a queued or running request; None if unknown."""
        try:
            return self.service.request(request_id).room_id.file_id
        except CollabError:
            return None

    async def require_on_kernel(self, capability: Capability, kernel_id: str) -> None:
        """Owners: the server's authorizer. Others: their role on a notebook that uses the
        kernel (a kernel of no notebook of theirs is none of their business)."""
        if self.access.is_owner(self.current_user):
            self.require(capability, None)
            return
        for path in await self.kernels.paths_of(kernel_id):
            file_id = self.backend.known_file_id(path)
            if file_id is not None and self.allowed(capability, file_id):
                return
        raise web.HTTPError(403, REFUSALS[capability])


def parse_cells(body: dict[str, Any]) -> list[CellRef]:
    """The cells of an execute request: JupyterLab's one ``cell_id`` or Huddle's list.

    Raises:
        web.HTTPError: 400 for a missing, empty, oversized or malformed list.
    """
    raw = body.get("cells")
    if raw is None:
        raw = [{"cell_id": body.get("cell_id")}]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_CELLS_PER_REQUEST:
        raise web.HTTPError(400, f"cells must be a list of 1 to {MAX_CELLS_PER_REQUEST} cells")
    cells = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("cell_id"), str):
            raise web.HTTPError(400, "each cell needs a cell_id string")
        source_hash = item.get("source_hash")
        if source_hash is not None and not isinstance(source_hash, str):
            raise web.HTTPError(400, "source_hash must be a string (SHA-256, hex)")
        cells.append(CellRef(item["cell_id"], source_hash))
    return cells


class ExecuteHandler(ExecutionHandler):
    """``POST /api/kernels/{kernel_id}/execute``: queue cells."""

    @web.authenticated
    async def post(self, kernel_id: str) -> None:
        body = self.body()
        room_id = parse_document_id(body.get("document_id"))
        self.require(Capability.EXECUTE, room_id.file_id)
        cells = parse_cells(body)
        batch_id = body.get("batch_id")
        if batch_id is not None and (not isinstance(batch_id, str) or len(batch_id) > 100):
            raise web.HTTPError(400, "batch_id must be a short string")
        requests = await self.service.execute(kernel_id, room_id, cells, self.user_info,
                                              batch_id)
        self.set_status(202)
        self.finish({"batch_id": requests[0].batch_id,
                     "requests": [r.public() for r in requests]})


class QueueHandler(ExecutionHandler):
    """``GET /api/huddle/queue/{document_id}``: what is queued, running and recently run."""

    @web.authenticated
    def get(self, document_id: str) -> None:
        room_id = parse_document_id(document_id)
        self.require(Capability.READ, room_id.file_id)
        self.finish({"queue": self.service.queue_of(room_id),
                     "history": self.service.history_of(room_id)})


class RequestHandler(ExecutionHandler):
    """``DELETE /api/huddle/requests/{request_id}``: cancel a queued request."""

    @web.authenticated
    def delete(self, request_id: str) -> None:
        file_id = self.request_document(request_id)
        self.require(Capability.EXECUTE, file_id)
        self.service.cancel(request_id, self.user_info,
                            self.allowed(Capability.RESTART, file_id))
        self.set_status(204)
        self.finish()


class InputHandler(ExecutionHandler):
    """``POST /api/huddle/requests/{request_id}/input``: answer an ``input()`` prompt."""

    @web.authenticated
    def post(self, request_id: str) -> None:
        self.require(Capability.EXECUTE, self.request_document(request_id))
        value = self.body().get("value")
        if not isinstance(value, str):
            raise web.HTTPError(400, "value must be a string")
        self.service.answer_input(request_id, self.user_info, value, may_execute=True)
        self.set_status(204)
        self.finish()


class KernelActionHandler(ExecutionHandler):
    """``POST /api/huddle/kernels/{kernel_id}/interrupt|restart``."""

    @web.authenticated
    async def post(self, kernel_id: str, action: str) -> None:
        await self.require_on_kernel(
            Capability.INTERRUPT if action == "interrupt" else Capability.RESTART, kernel_id)
        if action == "interrupt":
            await self.service.interrupt(kernel_id, self.user_info)
        else:
            await self.service.restart(kernel_id, self.user_info)
        self.set_status(204)
        self.finish()
