// minrl's CUDA kernels: the linear recurrence h_t = a_t*h_{t-1} + b_t and its
// gradient (plain and fused with the minGRU/minLSTM gates), the log-space
// scan, and the layers of a Decision-minRNN training step (SGEMM, LayerNorm,
// activations, dropout, embedding, masked MSE, AdamW). float32 everywhere,
// tensors row-major as in package nn ([B, T, D]: element (b, t, d) at
// (b*T+t)*D+d).
//
// Compiled to PTX by `go generate ./nn/cuda` (see gen.go for the command);
// the same source compiles as C++ against emu.h for the CPU emulator that
// runs these kernels in the tests of machines without a GPU. Hence: no warp
// shuffles, every block-wide reduction through shared memory and
// __syncthreads, one atomic (the look-back scan's ticket counter), and every
// result independent of how blocks are scheduled (reductions run in a fixed
// order: deterministic, like the CPU engine).
#ifdef MINRL_EMU
#include "emu.h"
#else
#define MINRL_DEVICE __device__ __forceinline__
#define MINRL_METHOD __device__ __forceinline__
#define MINRL_KERNEL extern "C" __global__
#define MINRL_NOINLINE __device__ __noinline__
#endif

#define GATE_CLAMP 80.0f

// ---------------------------------------------------------------------------
// Gates. A row of pre-activations holds the cell's projections side by side:
// minGRU [k | u], minLSTM [k_f | k_i | u] (package nn's layout and formulas).

enum { CELL_GRU = 0, CELL_LSTM = 1, CELL_LSTM_NONORM = 2 };

MINRL_DEVICE float exp_neg_clamped(float x) {
	return expf(-fminf(fmaxf(x, -GATE_CLAMP), GATE_CLAMP));
}

// g(u) = u + 1/2 (u >= 0), sigmoid(u) (u < 0), and g'(u).
MINRL_DEVICE void g_and_grad(float u, float *g, float *gp) {
	if (u >= 0.0f) {
		*g = u + 0.5f;
		*gp = 1.0f;
		return;
	}
	float eu = exp_neg_clamped(u);
	float s = 1.0f / (1.0f + eu);
	*g = s;
	*gp = s * (eu * s);
}

// lstm_norm gives minLSTM's f' = f/(f+i), i' = i/(f+i). Past the clamp
// the clamped sigmoids lose their ratio, so there it takes the exact form,
// in double: diff = softplus(-kf) - softplus(-ki) = log i - log f,
// f' = sigmoid(-diff), i' = sigmoid(diff) (package nn's lstmNorm).
MINRL_DEVICE double softplus_d(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }

// The rare exact path is one out-of-line function, so that its double
// math is not copied into every kernel that uses the gates.
MINRL_NOINLINE void lstm_norm_exact(float kf, float ki, float *fn, float *in) {
	double diff = softplus_d(-(double)kf) - softplus_d(-(double)ki);
	double e = exp(-fabs(diff));
	double big = 1.0 / (1.0 + e), small = e / (1.0 + e);
	*fn = (float)(diff >= 0.0 ? small : big);
	*in = (float)(diff >= 0.0 ? big : small);
}

MINRL_DEVICE void lstm_norm(float kf, float ki, float f, float i, float *fn, float *in) {
	if (!(kf < -GATE_CLAMP || ki < -GATE_CLAMP)) {
		float s = f + i;
		*fn = f / s;
		*in = i / s;
		return;
	}
	lstm_norm_exact(kf, ki, fn, in);
}

// cell_ab computes a_t, b_t of unit j from its pre-activation row.
MINRL_DEVICE void cell_ab(int cell, const float *pre, int j, int I, float *a, float *b) {
	float g, gp;
	if (cell == CELL_GRU) {
		float ek = exp_neg_clamped(pre[j]);
		float z = 1.0f / (1.0f + ek);
		g_and_grad(pre[I + j], &g, &gp);
		*a = ek * z;
		*b = z * g;
		return;
	}
	float f = 1.0f / (1.0f + exp_neg_clamped(pre[j]));
	float i = 1.0f / (1.0f + exp_neg_clamped(pre[I + j]));
	g_and_grad(pre[2 * I + j], &g, &gp);
	if (cell == CELL_LSTM_NONORM) {
		*a = f;
		*b = i * g;
		return;
	}
	float fn, in;
	lstm_norm(pre[j], pre[I + j], f, i, &fn, &in);
	*a = fn;
	*b = in * g;
}

// cell_a is a_t alone (the backward scan needs a_{t+1}).
MINRL_DEVICE float cell_a(int cell, const float *pre, int j, int I) {
	if (cell == CELL_GRU) {
		float ek = exp_neg_clamped(pre[j]);
		return ek * (1.0f / (1.0f + ek));
	}
	float f = 1.0f / (1.0f + exp_neg_clamped(pre[j]));
	if (cell == CELL_LSTM_NONORM) return f;
	float i = 1.0f / (1.0f + exp_neg_clamped(pre[I + j]));
	float fn, in;
	lstm_norm(pre[j], pre[I + j], f, i, &fn, &in);
	return fn;
}

