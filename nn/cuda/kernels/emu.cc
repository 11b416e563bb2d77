//go:build cgo

// The CPU emulator of minrl.cu's kernels: runs a launch's blocks one after
// another and, within a block, every CUDA thread in turn. Kernels that use
// __syncthreads run their threads as ucontext fibers that switch at each
// barrier; the others run as plain calls. Slow, exact, and enough to run
// every kernel and the code that drives them on a machine without a GPU.
#define MINRL_EMU 1
#include "minrl.cu"

#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utility>
#include <vector>

thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

void emu_trap() {
	fprintf(stderr, "emulator: kernel trapped (a look-back wait that cannot end)\n");
	abort();
}

namespace {

const size_t kStack = 64 << 10;

struct Fibers {
	ucontext_t sched;
	std::vector<ucontext_t> ctx;
	std::vector<char> stacks;
	std::vector<char> done;
	int cur = -1;          // fiber running, -1 outside fiber mode
	void (*body)(void **) = nullptr;
	void **args = nullptr;
	const char *name = "";
	bool misuse = false;   // __syncthreads outside fiber mode
};
thread_local Fibers fib;

template <typename... A, size_t... I>
void call(void (*f)(A...), void **a, std::index_sequence<I...>) {
	f(*static_cast<typename std::decay<A>::type *>(a[I])...);
}
template <typename... A>
void call(void (*f)(A...), void **a) { call(f, a, std::index_sequence_for<A...>{}); }

struct Kernel {
	const char *name;
	bool sync; // uses __syncthreads
	void (*run)(void **);
};

#define PLAIN(k) {#k, false, [](void **a) { call(k, a); }}
#define SYNC(k) {#k, true, [](void **a) { call(k, a); }}

const Kernel kernels[] = {
	PLAIN(scan_fwd_local_plain), PLAIN(scan_fwd_apply_plain), PLAIN(scan_carry_fwd),
	PLAIN(scan_fwd_local_gates), PLAIN(scan_fwd_apply_gates),
	PLAIN(scan_bwd_local_plain), PLAIN(scan_bwd_apply_plain), PLAIN(scan_carry_bwd),
	PLAIN(scan_bwd_local_gates), PLAIN(scan_bwd_apply_gates),
	PLAIN(log_scan_fwd), PLAIN(log_scan_bwd),
	SYNC(scan_fwd_lb_plain), SYNC(scan_fwd_lb_gates), SYNC(scan_bwd_lb_plain), SYNC(scan_bwd_lb_gates),
	SYNC(sgemm_nn), SYNC(sgemm_nt), SYNC(sgemm_tn),
	SYNC(sgemm_nn_split), SYNC(sgemm_nt_split), SYNC(sgemm_tn_split), PLAIN(splitk_reduce),
	PLAIN(colsum_partial), PLAIN(colsum_finish), SYNC(sumsq_partial),
	PLAIN(fill_rows_bias), PLAIN(add2),
	PLAIN(act_fwd), PLAIN(act_bwd), PLAIN(dropout),
	SYNC(layernorm_fwd), SYNC(layernorm_bwd),
	PLAIN(tokens_stack), PLAIN(tokens_unstack), PLAIN(state_tokens_gather), PLAIN(state_tokens_scatter),
	PLAIN(embedding_bwd), PLAIN(masked_mse), PLAIN(adamw),
};

void fiber_main() {
	fib.body(fib.args);
	fib.done[fib.cur] = 1;
	// returning resumes uc_link: the scheduler
}

void set_thread(unsigned t) {
	threadIdx.x = t % blockDim.x;
	threadIdx.y = (t / blockDim.x) % blockDim.y;
	threadIdx.z = t / (blockDim.x * blockDim.y);
}

void run_block_fibers(unsigned nthreads) {
	fib.ctx.resize(nthreads);
	fib.done.assign(nthreads, 0);
	if (fib.stacks.size() < nthreads * kStack) fib.stacks.resize(nthreads * kStack);
	for (unsigned t = 0; t < nthreads; t++) {
		getcontext(&fib.ctx[t]);
		fib.ctx[t].uc_stack.ss_sp = fib.stacks.data() + t * kStack;
		fib.ctx[t].uc_stack.ss_size = kStack;
		fib.ctx[t].uc_link = &fib.sched;
		makecontext(&fib.ctx[t], fiber_main, 0);
	}
	// Each round runs every live thread up to its next barrier (or its end).
	for (;;) {
		bool live = false;
		for (unsigned t = 0; t < nthreads; t++) {
			if (fib.done[t]) continue;
			live = true;
			fib.cur = t;
			set_thread(t);
			swapcontext(&fib.sched, &fib.ctx[t]);
		}
		if (!live) break;
	}
	fib.cur = -1;
}

} // namespace

void emu_syncthreads() {
	if (fib.cur < 0) {
		fib.misuse = true;
		return;
	}
	swapcontext(&fib.ctx[fib.cur], &fib.sched);
}

extern "C" int minrl_emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned long long *slots, int nargs, char *err, int errlen) {
	const Kernel *k = nullptr;
	for (const Kernel &c : kernels)
		if (strcmp(c.name, name) == 0) k = &c;
	if (k == nullptr) {
		snprintf(err, errlen, "emulator: no kernel %s", name);
		return 1;
	}
	unsigned nthreads = bx * by * bz;
	if (nthreads == 0 || nthreads > 1024 || gx == 0 || gy == 0 || gz == 0) {
		snprintf(err, errlen, "emulator: %s: invalid launch grid (%u,%u,%u) block (%u,%u,%u)", name, gx, gy, gz, bx, by, bz);
		return 1;
	}
	std::vector<void *> args(nargs);
	for (int i = 0; i < nargs; i++) args[i] = &slots[i];
	gridDim = {gx, gy, gz};
	blockDim = {bx, by, bz};
	fib.misuse = false;
	fib.name = name;
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				blockIdx = {x, y, z};
				if (k->sync) {
					fib.body = k->run;
					fib.args = args.data();
					run_block_fibers(nthreads);
					continue;
				}
				for (unsigned t = 0; t < nthreads; t++) {
					set_thread(t);
					k->run(args.data());
				}
			}
	if (fib.misuse) {
		snprintf(err, errlen, "emulator: %s calls __syncthreads but is registered without SYNC", name);
		return 1;
	}
	return 0;
}
