"""The execution service's view of Jupyter Server's kernels and sessions.

Stock managers only (local kernels by default, the Gateway client when configured): the
notebook's kernel is whatever the session API says for its path, looked up at execute time,
so a binding survives a room being evicted and reloaded, and a JupyterLab user of the same
notebook is on the same kernel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from jupyter_server.utils import ensure_async
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError

from ..collab.ids import DocumentRoomId
from ..kernels.client import KernelConnection, is_gateway
from ..kernels.errors import UnknownKernel
from .gateway_channels import GatewayChannels

log = logging.getLogger(__name__)

# How long the watchdog's "is the kernel alive?" may take (a gateway is asked over HTTP).
ALIVE_CHECK_TIMEOUT_S = 5.0


class ServerKernels:
    """Kernels and sessions through Jupyter Server's managers (the execution service's
    ``Kernels``)."""

    def __init__(self, kernel_manager: Any, session_manager: Any,
                 path_for: Callable[[str], Any]) -> None:
        self.kernel_manager = kernel_manager
        self.session_manager = session_manager
        self._path_for = path_for

    def exists(self, kernel_id: str) -> bool:
        """Whether the server runs this kernel."""
        return kernel_id in self.kernel_manager

    async def kernel_for(self, room_id: DocumentRoomId) -> str | None:
        """The kernel of the notebook's session; None if it has none."""
        path = await self._path_for(room_id.file_id)
        if path is None:
            return None
        try:
            model = await ensure_async(self.session_manager.get_session(path=path))
        except (HTTPError, KeyError, ValueError):
            model = await self._session_by_placeholder(room_id.file_id)
        kernel = (model or {}).get("kernel") or {}
        kernel_id = kernel.get("id")
        return str(kernel_id) if kernel_id else None

    async def paths_of(self, kernel_id: str) -> list[str]:
        """The paths of the sessions (notebooks) that use a kernel."""
        return [str(m.get("path")) for m in await ensure_async(
            self.session_manager.list_sessions())
            if (m.get("kernel") or {}).get("id") == kernel_id and m.get("path")]

    async def session_paths(self) -> list[str]:
        """The paths of every notebook session with a kernel."""
        return [str(m.get("path")) for m in await ensure_async(
            self.session_manager.list_sessions()) if m.get("kernel") and m.get("path")]

    async def start_for(self, path: str, kernel_name: str | None) -> str:
        """The kernel of a notebook's session, starting one if there is none (for people
        who may run cells but not use the sessions API, like share-link guests)."""
        try:
            model = await ensure_async(self.session_manager.get_session(path=path))
        except (HTTPError, KeyError, ValueError):
            model = await ensure_async(self.session_manager.create_session(
                path=path, name=path.rsplit("/", 1)[-1], type="notebook",
                kernel_name=kernel_name))
        return str(model["kernel"]["id"])

    async def _session_by_placeholder(self, file_id: str) -> Any:
        """JupyterLab with collaboration first creates a notebook's session under a
        placeholder path holding the file id, and renames it a moment later."""
        for model in await ensure_async(self.session_manager.list_sessions()):
            if file_id in str(model.get("path", "")):
                return model
        return None

    async def alive(self, kernel_id: str) -> bool:
        """Whether the kernel exists and its process is alive."""
        if kernel_id not in self.kernel_manager:
            return False
        kernel = self.kernel_manager.get_kernel(kernel_id)
        try:
            # A gateway kernel asks its gateway, which may be unreachable or silent (its
            # requests time out after 40 s): the watchdog waits on this, so it is bounded.
            async with asyncio.timeout(ALIVE_CHECK_TIMEOUT_S):
                return bool(await ensure_async(kernel.is_alive()))
        except Exception as err:
            # Not knowing is not dead: the connection's own end says when runs are lost.
            log.info("kernel %s: cannot tell whether it is alive: %r", kernel_id, err)
            return True

    async def interrupt(self, kernel_id: str) -> None:
        """Interrupt the kernel (through the kernel manager, as Jupyter's API does)."""
        await ensure_async(self.kernel_manager.interrupt_kernel(kernel_id))

    async def restart(self, kernel_id: str) -> None:
        """Restart the kernel (through the kernel manager, as Jupyter's API does)."""
        await ensure_async(self.kernel_manager.restart_kernel(kernel_id))

    async def connect(self, kernel_id: str, on_status: Callable[[str], None],
                      on_any_iopub: Callable[[dict[str, Any]], bool]) -> KernelConnection:
        """A client of the kernel's channels for the server's own executions: ZMQ to a
        local kernel, the server's own websocket to a gateway's.

        Raises:
            UnknownKernel: the server runs no such kernel (any more).
            Exception: it cannot be reached (yet): ``KernelConnection.open``.
        """
        if kernel_id not in self.kernel_manager:
            raise UnknownKernel(f"kernel {kernel_id} is gone")
        if is_gateway(self.kernel_manager.get_kernel(kernel_id)):
            return await self._connect_on_gateway(kernel_id, on_status, on_any_iopub)
        return await KernelConnection.open(self.kernel_manager, kernel_id, on_status,
                                           on_any_iopub)

    async def _connect_on_gateway(self, kernel_id: str, on_status: Callable[[str], None],
                                  on_any_iopub: Callable[[dict[str, Any]], bool]
                                  ) -> KernelConnection:
        """Raises:
            UnknownKernel: the gateway does not know the kernel (any more).
            HTTPClientError, OSError, TimeoutError, ChannelClosed: it cannot be reached.
        """
        try:
            return await KernelConnection.opened(kernel_id, GatewayChannels(kernel_id),
                                                 on_status, on_any_iopub)
        except HTTPClientError as err:
            if err.code != 404:
                raise
        # Gone with a gateway that restarted (its kernels die with it), or culled there.
        # The server's gateway manager would go on listing it until it next polls the
        # gateway: it goes now, so its session is culled and the notebook can have a new one.
        self.kernel_manager.remove_kernel(kernel_id)
        raise UnknownKernel(f"kernel {kernel_id} is gone from its gateway "
                            "(the gateway restarted, or culled it): start a new kernel")
