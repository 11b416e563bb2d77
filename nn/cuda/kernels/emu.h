// emu.h lets minrl.cu compile as C++ for the CPU emulator (emu.cc): CUDA's
// built-in indices become per-thread globals that the emulator sets before
// it runs each CUDA thread, __shared__ becomes a static the threads of a
// block share, and __syncthreads switches between the block's threads
// (ucontext fibers), so kernels with barriers run as they would on a GPU.
#include <math.h>
#include <cmath>
#include <algorithm>

struct dim3 {
	unsigned x, y, z;
};

extern thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
void emu_syncthreads();

#define __global__
// Kernels get internal linkage in the emulator: their names (sgemm_nn, ...)
// are also OpenBLAS's exported symbols, and an exported definition here
// would interpose on OpenBLAS's own calls in a binary that links both.
#define MINRL_KERNEL static
#define MINRL_NOINLINE static
#define __syncthreads() emu_syncthreads()
#define __shared__ static thread_local
#define MINRL_DEVICE static inline

// The emulator runs one block at a time, in order: atomics are plain, and a
// look-back wait finds its predecessor done.
static inline unsigned int atomicAdd(unsigned int *p, unsigned int v) {
	unsigned int old = *p;
	*p += v;
	return old;
}
static inline void __threadfence() {}
[[noreturn]] void emu_trap();
#define __trap() emu_trap()
#define MINRL_METHOD inline

static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
