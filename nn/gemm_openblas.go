//go:build openblas

package nn

/*
#cgo LDFLAGS: -lopenblas -ldl
#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

extern char *openblas_get_corename(void);

// minrl_openblas_force_core re-runs OpenBLAS's run-time kernel selection
// with OPENBLAS_CORETYPE set. The hooks are looked up at run time so that a
// build without DYNAMIC_ARCH (which lacks them) still links; it returns 0
// when they are missing.
static int minrl_openblas_force_core(const char *core) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (!quit || !init) return 0;
	setenv("OPENBLAS_CORETYPE", core, 1);
	quit();
	init();
	return 1;
}
*/
import "C"

import (
	"log/slog"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// OpenBLAS is the cgo kernel over the system OpenBLAS (build tag openblas).
// OpenBLAS runs single-threaded: MatMul splits products across goroutines,
// so OpenBLAS's spinning worker threads never compete with Go's scheduler.
type OpenBLAS struct{}

// Name implements Gemm.
func (OpenBLAS) Name() string { return "openblas/" + OpenBLASCore() }

// OpenBLASCore is the kernel family OpenBLAS selected, e.g. "SkylakeX".
func OpenBLASCore() string { return C.GoString(C.openblas_get_corename()) }

func defaultGemm() Gemm {
	C.openblas_set_num_threads(1)
	fixOpenBLASCore()
	return OpenBLAS{}
}

// fixOpenBLASCore works around OpenBLAS 0.3.21 (Debian 12) misdetecting
// recent CPUs it does not know (e.g. Intel family 6 model 207) as Prescott
// and running SGEMM 4.5-5.4x slower. When the user has not chosen a core
// and the detected one lacks the vector units the CPU has, it re-selects the
// best family the CPU supports. The environment variable alone cannot do
// this from Go: OpenBLAS reads it while the library loads, before main.
func fixOpenBLASCore() {
	if os.Getenv("OPENBLAS_CORETYPE") != "" {
		return
	}
	want := ""
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL:
		want = "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "Haswell"
	default:
		return
	}
	got := OpenBLASCore()
	if strings.EqualFold(got, want) || betterCore(got) {
		return
	}
	if !forceOpenBLASCore(want) {
		slog.Warn("OpenBLAS chose a slow kernel and cannot be re-initialised; set OPENBLAS_CORETYPE",
			"detected", got, "suggested", want)
		return
	}
	slog.Debug("OpenBLAS kernel re-selected", "detected", got, "now", OpenBLASCore())
}

// forceOpenBLASCore re-selects OpenBLAS's kernel family by name.
func forceOpenBLASCore(name string) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.minrl_openblas_force_core(cs) != 0
}

// betterCore reports cores with AVX2 or AVX-512 kernels: a correct detection
// that need not be overridden.
func betterCore(name string) bool {
	switch strings.ToLower(name) {
	case "haswell", "skylakex", "cooperlake", "sapphirerapids", "zen", "excavator":
		return true
	}
	return false
}

// Sgemm implements Gemm.
func (OpenBLAS) Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(c, m, n, ldc, beta)
		return
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if tA {
		ta = C.CblasTrans
	}
	if tB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}
