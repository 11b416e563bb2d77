#!/usr/bin/env bash
# Installs the CUDA 11.8 compiler and headers from Debian non-free into a
# prefix without installing the packages (their dependencies pull in the
# NVIDIA driver stack, which a machine without a GPU does not need).
# What -tags cuda needs on a CPU machine: cuda.h and the libcuda stub for cgo,
# nvcc/cicc/ptxas/libdevice for `go generate ./nn/cuda` and the PTX checks.
#
#   bash scripts/cuda_toolchain.sh [PREFIX]    # default /opt/minrl-cuda
#   source <(bash scripts/cuda_toolchain.sh --env [PREFIX])
#
# Downloads ~860 MB (nvidia-cuda-dev, nvidia-cuda-toolkit); ~1 min on CI.
set -euo pipefail

print_env=0
if [ "${1:-}" = "--env" ]; then print_env=1; shift; fi
prefix=${1:-/opt/minrl-cuda}

if [ "$print_env" = 1 ]; then
	echo "export PATH=$prefix/usr/bin:\$PATH"
	echo "export CGO_CFLAGS=-I$prefix/usr/include"
	echo "export CGO_LDFLAGS=-L$prefix/usr/lib/x86_64-linux-gnu/stubs"
	exit 0
fi

if [ -x "$prefix/usr/bin/ptxas" ] && [ -f "$prefix/usr/include/cuda.h" ]; then
	echo "CUDA toolchain already in $prefix"
	exit 0
fi

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
# nvidia-cuda-* live in Debian's non-free component: enable it for this machine.
for f in /etc/apt/sources.list.d/debian.sources; do
	[ -f "$f" ] || continue
	grep -q 'non-free' "$f" || $sudo_cmd sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' "$f"
done
if [ -f /etc/apt/sources.list ] && grep -q '^deb .* main$' /etc/apt/sources.list; then
	$sudo_cmd sed -i 's/^\(deb .*\) main$/\1 main contrib non-free non-free-firmware/' /etc/apt/sources.list
fi
$sudo_cmd apt-get update -qq

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq nvidia-cuda-toolkit nvidia-cuda-dev 2>/dev/null)
$sudo_cmd mkdir -p "$prefix"
for deb in "$work"/*.deb; do
	# Only the compiler, the headers and the driver stub: the cuBLAS/cuFFT/...
	# libraries are 2.5 GB that nothing here uses.
	dpkg-deb --fsys-tarfile "$deb" | $sudo_cmd tar -x -C "$prefix" --wildcards \
		'./usr/bin/nvcc' './usr/bin/ptxas' './usr/bin/fatbinary' './usr/bin/cudafe++' './usr/bin/bin2c' \
		'./usr/lib/nvidia-cuda-toolkit/*' './usr/lib/cuda/*' \
		'./usr/include/*' './usr/lib/x86_64-linux-gnu/stubs/libcuda.so' 2>/dev/null || true
done
# Debian's nvcc reads /etc/nvcc.profile through a symlink; give it one that
# points into the prefix instead (nvcc looks for nvcc.profile beside itself).
bin="$prefix/usr/lib/nvidia-cuda-toolkit/bin"
# Its gcc/g++ links name gcc-11, which Debian 12 lacks: drop them so nvcc
# finds the system gcc 12 (it then needs -allow-unsupported-compiler).
$sudo_cmd rm -f "$bin/nvcc.profile" "$bin/gcc" "$bin/g++"
printf '#!/bin/sh\nexec %s/nvcc "$@"\n' "$bin" | $sudo_cmd tee "$prefix/usr/bin/nvcc" >/dev/null
$sudo_cmd tee "$bin/nvcc.profile" >/dev/null <<PROFILE
NVVMIR_LIBRARY_DIR = $prefix/usr/lib/nvidia-cuda-toolkit/libdevice
PATH += $bin:
INCLUDES += "-I$prefix/usr/include"
LIBRARIES =+ \$(_SPACE_) -L$prefix/usr/lib/x86_64-linux-gnu/stubs
PROFILE
test -x "$prefix/usr/bin/ptxas" && test -f "$prefix/usr/include/cuda.h" && test -f "$prefix/usr/lib/x86_64-linux-gnu/stubs/libcuda.so"
echo "CUDA toolchain in $prefix: $("$prefix/usr/bin/ptxas" --version | tail -1)"