// cell_grad turns da, db of unit j into the gradients of its pre-activations.
MINRL_DEVICE void cell_grad(int cell, const float *pre, float *dpre, int j, int I, float da, float db) {
	float g, gp;
	if (cell == CELL_GRU) {
		float ek = exp_neg_clamped(pre[j]);
		float z = 1.0f / (1.0f + ek);
		float zc = ek * z;
		g_and_grad(pre[I + j], &g, &gp);
		dpre[j] = (db * g - da) * z * zc;
		dpre[I + j] = db * z * gp;
		return;
	}
	float ef = exp_neg_clamped(pre[j]), ei = exp_neg_clamped(pre[I + j]);
	float f = 1.0f / (1.0f + ef), i = 1.0f / (1.0f + ei);
	float fc = ef * f, ic = ei * i;
	g_and_grad(pre[2 * I + j], &g, &gp);
	if (cell == CELL_LSTM_NONORM) {
		dpre[j] = da * f * fc;
		dpre[I + j] = db * g * i * ic;
		dpre[2 * I + j] = db * i * gp;
		return;
	}
	float fn, in;
	lstm_norm(pre[j], pre[I + j], f, i, &fn, &in);
	float d = (da - db * g) * fn * in;
	dpre[j] = d * fc;
	dpre[I + j] = -d * ic;
	dpre[2 * I + j] = db * in * gp;
}

// ---------------------------------------------------------------------------
// The chunked scan. T is cut into chunks of `chunk` steps; three launches:
//   1. every (chunk, sequence, channel) scans its chunk from a zero state,
//      keeping the chunk's product of a and its local final state;
//   2. every (sequence, channel) runs the short recurrence over chunks,
//      giving the state each chunk starts from (the carry);
//   3. every (chunk, sequence, channel) rescans its chunk from its carry and
//      writes h.
// The coefficients come either from arrays a, b (the plain scan) or from a
// row of gate pre-activations (fused: a and b are never stored). A step with
// keep 0 is the identity (a = 1, b = 0).
//
// Thread layout for passes 1 and 3: x over channels D, y over sequences and
// chunks (y = b*chunks + c).

struct Coef {
	const float *a, *b;      // plain scan
	const float *pre;        // fused: [B*T, W*D]
	const float *keep;       // [B*T] or null
	int cell;                // fused: CELL_*, or -1 for plain
	MINRL_METHOD void at(long long row, int d, int D, float *av, float *bv) const {
		if (keep != 0 && keep[row] == 0.0f) {
			*av = 1.0f;
			*bv = 0.0f;
			return;
		}
		if (cell < 0) {
			long long i = row * D + d;
			*av = a[i];
			*bv = b[i];
			return;
		}
		int W = cell == CELL_GRU ? 2 : 3;
		cell_ab(cell, pre + row * (long long)(W * D), d, D, av, bv);
	}
	MINRL_METHOD float a_at(long long row, int d, int D) const {
		if (keep != 0 && keep[row] == 0.0f) return 1.0f;
		if (cell < 0) return a[row * D + d];
		int W = cell == CELL_GRU ? 2 : 3;
		return cell_a(cell, pre + row * (long long)(W * D), d, D);
	}
};

// The four chunk loops both scan algorithms share. They run UNROLL steps at
// a time with every load of a batch issued before its arithmetic: the
// recurrence is serial, its inputs are not, so each thread keeps 2·UNROLL
// loads in flight instead of waiting for one at a time. Steps past the
// chunk's end are padded with the identity (a = 1, b = 0, dh = 0), which
// changes no result bit.
#define UNROLL 8

// load_ab loads a and b of steps t..t+UNROLL-1 (the identity past t1).
MINRL_DEVICE void load_ab(const Coef &k, long long base, int t, int t1, int d, int D, float *av, float *bv) {
#pragma unroll
	for (int j = 0; j < UNROLL; j++) {
		av[j] = 1.0f;
		bv[j] = 0.0f;
		if (t + j < t1) k.at(base + t + j, d, D, &av[j], &bv[j]);
	}
}

// chunk_fwd_local scans steps [t0, t1) of sequence bi, channel d from zero:
// *p = Π a, *h = the final state.
MINRL_DEVICE void chunk_fwd_local(const Coef &k, int bi, int d, int T, int D, int t0, int t1, float *p, float *h) {
	float pp = 1.0f, hh = 0.0f;
	long long base = (long long)bi * T;
	for (int t = t0; t < t1; t += UNROLL) {
		float av[UNROLL], bv[UNROLL];
		load_ab(k, base, t, t1, d, D, av, bv);
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			hh = av[j] * hh + bv[j];
			pp *= av[j];
		}
	}
	*p = pp;
	*h = hh;
}

// chunk_fwd_apply rescans [t0, t1) from state h and writes every h_t.
MINRL_DEVICE void chunk_fwd_apply(const Coef &k, float *hout, int bi, int d, int T, int D, int t0, int t1, float h) {
	long long base = (long long)bi * T;
	for (int t = t0; t < t1; t += UNROLL) {
		float av[UNROLL], bv[UNROLL];
		load_ab(k, base, t, t1, d, D, av, bv);
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			h = av[j] * h + bv[j];
			if (t + j < t1) hout[(base + t + j) * D + d] = h;
		}
	}
}

