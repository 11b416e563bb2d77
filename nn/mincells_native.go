//go:build openblas

package nn

/*
#cgo CFLAGS: -O3 -std=gnu11
#cgo LDFLAGS: -lm
#include <math.h>
#include <stdint.h>
#include <string.h>

// Vectorised linear-space gate kernels for minGRU and minLSTM. They compute
// exactly the formulas of mincells.go (see there) over whole row ranges, so
// one cgo call covers thousands of elements. Functions carry
// target("avx2,fma") clones chosen at load time, so the binary still runs on
// CPUs without AVX2. The loops have no branches, so gcc vectorises them;
// NaN propagates (comparisons with NaN are false, so clamping keeps it).

// Clamps and selects must become blends for gcc to vectorise; it will
// only do so when FP operations are assumed not to trap.
#pragma GCC optimize("no-trapping-math")

#define CLAMP 80.0f
#define MULTI __attribute__((target_clones("avx2", "default")))

// expneg returns exp(-clamp(x, ±80)) to about 1 ulp (Cephes expf).
static inline __attribute__((always_inline)) float expneg(float x) {
	x = x > CLAMP ? CLAMP : x;
	x = x < -CLAMP ? -CLAMP : x;
	x = -x;
	float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
	float r = x - n * 0.693359375f;
	r = r + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * r * r + r + 1.0f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return y * scale;
}

MULTI static void mingru_fwd(const float *pre, float *a, float *b, long rows, long I) {
	for (long r = 0; r < rows; r++) {
		const float *k = pre + r * 2 * I, *u = k + I;
		float *ar = a + r * I, *br = b + r * I;
		for (long j = 0; j < I; j++) {
			float ek = expneg(k[j]), eu = expneg(u[j]);
			float z = 1.0f / (1.0f + ek);
			float su = 1.0f / (1.0f + eu);
			float g = u[j] >= 0.0f ? u[j] + 0.5f : su;
			ar[j] = ek * z;
			br[j] = z * g;
		}
	}
}

MULTI static void mingru_bwd(const float *pre, const float *da, const float *db, float *dpre, long rows, long I) {
	for (long r = 0; r < rows; r++) {
		const float *k = pre + r * 2 * I, *u = k + I;
		const float *dar = da + r * I, *dbr = db + r * I;
		float *dk = dpre + r * 2 * I, *du = dk + I;
		for (long j = 0; j < I; j++) {
			float ek = expneg(k[j]), eu = expneg(u[j]);
			float z = 1.0f / (1.0f + ek), zc = ek * z;
			float su = 1.0f / (1.0f + eu);
			int pos = u[j] >= 0.0f;
			float g = pos ? u[j] + 0.5f : su;
			float gp = pos ? 1.0f : su * (eu * su);
			dk[j] = (dbr[j] * g - dar[j]) * z * zc;
			du[j] = dbr[j] * z * gp;
		}
	}
}

// lstm_norm_exact is f/(f+i) and i/(f+i) for gates past the clamp, where
// the clamped sigmoids lose their ratio: with diff = softplus(-kf) -
// softplus(-ki) = log i - log f, f' = sigmoid(-diff), i' = sigmoid(diff), in
// double (lstmNormExact in mincells.go). The vectorised loops compute every
// element the fast way; a scalar pass then redoes the rare ones past the
// clamp, so the loops keep no branch.
static double softplus_d(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

static void lstm_norm_exact(float kf, float ki, float *fn, float *in) {
	double diff = softplus_d(-(double)kf) - softplus_d(-(double)ki);
	double e = exp(-fabs(diff));
	double big = 1 / (1 + e), small = e / (1 + e);
	*fn = (float)(diff >= 0 ? small : big);
	*in = (float)(diff >= 0 ? big : small);
}

static inline int past_clamp(float kf, float ki) { return kf < -CLAMP || ki < -CLAMP; }

MULTI static void minlstm_fwd(const float *pre, float *a, float *b, long rows, long I, int nonorm) {
	for (long r = 0; r < rows; r++) {
		const float *kf = pre + r * 3 * I, *ki = kf + I, *u = ki + I;
		float *ar = a + r * I, *br = b + r * I;
		for (long j = 0; j < I; j++) {
			float f = 1.0f / (1.0f + expneg(kf[j]));
			float i = 1.0f / (1.0f + expneg(ki[j]));
			float su = 1.0f / (1.0f + expneg(u[j]));
			float g = u[j] >= 0.0f ? u[j] + 0.5f : su;
			float s = nonorm ? 1.0f : f + i;
			ar[j] = f / s;
			br[j] = i / s * g;
		}
		if (nonorm) continue;
		for (long j = 0; j < I; j++) {
			if (!past_clamp(kf[j], ki[j])) continue;
			float fn, in;
			lstm_norm_exact(kf[j], ki[j], &fn, &in);
			float su = 1.0f / (1.0f + expneg(u[j]));
			float g = u[j] >= 0.0f ? u[j] + 0.5f : su;
			ar[j] = fn;
			br[j] = in * g;
		}
	}
}

// LSTM_BWD_PROLOGUE opens the row and unit loops and computes what both
// backward variants need. restrict: outputs never overlap inputs, and gcc
// gives up on run-time alias checks for this many arrays, so ivdep too.
#define LSTM_BWD_PROLOGUE \
	for (long r = 0; r < rows; r++) { \
		const float *restrict kf = pre + r * 3 * I, *restrict ki = kf + I, *restrict u = ki + I; \
		const float *restrict dar = da + r * I, *restrict dbr = db + r * I; \
		float *restrict dkf = dpre + r * 3 * I, *restrict dki = dkf + I, *restrict du = dki + I; \
		_Pragma("GCC ivdep") \
		for (long j = 0; j < I; j++) { \
			float ef = expneg(kf[j]), ei = expneg(ki[j]), eu = expneg(u[j]); \
			float f = 1.0f / (1.0f + ef), i = 1.0f / (1.0f + ei); \
			float fc = ef * f, ic = ei * i; \
			float su = 1.0f / (1.0f + eu); \
			float g = u[j] >= 0.0f ? u[j] + 0.5f : su; \
			float gp = u[j] >= 0.0f ? 1.0f : su * (eu * su); \
			float daj = dar[j], dbj = dbr[j];

MULTI static void minlstm_bwd(const float *pre, const float *da, const float *db, float *dpre, long rows, long I) {
	LSTM_BWD_PROLOGUE
			float s = f + i, fn = f / s, in = i / s;
			float d = (daj - dbj * g) * fn * in;
			dkf[j] = d * fc;
			dki[j] = -d * ic;
			du[j] = dbj * in * gp;
		}
		for (long j = 0; j < I; j++) {
			if (!past_clamp(kf[j], ki[j])) continue;
			float ef = expneg(kf[j]), ei = expneg(ki[j]), eu = expneg(u[j]);
			float f = 1.0f / (1.0f + ef), i = 1.0f / (1.0f + ei);
			float su = 1.0f / (1.0f + eu);
			float g = u[j] >= 0.0f ? u[j] + 0.5f : su;
			float gp = u[j] >= 0.0f ? 1.0f : su * (eu * su);
			float fn, in;
			lstm_norm_exact(kf[j], ki[j], &fn, &in);
			float d = (dar[j] - dbr[j] * g) * fn * in;
			dkf[j] = d * (ef * f);
			dki[j] = -d * (ei * i);
			du[j] = dbr[j] * in * gp;
		}
	}
}

MULTI static void minlstm_nonorm_bwd(const float *pre, const float *da, const float *db, float *dpre, long rows, long I) {
	LSTM_BWD_PROLOGUE
			dkf[j] = daj * f * fc;
			dki[j] = dbj * g * i * ic;
			du[j] = dbj * i * gp;
		}
	}
}

static void minrl_gates(int kind, int grad, const float *pre, float *a, float *b, float *dpre, long rows, long I) {
	switch (kind) {
	case 0:
		if (grad) mingru_bwd(pre, a, b, dpre, rows, I); else mingru_fwd(pre, a, b, rows, I);
		break;
	case 1:
		if (grad) minlstm_bwd(pre, a, b, dpre, rows, I); else minlstm_fwd(pre, a, b, rows, I, 0);
		break;
	default:
		if (grad) minlstm_nonorm_bwd(pre, a, b, dpre, rows, I); else minlstm_fwd(pre, a, b, rows, I, 1);
	}
}
*/
import "C"

import "unsafe"

func init() { nativeGates = cGates }

// cGates runs a linear-space gate kernel over rows = len(a)/I rows in C:
// forward (grad false) fills a, b from pre; backward (grad true) reads
// a=da, b=db and fills dpre.
func cGates(kind cellKind, grad bool, pre, a, b, dpre []float32, I int) {
	rows := len(a) / I
	if rows == 0 {
		return
	}
	g := C.int(0)
	var dp *C.float
	if grad {
		g = 1
		dp = (*C.float)(unsafe.Pointer(&dpre[0]))
	}
	C.minrl_gates(C.int(kind), g, (*C.float)(unsafe.Pointer(&pre[0])), (*C.float)(unsafe.Pointer(&a[0])),
		(*C.float)(unsafe.Pointer(&b[0])), dp, C.long(rows), C.long(I))
}
