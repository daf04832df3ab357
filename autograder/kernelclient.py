"""jupyter_client's kernel manager and client for grading: the same protocol, without fixed sleeps.

Per notebook, jupyter_client sleeps more than a forked kernel needs to start:

* ``wait_for_ready`` asks ``kernel_info`` and, once answered, listens to IOPub until it has been
  silent for 0.2 s (to drain the status messages of its requests);
* the client's sockets retry a refused connection every 0.1 s (ZeroMQ's default), and a forked
  kernel binds its ports a few milliseconds after the launcher has started;
* ``shutdown_kernel`` polls every 0.1 s whether the kernel process has exited.

Here readiness has the same meaning (the kernel answered ``kernel_info`` on the shell channel
and IOPub delivers its messages), but the wait ends at the idle status of our own request;
sockets retry every 10 ms; exit is polled every 10 ms. The manager still asks a kernel to shut
down gracefully and kills it only after ``shutdown_wait_time``; the grader (grade.py) asks for
an immediate shutdown of its forked kernels instead, which have nothing to save.
"""

from __future__ import annotations

import time
from queue import Empty

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, default

POLL_SECONDS = 0.01
RECONNECT_MS = 10
REPLY_SECONDS = 1.0  # as jupyter_client: ask kernel_info again when no reply came in this time
IOPUB_SECONDS = 0.2  # as jupyter_client: IOPub is not connected yet when silent this long


class GradingKernelClient(AsyncKernelClient):
    """An AsyncKernelClient whose ``wait_for_ready`` returns as soon as the kernel is ready."""

    def start_channels(self, *args, **kwargs) -> None:
        self.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)  # for sockets made from now
        super().start_channels(*args, **kwargs)

    async def _reply(self, msg_id: str, seconds: float) -> dict | None:
        """The shell reply to ``msg_id``, skipping late replies to earlier requests."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.shell_channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    async def _idle(self, msg_id: str, seconds: float) -> bool:
        """Whether IOPub delivers the idle status of ``msg_id`` within ``seconds``.

        Every IOPub message before it (the kernel's "starting", statuses of earlier requests)
        is dropped, as jupyter_client's flush drops them.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return True
        return False

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._reply(msg_id, REPLY_SECONDS)
            if reply is not None and await self._idle(msg_id, IOPUB_SECONDS):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


class GradingKernelManager(AsyncKernelManager):
    """An AsyncKernelManager that notices a kernel's exit within 10 ms and makes fast clients."""

    client_class = DottedObjectName("autograder.kernelclient.GradingKernelClient", config=True)

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return GradingKernelClient

    async def _async_wait(self, pollinterval: float = POLL_SECONDS) -> None:
        await super()._async_wait(pollinterval=min(pollinterval, POLL_SECONDS))