// chunk_bwd_local runs g_t = dh_t + a_{t+1} g_{t+1} down [t0, t1) from g = 0:
// *g = g_{t0}, *p = a_{t0+1}···a_{t1} (what a carry-in g_{t1} is scaled by).
MINRL_DEVICE void chunk_bwd_local(const Coef &k, const float *dh, int bi, int d, int T, int D, int t0, int t1, float *p, float *g) {
	float pp = 1.0f, gg = 0.0f;
	long long base = (long long)bi * T;
	for (int t = t1 - 1; t >= t0; t -= UNROLL) {
		float an[UNROLL], dv[UNROLL];
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			int s = t - j;
			an[j] = 1.0f;
			dv[j] = 0.0f;
			if (s >= t0) {
				an[j] = s + 1 < T ? k.a_at(base + s + 1, d, D) : 0.0f;
				dv[j] = dh[(base + s) * D + d];
			}
		}
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			gg = dv[j] + an[j] * gg;
			pp *= an[j];
		}
	}
	*p = pp;
	*g = gg;
}

// chunk_bwd_apply runs the same recurrence down [t0, t1) from g = g_{t1}
// and writes db = g and da = g·h_{t-1} (plain), or the gates' dpre (fused;
// zero on masked steps). It returns g_{t0}.
MINRL_DEVICE float chunk_bwd_apply(const Coef &k, float *da, float *db, float *dpre, const float *dh, const float *h, const float *h0,
		int bi, int d, int T, int D, int t0, int t1, float g) {
	long long base = (long long)bi * T;
	int W = k.cell == CELL_GRU ? 2 : 3;
	for (int t = t1 - 1; t >= t0; t -= UNROLL) {
		float an[UNROLL], dv[UNROLL], hp[UNROLL];
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			int s = t - j;
			an[j] = 1.0f;
			dv[j] = 0.0f;
			hp[j] = 0.0f;
			if (s >= t0) {
				an[j] = s + 1 < T ? k.a_at(base + s + 1, d, D) : 0.0f;
				dv[j] = dh[(base + s) * D + d];
				hp[j] = s > 0 ? h[(base + s - 1) * D + d] : (h0 != 0 ? h0[(long long)bi * D + d] : 0.0f);
			}
		}
#pragma unroll
		for (int j = 0; j < UNROLL; j++) {
			int s = t - j;
			if (s < t0) break;
			long long row = base + s;
			g = dv[j] + an[j] * g;
			if (k.cell < 0) {
				da[row * D + d] = g * hp[j];
				db[row * D + d] = g;
			} else if (k.keep != 0 && k.keep[row] == 0.0f) {
				for (int w = 0; w < W; w++) dpre[row * (long long)(W * D) + w * D + d] = 0.0f;
			} else {
				long long ro = row * (long long)(W * D);
				cell_grad(k.cell, k.pre + ro, dpre + ro, d, D, g * hp[j], g);
			}
		}
	}
	return g;
}

MINRL_DEVICE void scan_fwd_local(Coef k, float *prod, float *local, int B, int T, int D, int chunk, int chunks) {
	int d = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (d >= D || y >= B * chunks) return;
	int bi = y / chunks, c = y % chunks;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	float p, h;
	chunk_fwd_local(k, bi, d, T, D, t0, t1, &p, &h);
	long long o = ((long long)c * B + bi) * D + d;
	prod[o] = p;
	local[o] = h;
}

// carry[c] is the state chunk c starts from: carry[0] = h0, then
// carry[c+1] = prod[c]*carry[c] + local[c]. carry has chunks entries.
MINRL_KERNEL void scan_carry_fwd(float *carry, const float *prod, const float *local, const float *h0, int B, int D, int chunks) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * D) return;
	float h = h0 != 0 ? h0[i] : 0.0f;
	for (int c = 0; c < chunks; c++) {
		long long o = (long long)c * B * D + i;
		carry[o] = h;
		h = prod[o] * h + local[o];
	}
}

MINRL_DEVICE void scan_fwd_apply(Coef k, float *hout, const float *carry, int B, int T, int D, int chunk, int chunks) {
	int d = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (d >= D || y >= B * chunks) return;
	int bi = y / chunks, c = y % chunks;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	chunk_fwd_apply(k, hout, bi, d, T, D, t0, t1, carry[((long long)c * B + bi) * D + d]);
}

