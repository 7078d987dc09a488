"""The notebook's Jupyter kernel, confined by the sandbox policy, for nbgrader's Execute.

nbgrader executes a student's notebook in a kernel, and every cell is code of the student's.
`ConfinedKernelManager` starts that kernel under sandbox/policy.py, like every probe: an
allow-list file system (the course, the repository, the gradebook and other students do not
exist in it), no network, no capabilities, the limits of sandbox/limits.py (`KERNEL`).

The kernel talks to nbgrader over UNIX sockets (Jupyter's `ipc` transport) in a fresh folder of
its own, the only folder it shares with the grader: with no network namespace in common, TCP
would need one. Interrupts are sent as messages (a signal would reach bubblewrap, not the kernel).
The grader never connects through that folder, which the kernel may change: once the kernel has
made its sockets, before any cell runs, the grader links them into a folder beside it that the
kernel cannot see, and connects there. Otherwise a cell could replace a socket with a link to any
UNIX socket of the machine and have ZeroMQ reconnect the grader to it, as the grader's user.

nbgrader_config.py selects it through autograder.grading.nbgrader_plugin.ExecuteUntilStuck, so the class
command, plain `nbgrader autograde` and the Gradescope bundle all run kernels this way. If the
sandbox cannot start, the kernel does not start either, and nbgrader's log says why and how to fix
it; `--Sandbox.unconfined=True` is the grader's explicit choice to run without it.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool
from traitlets.config import Configurable

from . import policy
from .limits import KERNEL, KERNEL_THREADS
from .processes import remove_tree

# Variables of the grader's environment that the notebook may see: fast mode. Its thread count is the limit's.
PASSED_TO_KERNEL = ("NBGRADER_EXECUTION", "VAE_FAST_MODE")
THREADS = {"OMP_NUM_THREADS": str(KERNEL_THREADS), "MKL_NUM_THREADS": str(KERNEL_THREADS)}
# Set by whoever starts nbgrader and removes the folder after it (workflow/grade_student.py): the kernel's
# sockets folder is made inside it, so that it goes even when nbgrader is killed at the time limit.
SOCKETS_PARENT = "VAE_KERNEL_SOCKETS"


def _short_temporary_folder() -> Path:
    """A UNIX socket's path has at most 107 bytes: /tmp, not $TMPDIR (a scratch course can be deep)."""
    return Path("/tmp" if os.access("/tmp", os.W_OK) else tempfile.gettempdir())


def sockets_parent(scratch: Path) -> Path:
    """The folder, of the grading in `scratch`, that holds its kernel's sockets folder: short, and one per grading."""
    return _short_temporary_folder() / f"vae-sockets-{hashlib.sha256(os.fsencode(scratch)).hexdigest()[:16]}"


# The longest socket path the kernel's folder adds to its parent: /vae-kernel-XXXXXXXX/kernel-NN
SOCKET_PATH_TAIL = len("/vae-kernel-12345678/kernel-99")
SOCKET_PATH_MAX = 107   # bytes of a UNIX socket's path (sun_path)


def make_sockets_parent(scratch: Path) -> Path:
    """Make sockets_parent(scratch), fresh; raise OSError saying why it cannot be used and what to do."""
    path = sockets_parent(scratch)
    if len(os.fsencode(path)) + SOCKET_PATH_TAIL > SOCKET_PATH_MAX:
        raise OSError(f"the kernel's sockets would be too deep in {path.parent} (a socket's path has at most "
                      f"{SOCKET_PATH_MAX} bytes): make /tmp writable, or set TMPDIR to a short folder")
    try:
        path.mkdir(mode=0o700)   # not exist_ok: a folder of that name made by anyone else is refused
    except OSError as e:
        raise OSError(f"the grader could not make the folder of the kernel's sockets ({e}); "
                      f"make sure {path.parent} is writable and holds no {path.name}") from None
    return path


class Sandbox(Configurable):
    """The grader's one switch about confinement (`--Sandbox.unconfined=True`, or in nbgrader_config.py)."""
    unconfined = Bool(False, help="Run students' code without the sandbox, trusting every submission. "
                                  "Every report then says so.").tag(config=True)


SOCKETS_SECONDS = 120   # for the kernel to make its sockets (about a second), as nbgrader_config.py's startup_timeout


class ConfinedKernelManager(AsyncKernelManager):
    """An IPython kernel under the sandbox policy, reached over UNIX sockets in a folder of its own."""

    _sockets: Path | None = None   # the kernel's folder (it may write there)
    _links: Path | None = None     # the grader's links to the kernel's sockets (the kernel cannot see it)

    @property
    def unconfined(self) -> bool:
        return Sandbox(parent=self).unconfined

    async def _async_pre_start_kernel(self, **kw):
        if not self.unconfined:
            policy.check()   # raises SandboxUnavailable: the reason and the fix end up in nbgrader's log
        parent = os.environ.get(SOCKETS_PARENT) or _short_temporary_folder()
        self._sockets = Path(tempfile.mkdtemp(prefix="vae-kernel-", dir=parent))
        self.transport = "ipc"
        self.ip = str(self._sockets / "kernel")
        self.connection_file = str(self._sockets / "connection.json")
        command, kw = await super()._async_pre_start_kernel(**kw)
        # Not the grader's terminal or log: the kernel could read what is typed, or forge lines there.
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kw["env"] = {**kw.get("env", os.environ), **THREADS}   # what an unconfined kernel sees
        return command, kw

    async def _async_post_start_kernel(self, **kw) -> None:
        await self._connect_through_links()
        await super()._async_post_start_kernel(**kw)   # connects the control socket: through the links

    async def _connect_through_links(self) -> None:
        """Point every connection of the grader (this manager's and its clients') at links to the kernel's sockets.

        Made as soon as the kernel has bound all five, before any cell can run: they are its own. A link is
        the socket itself, so a reconnect reaches the same socket, or nothing, whatever the cell does to
        the kernel's folder.
        """
        ports = (self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port)
        names = [f"{Path(self.ip).name}-{port}" for port in ports]
        deadline = time.monotonic() + SOCKETS_SECONDS
        while not all(_is_socket(self._sockets / name) for name in names):
            if not await self.is_alive():
                return   # nbclient reports the dead kernel
            if time.monotonic() > deadline:
                raise RuntimeError(f"the notebook's kernel did not open its sockets within {SOCKETS_SECONDS} s")
            await asyncio.sleep(0.02)
        links = Path(tempfile.mkdtemp(prefix="vae-links-", dir=self._sockets.parent))
        for name in names:
            os.link(self._sockets / name, links / name, follow_symlinks=False)
            if not _is_socket(links / name):
                raise RuntimeError(f"the kernel's {name} is not a socket")
        self._links, self.ip = links, str(links / Path(self.ip).name)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command line, whatever the kernelspec says: this environment's Python, confined."""
        kernel = [sys.executable, "-s", "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]
        env = {**{name: os.environ[name] for name in PASSED_TO_KERNEL if name in os.environ}, **THREADS}
        if self.unconfined:
            return policy.unconfined_command(kernel, KERNEL)
        return policy.command(kernel, KERNEL, writable=[self._sockets], env=env, cwd="/tmp")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._sockets is not None and not restart:
            folders, self._sockets, self._links = [self._sockets, self._links], None, None
            for folder in filter(None, folders):
                await asyncio.to_thread(remove_tree, folder)   # its retry waits a second: not in nbgrader's event loop


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False
