"""Diagnostics (not part of Huddle): is output lost under a flood because the kernel's
iopub PUB socket drops messages once the server's subscription falls ~1000 messages behind
(ZMQ's default high-water marks)? Every SUB socket created in the process gets an unlimited
receive high-water mark, so the server's ZMQ I/O thread takes everything off the wire and
the kernel never has to drop (memory grows instead). Kernels inherit PYTHONPATH, but they
create no SUB sockets, so they are unchanged.

Use: BENCH_SERVER_PYTHONPATH=bench/diagnostics/iopubhwm \
     python -m bench.execution --points wideflood --tag iopubhwm
"""

import os

import zmq

_log = open(os.path.join(os.environ.get("BENCH_DIAG_DIR", "/tmp"),  # noqa: SIM115
                         f"iopubhwm-{os.getpid()}.log"), "w", buffering=1)
_socket = zmq.Context.socket


def _unbounded_sub(self, socket_type, *args, **kwargs):  # type: ignore[no-untyped-def]
    sock = _socket(self, socket_type, *args, **kwargs)
    if socket_type == zmq.SUB:
        sock.rcvhwm = 0  # 0: no limit
        _log.write(f"SUB socket {sock!r}: rcvhwm=0\n")
    return sock


zmq.Context.socket = _unbounded_sub  # type: ignore[method-assign]
