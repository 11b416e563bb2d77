//go:build cgo

package kernels

/*
#cgo CXXFLAGS: -std=c++17 -O2
#include <stdlib.h>
#include <string.h>
int minrl_emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned long long *slots, int nargs, char *err, int errlen);
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/minrl/minrl/nn/cuda"
)

// Emulator is a cuda.Device that runs the kernels on the CPU. Its memory is
// C heap memory; pointers are host addresses. For tests: it is exact and
// slow (every CUDA thread runs in turn on one core).
type Emulator struct {
	live map[cuda.Ptr]allocation
}

type allocation struct {
	p     unsafe.Pointer
	bytes int
}

// NewEmulator returns an emulated device.
func NewEmulator() *Emulator { return &Emulator{live: make(map[cuda.Ptr]allocation)} }

var _ cuda.Device = (*Emulator)(nil)

// Name implements cuda.Device.
func (e *Emulator) Name() string { return "CPU emulator" }

// Alloc implements cuda.Device.
func (e *Emulator) Alloc(bytes int) (cuda.Ptr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("emulator: allocation of %d bytes", bytes)
	}
	p := C.calloc(C.size_t(bytes), 1)
	if p == nil {
		return 0, errors.New("emulator: out of memory")
	}
	e.live[cuda.Ptr(uintptr(p))] = allocation{p, bytes}
	return cuda.Ptr(uintptr(p)), nil
}

// Free implements cuda.Device.
func (e *Emulator) Free(p cuda.Ptr) error {
	a, ok := e.live[p]
	if !ok {
		return fmt.Errorf("emulator: free of %#x, not allocated", uint64(p))
	}
	delete(e.live, p)
	C.free(a.p)
	return nil
}

// mem returns [p, p+bytes) as a slice if it lies inside one live
// allocation.
func (e *Emulator) mem(what string, p cuda.Ptr, bytes int) ([]byte, error) {
	for base, a := range e.live {
		if p >= base && uint64(p)+uint64(bytes) <= uint64(base)+uint64(a.bytes) {
			return unsafe.Slice((*byte)(unsafe.Add(a.p, int(p-base))), bytes), nil
		}
	}
	return nil, fmt.Errorf("emulator: %s of %d bytes at %#x outside every allocation", what, bytes, uint64(p))
}

// CopyToDevice implements cuda.Device.
func (e *Emulator) CopyToDevice(dst cuda.Ptr, src unsafe.Pointer, bytes int) error {
	m, err := e.mem("copy to device", dst, bytes)
	if err != nil {
		return err
	}
	copy(m, unsafe.Slice((*byte)(src), bytes))
	return nil
}

// CopyToHost implements cuda.Device.
func (e *Emulator) CopyToHost(dst unsafe.Pointer, src cuda.Ptr, bytes int) error {
	m, err := e.mem("copy to host", src, bytes)
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*byte)(dst), bytes), m)
	return nil
}

// CopyDevice implements cuda.Device.
func (e *Emulator) CopyDevice(dst, src cuda.Ptr, bytes int) error {
	from, err := e.mem("copy from", src, bytes)
	if err != nil {
		return err
	}
	to, err := e.mem("copy to", dst, bytes)
	if err != nil {
		return err
	}
	copy(to, from)
	return nil
}

// Zero implements cuda.Device.
func (e *Emulator) Zero(dst cuda.Ptr, bytes int) error {
	m, err := e.mem("zero", dst, bytes)
	if err != nil {
		return err
	}
	clear(m)
	return nil
}

// Launch implements cuda.Device.
func (e *Emulator) Launch(kernel string, grid, block cuda.Dim3, args []uint64) error {
	name := C.CString(kernel)
	defer C.free(unsafe.Pointer(name))
	var errBuf [256]C.char
	slots := C.malloc(C.size_t(8 * max(1, len(args))))
	defer C.free(slots)
	copy(unsafe.Slice((*uint64)(slots), max(1, len(args))), args)
	d := func(v int) C.uint {
		if v <= 0 {
			return 1
		}
		return C.uint(v)
	}
	if C.minrl_emu_launch(name, d(grid.X), d(grid.Y), d(grid.Z), d(block.X), d(block.Y), d(block.Z),
		(*C.ulonglong)(slots), C.int(len(args)), &errBuf[0], C.int(len(errBuf))) != 0 {
		return errors.New(C.GoString(&errBuf[0]))
	}
	return nil
}

// Synchronize implements cuda.Device: the emulator is synchronous.
func (e *Emulator) Synchronize() error { return nil }

// Close frees every allocation left.
func (e *Emulator) Close() error {
	for _, a := range e.live {
		C.free(a.p)
	}
	clear(e.live)
	return nil
}
