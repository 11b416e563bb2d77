// Package cuda runs minrl's training step on an NVIDIA GPU: device memory,
// the kernels of package kernels (the linear scan, the fused minGRU/minLSTM
// gate scans, SGEMM, LayerNorm, activations, dropout, embedding, masked MSE,
// AdamW) and layers built from them with the same forward/backward contract
// as package nn, so that a whole Decision-minRNN training step stays on the
// device.
//
// This package is pure Go and talks to a Device. Two implement it: the CUDA
// driver (package driver, build tag cuda, which links gorgonia.org/cu and
// needs an NVIDIA driver at run time) and a CPU emulator (package kernels,
// cgo) that runs the same kernels one CUDA thread at a time, so that every
// code path here is tested on machines without a GPU. Open returns the
// driver when the binary was built with -tags cuda and an error that says
// so otherwise.
//
// Every result is deterministic: reductions run in a fixed order (partial
// sums over fixed chunks, then the chunks in order), and no kernel uses
// atomics.
package cuda

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Ptr is a device address.
type Ptr uint64

// Dim3 is a launch grid or block size.
type Dim3 struct{ X, Y, Z int }

// Device is a GPU (or its emulator). Calls may be asynchronous: an error of
// a launch may surface at a later call; Synchronize waits for all work and
// reports the first error. A Device is not safe for concurrent use.
type Device interface {
	// Name describes the device, e.g. "NVIDIA H200 (sm_90)".
	Name() string
	Alloc(bytes int) (Ptr, error)
	Free(p Ptr) error
	// CopyToDevice and CopyToHost copy bytes between host and device memory;
	// CopyToHost waits for the work before it.
	CopyToDevice(dst Ptr, src unsafe.Pointer, bytes int) error
	CopyToHost(dst unsafe.Pointer, src Ptr, bytes int) error
	CopyDevice(dst, src Ptr, bytes int) error
	Zero(dst Ptr, bytes int) error
	// Launch runs kernel (a name from package kernels) on grid×block
	// threads. args holds each parameter in 8 bytes (ints, floats in the
	// low bytes), as the CUDA driver's kernelParams.
	Launch(kernel string, grid, block Dim3, args []uint64) error
	Synchronize() error
	Close() error
}

// ErrNotBuilt is returned by Open in a binary built without -tags cuda.
var ErrNotBuilt = errors.New("this minrl was built without CUDA support: rebuild with `go build -tags cuda ./cmd/minrl` " +
	"(needs cuda.h and libcuda at build time, an NVIDIA driver at run time; see docs/gpu.md)")

var (
	openMu sync.Mutex
	opener func() (Device, error)
)

// RegisterDriver installs the function Open calls and returns the one it
// replaces. Package driver calls it from init in -tags cuda builds; tests
// install the emulator with it.
func RegisterDriver(open func() (Device, error)) (previous func() (Device, error)) {
	openMu.Lock()
	defer openMu.Unlock()
	previous, opener = opener, open
	return previous
}

// Open returns the first CUDA device, or ErrNotBuilt.
func Open() (Device, error) {
	openMu.Lock()
	open := opener
	openMu.Unlock()
	if open == nil {
		return nil, ErrNotBuilt
	}
	return open()
}

// Available reports whether this binary can open a CUDA device at all
// (whether it was built with -tags cuda).
func Available() bool {
	openMu.Lock()
	defer openMu.Unlock()
	return opener != nil
}

// ParseDevice checks a device name from a config or flag: "cpu" or "cuda".
func ParseDevice(s string) (string, error) {
	switch s {
	case "", "cpu":
		return "cpu", nil
	case "cuda":
		return "cuda", nil
	}
	return "", fmt.Errorf("device %q: want cpu or cuda", s)
}
