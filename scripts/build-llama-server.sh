#!/usr/bin/env bash
# Build llama.cpp's `llama-server` from the source vendored in the PyPI sdist of
# llama-cpp-python, and cache the binary so a second install does not rebuild it.
# Usage: scripts/build-llama-server.sh DEST   (DEST: where the binary is copied)
set -euo pipefail
LLAMA_CPP_PYTHON_VERSION=0.3.36
dest=${1:?usage: build-llama-server.sh DEST}
# Not -DGGML_NATIVE=ON: a native binary is specific to the CPU it was built on (and here its AMX
# kernels crashed where the kernel does not grant AMX to processes), so a cache shared between
# machines could hand a binary to a CPU that cannot run it. The cache key names the instruction set.
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    isa=avx2; isa_flags="-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
else
    isa=generic; isa_flags=""
fi
cache=${HFSWEEP_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hfsweep}/llama-server-$LLAMA_CPP_PYTHON_VERSION-$(uname -m)-$isa
if [ ! -x "$cache/llama-server" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "building llama-server from llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (about 7 minutes on 2 cores)"
    python3 -m pip download --quiet --no-binary :all: --no-deps --no-build-isolation \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$work" 2>/dev/null \
      || python3 -m pip download --quiet --no-binary :all: --no-deps \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$work"
    tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
    src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
        -DGGML_NATIVE=OFF $isa_flags > "$work/cmake.log" 2>&1
    cmake --build "$work/build" --target llama-server -j "$(nproc)" > "$work/build.log" 2>&1
    mkdir -p "$cache"
    cp "$work/build/bin/llama-server" "$cache/llama-server.tmp"
    mv "$cache/llama-server.tmp" "$cache/llama-server"
fi
mkdir -p "$(dirname "$dest")"
cp "$cache/llama-server" "$dest"
echo "llama-server: $dest (cached in $cache)"