MINRL_KERNEL void scan_fwd_local_plain(float *prod, float *local, const float *a, const float *b, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, b, 0, 0, -1};
	scan_fwd_local(k, prod, local, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_fwd_apply_plain(float *h, const float *carry, const float *a, const float *b, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, b, 0, 0, -1};
	scan_fwd_apply(k, h, carry, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_fwd_local_gates(float *prod, float *local, const float *pre, const float *keep, int cell, int B, int T, int D, int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_fwd_local(k, prod, local, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_fwd_apply_gates(float *h, const float *carry, const float *pre, const float *keep, int cell, int B, int T, int D, int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_fwd_apply(k, h, carry, B, T, D, chunk, chunks);
}

// Backward: with g_t = dL/dh_t in full (direct gradient plus what flows back
// from later steps), g_t = dh_t + a_{t+1} g_{t+1}, db_t = g_t,
// da_t = g_t h_{t-1}, dh0 = a_0 g_0. It is the same chunked scan run from the
// end: chunk c's local pass starts from g = 0 after its last step, and its
// carry is the g of the step after it (times a of that step).

MINRL_DEVICE void scan_bwd_local(Coef k, float *prod, float *local, const float *dh, int B, int T, int D, int chunk, int chunks) {
	int d = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (d >= D || y >= B * chunks) return;
	int bi = y / chunks, c = y % chunks;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	float p, g;
	chunk_bwd_local(k, dh, bi, d, T, D, t0, t1, &p, &g);
	long long o = ((long long)c * B + bi) * D + d;
	prod[o] = p;
	local[o] = g;
}

// carry[c] is g at the first step after chunk c (0 after the last chunk):
// carry[chunks-1] = 0, carry[c-1] = prod[c]*carry[c] + local[c]... expressed
// as g_{t0(c)} = local[c] + prod[c]*carry[c]. dh0 (if not null) gets a_0 g_0,
// computed by the apply pass; here only the carries.
MINRL_KERNEL void scan_carry_bwd(float *carry, const float *prod, const float *local, int B, int D, int chunks) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * D) return;
	float g = 0.0f;
	for (int c = chunks - 1; c >= 0; c--) {
		long long o = (long long)c * B * D + i;
		carry[o] = g;
		g = local[o] + prod[o] * g;
	}
}

// The apply pass writes db (= g) and da (= g h_{t-1}) for the plain scan, or
// the gates' dpre for the fused one; the chunk holding t = 0 writes dh0.
MINRL_DEVICE void scan_bwd_apply(Coef k, const float *carry, float *da, float *db, float *dpre, float *dh0, const float *dh,
		const float *h, const float *h0, int B, int T, int D, int chunk, int chunks) {
	int d = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (d >= D || y >= B * chunks) return;
	int bi = y / chunks, c = y % chunks;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	float g = chunk_bwd_apply(k, da, db, dpre, dh, h, h0, bi, d, T, D, t0, t1, carry[((long long)c * B + bi) * D + d]);
	if (t0 == 0 && dh0 != 0) dh0[(long long)bi * D + d] = k.a_at((long long)bi * T, d, D) * g;
}

MINRL_KERNEL void scan_bwd_local_plain(float *prod, float *local, const float *dh, const float *a, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, 0, 0, 0, -1};
	scan_bwd_local(k, prod, local, dh, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_bwd_apply_plain(float *da, float *db, float *dh0, const float *carry, const float *dh, const float *a, const float *h, const float *h0, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, 0, 0, 0, -1};
	scan_bwd_apply(k, carry, da, db, 0, dh0, dh, h, h0, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_bwd_local_gates(float *prod, float *local, const float *dh, const float *pre, const float *keep, int cell, int B, int T, int D, int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_bwd_local(k, prod, local, dh, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_bwd_apply_gates(float *dpre, float *dh0, const float *carry, const float *dh, const float *pre, const float *keep, int cell, const float *h, const float *h0, int B, int T, int D, int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_bwd_apply(k, carry, 0, 0, dpre, dh0, dh, h, h0, B, T, D, chunk, chunks);
}

// ---------------------------------------------------------------------------
// The single-pass chunked scan with decoupled look-back (as CUB's scans):
// each block takes a ticket from a counter, so chunks are handed out in time
// order; a block scans its chunk from zero (P = Π a, S = local state), waits
// for the state its predecessor publishes, publishes its own (P·prev + S),
// and rescans the chunk from prev, writing h. The rescan reads data the
// block has just read (from L2), so a and b cross the memory bus about once.
// A predecessor always holds an earlier ticket, so it is running or done:
// the wait ends. Flags carry the launch's epoch, so they never need
// clearing; a wait that outlasts any real one traps (a launch error, never
// a hang). Blocks are 1-D over channels: grid.x = tickets.

#define LOOKBACK_SPIN_LIMIT (1 << 28)

struct Ticket {
	int bi, c, d, valid;
};

// ticket maps the block's ticket to (sequence, chunk, channel) in forward
// (rev = 0) or reverse time order.
MINRL_DEVICE Ticket take_ticket(unsigned int *counter, int B, int D, int chunks, int rev) {
	__shared__ unsigned int t;
	if (threadIdx.x == 0) t = atomicAdd(counter, 1u);
	__syncthreads();
	unsigned int tk = t;
	__syncthreads();
	int dtiles = (D + blockDim.x - 1) / blockDim.x;
	int per = B * dtiles;
	Ticket r;
	r.c = (int)(tk / per);
	if (rev) r.c = chunks - 1 - r.c;
	int rest = (int)(tk % per);
	r.bi = rest / dtiles;
	r.d = (rest % dtiles) * blockDim.x + threadIdx.x;
	r.valid = r.d < D;
	return r;
}

MINRL_DEVICE float wait_prefix(const volatile float *val, const volatile unsigned int *flag, long long o, unsigned int epoch) {
	long long spins = 0;
	while (flag[o] != epoch) {
		if (++spins > LOOKBACK_SPIN_LIMIT) __trap();
	}
	__threadfence();
	return val[o];
}

MINRL_DEVICE void publish(volatile float *val, volatile unsigned int *flag, long long o, float v, unsigned int epoch) {
	val[o] = v;
	__threadfence();
	flag[o] = epoch;
}

MINRL_DEVICE void scan_fwd_lookback(Coef k, float *hout, const float *h0, float *val, unsigned int *flag, unsigned int *counter,
		unsigned int epoch, int B, int T, int D, int chunk, int chunks) {
	Ticket tk = take_ticket(counter, B, D, chunks, 0);
	if (!tk.valid) return;
	int bi = tk.bi, c = tk.c, d = tk.d;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	float p, h;
	chunk_fwd_local(k, bi, d, T, D, t0, t1, &p, &h);
	long long o = ((long long)c * B + bi) * D + d;
	float prev;
	if (c == 0) prev = h0 != 0 ? h0[(long long)bi * D + d] : 0.0f;
	else prev = wait_prefix(val, flag, o - (long long)B * D, epoch);
	publish(val, flag, o, p * prev + h, epoch);
	chunk_fwd_apply(k, hout, bi, d, T, D, t0, t1, prev);
}

MINRL_DEVICE void scan_bwd_lookback(Coef k, float *da, float *db, float *dpre, float *dh0, const float *dh, const float *h,
		const float *h0, float *val, unsigned int *flag, unsigned int *counter, unsigned int epoch, int B, int T, int D, int chunk, int chunks) {
	Ticket tk = take_ticket(counter, B, D, chunks, 1);
	if (!tk.valid) return;
	int bi = tk.bi, c = tk.c, d = tk.d;
	int t0 = c * chunk, t1 = min(t0 + chunk, T);
	float p, g;
	chunk_bwd_local(k, dh, bi, d, T, D, t0, t1, &p, &g);
	long long o = ((long long)c * B + bi) * D + d;
	float next = c == chunks - 1 ? 0.0f : wait_prefix(val, flag, o + (long long)B * D, epoch);
	publish(val, flag, o, g + p * next, epoch);
	g = chunk_bwd_apply(k, da, db, dpre, dh, h, h0, bi, d, T, D, t0, t1, next);
	if (t0 == 0 && dh0 != 0) dh0[(long long)bi * D + d] = k.a_at((long long)bi * T, d, D) * g;
}

MINRL_KERNEL void scan_fwd_lb_plain(float *h, const float *a, const float *b, const float *h0, float *val, unsigned int *flag,
		unsigned int *counter, unsigned int epoch, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, b, 0, 0, -1};
	scan_fwd_lookback(k, h, h0, val, flag, counter, epoch, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_fwd_lb_gates(float *h, const float *pre, const float *keep, int cell, const float *h0, float *val,
		unsigned int *flag, unsigned int *counter, unsigned int epoch, int B, int T, int D, int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_fwd_lookback(k, h, h0, val, flag, counter, epoch, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_bwd_lb_plain(float *da, float *db, float *dh0, const float *dh, const float *a, const float *h, const float *h0,
		float *val, unsigned int *flag, unsigned int *counter, unsigned int epoch, int B, int T, int D, int chunk, int chunks) {
	Coef k = {a, 0, 0, 0, -1};
	scan_bwd_lookback(k, da, db, 0, dh0, dh, h, h0, val, flag, counter, epoch, B, T, D, chunk, chunks);
}

MINRL_KERNEL void scan_bwd_lb_gates(float *dpre, float *dh0, const float *dh, const float *pre, const float *keep, int cell,
		const float *h, const float *h0, float *val, unsigned int *flag, unsigned int *counter, unsigned int epoch, int B, int T, int D,
		int chunk, int chunks) {
	Coef k = {0, 0, pre, keep, cell};
	scan_bwd_lookback(k, 0, 0, dpre, dh0, dh, h, h0, val, flag, counter, epoch, B, T, D, chunk, chunks);
}

// ---------------------------------------------------------------------------
// Log-space scan (the paper's form, for a, b > 0): logh_t =
// logaddexp(loga_t + logh_{t-1}, logb_t), one thread per (sequence, channel),
// sequential over T. An option and an oracle; the linear form is the fast path.

MINRL_DEVICE float logaddexpf(float x, float y) {
	float m = fmaxf(x, y);
	if (m == -INFINITY) return -INFINITY;
	return m + log1pf(expf(-fabsf(x - y)));
}

MINRL_KERNEL void log_scan_fwd(float *logh, const float *loga, const float *logb, const float *logh0, int B, int T, int D) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * D) return;
	int bi = i / D, d = i % D;
	float l = logh0 != 0 ? logh0[i] : -INFINITY;
	for (int t = 0; t < T; t++) {
		long long o = ((long long)bi * T + t) * D + d;
		l = logaddexpf(loga[o] + l, logb[o]);
		logh[o] = l;
	}
}

// With w_t = exp(loga_t + logh_{t-1} − logh_t) and u_t = exp(logb_t − logh_t)
// (the shares of the two terms in h_t): g_t = dlogh_t + w_{t+1} g_{t+1},
// dloga_t = g_t w_t, dlogb_t = g_t u_t, dlogh0 = w_0 g_0.
MINRL_KERNEL void log_scan_bwd(float *dloga, float *dlogb, float *dlogh0, const float *dlogh, const float *loga, const float *logb,
		const float *logh, const float *logh0, int B, int T, int D) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * D) return;
	int bi = i / D, d = i % D;
	float g = 0.0f, wnext = 0.0f;
	for (int t = T - 1; t >= 0; t--) {
		long long o = ((long long)bi * T + t) * D + d;
		float prev = t > 0 ? logh[o - D] : (logh0 != 0 ? logh0[i] : -INFINITY);
		g = dlogh[o] + wnext * g;
		float w = prev == -INFINITY ? 0.0f : expf(loga[o] + prev - logh[o]);
		float u = expf(logb[o] - logh[o]);
		dloga[o] = g * w;
		dlogb[o] = g * u;
		wnext = w;
	}
	if (dlogh0 != 0) dlogh0[i] = wnext * g;
}

// ---------------------------------------------------------------------------
// SGEMM, row-major: C = alpha*op(A)*op(B) + beta*C, op(A) m×k, op(B) k×n.
// 64×64 tiles of C per block of 16×16 threads, 4×4 outputs per thread,
// k in steps of 16 through shared memory. beta == 0 does not read C.

#define TM 64
#define TN 64
#define TK 16

// k runs over [kbeg, kend): a split-K launch gives each blockIdx.z its own
// range and its own output (see sgemm_*_split).
template <bool TA, bool TB>
MINRL_DEVICE void sgemm_tile(int m, int n, int kbeg, int kend, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
	int k = kend;
	__shared__ float As[TK][TM + 4];
	__shared__ float Bs[TK][TN + 4];
	int tx = threadIdx.x, ty = threadIdx.y; // 16×16
	int tid = ty * 16 + tx;
	// Row tiles on x (up to 2^31 blocks), column tiles on y (≤ 65535).
	int row0 = blockIdx.x * TM, col0 = blockIdx.y * TN;
	float acc[4][4];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
	for (int k0 = kbeg; k0 < k; k0 += TK) {
		// 256 threads load 64×16 of op(A) and 16×64 of op(B), 4 each.
		for (int l = 0; l < 4; l++) {
			int e = tid + l * 256;
			// op(A)[r][kk], r in [0,64), kk in [0,16)
			int r, kk;
			if (TA) { r = e % TM; kk = e / TM; } else { kk = e % TK; r = e / TK; }
			int gr = row0 + r, gk = k0 + kk;
			float v = 0.0f;
			if (gr < m && gk < k) v = TA ? A[(long long)gk * lda + gr] : A[(long long)gr * lda + gk];
			As[kk][r] = v;
			// op(B)[kk][c]
			int c;
			if (TB) { kk = e % TK; c = e / TK; } else { c = e % TN; kk = e / TN; }
			int gc = col0 + c;
			gk = k0 + kk;
			v = 0.0f;
			if (gc < n && gk < k) v = TB ? B[(long long)gc * ldb + gk] : B[(long long)gk * ldb + gc];
			Bs[kk][c] = v;
		}
		__syncthreads();
		for (int kk = 0; kk < TK; kk++) {
			float a[4], b[4];
			for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
			for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
		}
		__syncthreads();
	}
	for (int i = 0; i < 4; i++) {
		int r = row0 + ty + 16 * i;
		if (r >= m) continue;
		for (int j = 0; j < 4; j++) {
			int c = col0 + tx + 16 * j;
			if (c >= n) continue;
			float *p = C + (long long)r * ldc + c;
			*p = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *p;
		}
	}
}

MINRL_KERNEL void sgemm_nn(int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm_tile<false, false>(m, n, 0, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
MINRL_KERNEL void sgemm_nt(int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm_tile<false, true>(m, n, 0, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
MINRL_KERNEL void sgemm_tn(int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
	sgemm_tile<true, false>(m, n, 0, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Split K: when C has few tiles and k is long (a weight gradient summed
// over B·T rows), blockIdx.z takes k range [z·kchunk, (z+1)·kchunk) and
// writes its partial product to P[z] (m×n, dense); splitk_reduce then adds
// the partials in z order: the same result whatever the scheduling.
#define SPLIT_KERNEL(name, TA, TB) \
MINRL_KERNEL void name(int m, int n, int k, int kchunk, const float *A, int lda, const float *B, int ldb, float *P) { \
	int z = blockIdx.z; \
	int kb = z * kchunk, ke = min(k, kb + kchunk); \
	sgemm_tile<TA, TB>(m, n, kb, ke, 1.0f, A, lda, B, ldb, 0.0f, P + (long long)z * m * n, n); \
}
SPLIT_KERNEL(sgemm_nn_split, false, false)
SPLIT_KERNEL(sgemm_nt_split, false, true)
SPLIT_KERNEL(sgemm_tn_split, true, false)

MINRL_KERNEL void splitk_reduce(float *C, int ldc, const float *P, int splits, int m, int n, float alpha, float beta) {
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (long long)m * n) return;
	long long mn = (long long)m * n;
	float s = 0.0f;
	for (int z = 0; z < splits; z++) s += P[z * mn + i];
	float *c = C + (i / n) * ldc + i % n;
	*c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
}

// ---------------------------------------------------------------------------
// Reductions over rows, in a fixed order: partial sums over chunks of rows
// (one thread per (chunk, column), in double), then the chunks in order.

MINRL_KERNEL void colsum_partial(double *part, const float *src, const float *mul, int rows, int cols, int chunkRows) {
	int col = blockIdx.x * blockDim.x + threadIdx.x;
	int c = blockIdx.y;
	if (col >= cols) return;
	int r0 = c * chunkRows, r1 = min(r0 + chunkRows, rows);
	double s = 0.0;
	for (int r = r0; r < r1; r++) {
		long long o = (long long)r * cols + col;
		s += mul != 0 ? (double)src[o] * (double)mul[o] : (double)src[o];
	}
	part[(long long)c * cols + col] = s;
}

// dst[col] += Σ_c part[c][col] (dst = when !accumulate).
MINRL_KERNEL void colsum_finish(float *dst, const double *part, int chunks, int cols, int accumulate) {
	int col = blockIdx.x * blockDim.x + threadIdx.x;
	if (col >= cols) return;
	double s = 0.0;
	for (int c = 0; c < chunks; c++) s += part[(long long)c * cols + col];
	dst[col] = accumulate ? (float)((double)dst[col] + s) : (float)s;
}

// Sum of squares of x in chunks of `chunk` elements: part[c] (double).
// One block per chunk; blockDim.x must be 256.
MINRL_KERNEL void sumsq_partial(double *part, const float *x, long long n, int chunk) {
	__shared__ double s[256];
	long long c = blockIdx.x;
	long long i0 = c * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
	double acc = 0.0;
	for (long long i = i0 + threadIdx.x; i < i1; i += 256) acc += (double)x[i] * (double)x[i];
	s[threadIdx.x] = acc;
	__syncthreads();
	for (int w = 128; w > 0; w >>= 1) {
		if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0) part[c] = s[0];
}

// ---------------------------------------------------------------------------
// Elementwise and row kernels. n counts elements; one thread each.

#define ELEM_INDEX long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;

MINRL_KERNEL void fill_rows_bias(float *y, const float *bias, long long n, int cols) {
	ELEM_INDEX
	y[i] = bias[i % cols];
}

MINRL_KERNEL void add2(float *dst, const float *a, const float *b, long long n) {
	ELEM_INDEX
	dst[i] = a[i] + b[i];
}

enum { ACT_RELU = 0, ACT_TANH = 1, ACT_GELU = 2 };
#define GELU_C 0.7978845608028654f
#define GELU_A 0.044715f

MINRL_KERNEL void act_fwd(float *y, const float *x, int kind, long long n) {
	ELEM_INDEX
	float v = x[i];
	if (kind == ACT_RELU) y[i] = fmaxf(v, 0.0f);
	else if (kind == ACT_TANH) y[i] = tanhf(v);
	else {
		float u = (v * v * GELU_A + 1.0f) * v * GELU_C;
		y[i] = (tanhf(u) + 1.0f) * v * 0.5f;
	}
}

// dx from dy and the forward's input x (relu, gelu) or output y (tanh).
MINRL_KERNEL void act_bwd(float *dx, const float *dy, const float *x, const float *y, int kind, long long n) {
	ELEM_INDEX
	if (kind == ACT_RELU) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
	else if (kind == ACT_TANH) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
	else {
		float v = x[i];
		float t = tanhf((v * v * GELU_A + 1.0f) * v * GELU_C);
		float w = (v * v * (3.0f * GELU_A) + 1.0f) * v * (0.5f * GELU_C);
		dx[i] = dy[i] * ((1.0f - t * t) * w + 0.5f * (1.0f + t));
	}
}

// Dropout with package nn's counter-based mask: keep element i iff
// splitmix64-style hash(key, i) >> 11 >= thresh. The same masks as the CPU.
MINRL_DEVICE unsigned long long drop_mix(unsigned long long z) {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

MINRL_KERNEL void dropout(float *y, const float *x, unsigned long long key, unsigned long long thresh, float scale, long long n) {
	ELEM_INDEX
	unsigned long long h = drop_mix(key + ((unsigned long long)i + 1ULL) * 0x9e3779b97f4a7c15ULL);
	y[i] = (h >> 11) >= thresh ? x[i] * scale : 0.0f;
}

// LayerNorm over rows of width d: one block per row, blockDim.x = 128.
// Statistics in double as package nn; mean and rstd saved for backward.
MINRL_DEVICE double block_sum128(double v, double *s) {
	int t = threadIdx.x;
	s[t] = v;
	__syncthreads();
	for (int w = 64; w > 0; w >>= 1) {
		if (t < w) s[t] += s[t + w];
		__syncthreads();
	}
	double r = s[0];
	__syncthreads();
	return r;
}

MINRL_KERNEL void layernorm_fwd(float *y, double *mean, double *rstd, const float *x, const float *G, const float *Bv, int d, double eps) {
	__shared__ double s[128];
	long long r = blockIdx.x;
	const float *xr = x + r * d;
	double acc = 0.0;
	for (int i = threadIdx.x; i < d; i += 128) acc += (double)xr[i];
	double mu = block_sum128(acc, s) / d;
	acc = 0.0;
	for (int i = threadIdx.x; i < d; i += 128) {
		double dv = (double)xr[i] - mu;
		acc += dv * dv;
	}
	double rs = 1.0 / sqrt(block_sum128(acc, s) / d + eps);
	for (int i = threadIdx.x; i < d; i += 128)
		y[r * d + i] = (float)(((double)xr[i] - mu) * rs * (double)G[i] + (double)Bv[i]);
	if (threadIdx.x == 0) {
		mean[r] = mu;
		rstd[r] = rs;
	}
}

// dx, and xhat (for dG = colsum(dy*xhat), dB = colsum(dy) afterwards).
MINRL_KERNEL void layernorm_bwd(float *dx, float *xhat, const float *dy, const float *x, const double *mean, const double *rstd, const float *G, int d) {
	__shared__ double s[128];
	long long r = blockIdx.x;
	double mu = mean[r], rs = rstd[r];
	double s1 = 0.0, s2 = 0.0;
	for (int i = threadIdx.x; i < d; i += 128) {
		double xh = ((double)x[r * d + i] - mu) * rs;
		double gd = (double)dy[r * d + i] * (double)G[i];
		s1 += gd;
		s2 += gd * xh;
	}
	s1 = block_sum128(s1, s) / d;
	s2 = block_sum128(s2, s) / d;
	for (int i = threadIdx.x; i < d; i += 128) {
		double xh = ((double)x[r * d + i] - mu) * rs;
		dx[r * d + i] = (float)(rs * ((double)dy[r * d + i] * (double)G[i] - s1 - xh * s2));
		xhat[r * d + i] = (float)xh;
	}
}

// ---------------------------------------------------------------------------
// Decision model plumbing. Steps i in [0, B*K), width h.

// x0[3i+j] = e_j[i] + E[t_i] for the three token embeddings; E gathered by idx.
MINRL_KERNEL void tokens_stack(float *x0, const float *eR, const float *eS, const float *eA, const float *E, const int *idx, int steps, int h) {
	long long n = (long long)steps * h;
	ELEM_INDEX
	long long st = i / h;
	int c = i % h;
	float et = E[(long long)idx[st] * h + c];
	x0[(3 * st) * h + c] = eR[i] + et;
	x0[(3 * st + 1) * h + c] = eS[i] + et;
	x0[(3 * st + 2) * h + c] = eA[i] + et;
}

// The inverse: dR, dS, dA get the token gradients; dT their sum.
MINRL_KERNEL void tokens_unstack(float *dR, float *dS, float *dA, float *dT, const float *dx0, int steps, int h) {
	long long n = (long long)steps * h;
	ELEM_INDEX
	long long st = i / h;
	int c = i % h;
	float r = dx0[(3 * st) * h + c], s = dx0[(3 * st + 1) * h + c], a = dx0[(3 * st + 2) * h + c];
	dR[i] = r;
	dS[i] = s;
	dA[i] = a;
	dT[i] = r + s + a;
}

// hs[i] = y[3i+1] (the state tokens' outputs), and the transpose for dy.
MINRL_KERNEL void state_tokens_gather(float *hs, const float *y, int steps, int h) {
	long long n = (long long)steps * h;
	ELEM_INDEX
	hs[i] = y[(3 * (i / h) + 1) * h + i % h];
}

MINRL_KERNEL void state_tokens_scatter(float *dy, const float *dhs, int steps, int h) {
	long long n = (long long)steps * 3 * h;
	ELEM_INDEX
	long long tok = i / h;
	dy[i] = tok % 3 == 1 ? dhs[(tok / 3) * h + i % h] : 0.0f;
}

// Embedding backward, deterministic: positions are grouped by index on the
// host (a counting sort, as package nn); segment s covers order[start[s] ..
// start[s+1]) and belongs to row rows[s]. One thread per (segment, column)
// sums its positions in order, in double, and adds to dW.
MINRL_KERNEL void embedding_bwd(float *dW, const float *dy, const int *order, const int *start, const int *rows, int segs, int h) {
	long long n = (long long)segs * h;
	ELEM_INDEX
	int s = i / h, c = i % h;
	double acc = 0.0;
	for (int p = start[s]; p < start[s + 1]; p++) acc += (double)dy[(long long)order[p] * h + c];
	float *w = dW + (long long)rows[s] * h + c;
	*w = (float)((double)*w + acc);
}

// Masked MSE: rowsq[i] = Σ_j (pred − act)² over real steps (0 for padded),
// dpred = 2·inv·(pred − act) on real steps, 0 on padded ones.
MINRL_KERNEL void masked_mse(float *dpred, double *rowsq, const float *pred, const float *act, const float *mask, int steps, int A, double inv) {
	long long n = steps;
	ELEM_INDEX
	double s = 0.0;
	for (int j = 0; j < A; j++) {
		long long o = i * A + j;
		if (mask[i] == 0.0f) {
			dpred[o] = 0.0f;
			continue;
		}
		double e = (double)pred[o] - (double)act[o];
		s += e * e;
		dpred[o] = (float)(2.0 * inv * e);
	}
	rowsq[i] = s;
}

// AdamW (PyTorch's update, package nn's arithmetic) over the flat parameter
// vector, with the gradient clip's scale applied first: g = grad·clip.
// decay[i] is 1 for parameters without weight decay.
MINRL_KERNEL void adamw(float *w, float *m, float *v, float *grad, const unsigned char *nodecay, float clip,
		float decay, float stepSize, float bc2Sqrt, float eps, float w1, float b2, float w2, long long n) {
	ELEM_INDEX
	float g = grad[i] * clip;
	grad[i] = g;
	float mk = m[i] + w1 * (g - m[i]);
	float vk = v[i] * b2 + w2 * g * g;
	m[i] = mk;
	v[i] = vk;
	float denom = sqrtf(vk) / bc2Sqrt + eps;
	float dk = nodecay[i] ? 1.0f : decay;
	w[i] = w[i] * dk - stepSize * (mk / denom);
}
