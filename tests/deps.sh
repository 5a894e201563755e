#!/usr/bin/env bash
# Installs what berry needs on a fresh Debian/Ubuntu machine. As root it uses apt-get;
# otherwise it only reports what is missing. Python packages used by tests/benchmarks
# (HF tokenizers, as a reference) come from pip.
set -u
need=()
have_header() { echo "#include <$1>" | ${CC:-gcc} -E -x c - >/dev/null 2>&1; }
command -v gcc >/dev/null || need+=(build-essential)
command -v make >/dev/null || need+=(make)
have_header zstd.h || need+=(libzstd-dev)
have_header xxhash.h || need+=(libxxhash-dev)
have_header seccomp.h || need+=(libseccomp-dev)
command -v mpicc >/dev/null || need+=(libopenmpi-dev openmpi-bin)
# clang with its sanitizer and libFuzzer runtimes: the shards sanitizer tests and fuzzer.
command -v clang >/dev/null || need+=(clang)
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' |
    clang -fsanitize=fuzzer,address,undefined -x c - -o /dev/null >/dev/null 2>&1 || need+=(libclang-rt-dev)
command -v python3 >/dev/null || need+=(python3)
# The CUDA backend is built whenever nvcc is found (Makefile): nvcc's host compiler and the
# cuDNN attention file (C++) then need g++.
have_nvcc=0
{ command -v nvcc >/dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; } && have_nvcc=1
[ $have_nvcc = 1 ] && { command -v g++ >/dev/null || need+=(g++); }
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "deps: installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
            echo "deps: apt-get install failed" >&2; exit 1; }
    else
        echo "deps: missing ${need[*]}: install them (e.g. sudo apt-get install ${need[*]}, or sudo make deps)" >&2
        exit 1
    fi
fi
if ! python3 -c 'import tokenizers' >/dev/null 2>&1; then
    echo "deps: pip install tokenizers (reference tokenizer for tests and benchmarks)"
    python3 -m pip install -q tokenizers 2>/dev/null || python3 -m pip install -q --break-system-packages tokenizers || \
        echo "deps: could not install the Python package tokenizers; the tokenizer comparison tests will fail" >&2
fi
if ! python3 -c 'import numpy, safetensors' >/dev/null 2>&1; then
    echo "deps: pip install numpy safetensors (the independent forward over exported models, tests/interop)"
    python3 -m pip install -q numpy safetensors 2>/dev/null || python3 -m pip install -q --break-system-packages numpy safetensors || \
        echo "deps: could not install numpy and safetensors; tests/interop/test_interop.sh will fail" >&2
fi
# cuDNN's header-only C++ frontend: the Makefile looks for include/cudnn_frontend.h in python3's
# site-packages (CUDNN_FRONTEND_INC) and builds cuDNN attention only where it finds it.
has_frontend() {
    python3 -c "import site,os,sys; sys.exit(not any(os.path.exists(os.path.join(p,'include','cudnn_frontend.h')) for p in site.getsitepackages()))" 2>/dev/null
}
if [ $have_nvcc = 1 ] && ! has_frontend; then
    echo "deps: pip install nvidia-cudnn-frontend (headers for cuDNN attention in the CUDA backend)"
    python3 -m pip install -q nvidia-cudnn-frontend 2>/dev/null || python3 -m pip install -q --break-system-packages nvidia-cudnn-frontend
    has_frontend || echo "deps: cudnn_frontend.h is not in python3's site-packages: the CUDA backend will be built" \
        "without cuDNN attention (berry's own kernels); set CUDNN_FRONTEND_INC to use headers installed elsewhere" >&2
fi
exit 0
