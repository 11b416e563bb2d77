//go:build cuda

// Package driver is the CUDA driver behind cuda.Device, through
// gorgonia.org/cu. It exists only in binaries built with -tags cuda; its
// import registers it with package cuda (cmd/minrl imports it in such
// builds). gorgonia.org/cu initialises the driver when the program starts
// and exits the process if there is no NVIDIA driver or device, which is why
// it never links into the default build.
package driver

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/kernels"
)

func init() {
	cuda.RegisterDriver(func() (cuda.Device, error) { return Open(0) })
}

// Device is one GPU with its own context, run from one OS thread: the
// context is current on that thread only, so every call goes through it.
// Launches are queued without waiting; copies to the host, allocations and
// Synchronize wait, and report the first error of the work queued before.
type Device struct {
	name  string
	work  chan func()
	done  chan struct{}
	mod   cu.Module
	funcs map[string]cu.Function
	mu    sync.Mutex
	err   error // first asynchronous error (sticky)
	ctx   cu.CUContext
}

var _ cuda.Device = (*Device)(nil)

// Open creates a context on GPU ordinal and loads the kernels' PTX (the
// driver JIT-compiles it for this GPU).
func Open(ordinal int) (*Device, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	if ordinal >= n {
		return nil, fmt.Errorf("cuda: no GPU %d (%d found)", ordinal, n)
	}
	d := &Device{work: make(chan func(), 4096), done: make(chan struct{}), funcs: make(map[string]cu.Function)}
	ready := make(chan error)
	go d.run(ordinal, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Device) run(ordinal int, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(d.done)
	err := func() error {
		dev, err := cu.GetDevice(ordinal)
		if err != nil {
			return fmt.Errorf("cuda: device %d: %w", ordinal, err)
		}
		name, _ := dev.Name()
		major, minor, _ := dev.ComputeCapability()
		d.name = fmt.Sprintf("%s (sm_%d%d)", name, major, minor)
		if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
			return fmt.Errorf("cuda: creating a context on %s: %w", d.name, err)
		}
		if err := cu.SetCurrentContext(d.ctx); err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		if d.mod, err = cu.LoadData(kernels.PTX); err != nil {
			return fmt.Errorf("cuda: loading the kernels' PTX on %s: %w", d.name, err)
		}
		return nil
	}()
	ready <- err
	if err != nil {
		return
	}
	for f := range d.work {
		f()
	}
	d.ctx.Destroy()
}

// async queues f; its error, if any, becomes the sticky error.
func (d *Device) async(f func() error) {
	d.work <- func() {
		if err := f(); err != nil {
			d.mu.Lock()
			if d.err == nil {
				d.err = err
			}
			d.mu.Unlock()
		}
	}
}

// call runs f on the device thread and waits; it returns the sticky error
// first, else f's.
func (d *Device) call(f func() error) error {
	res := make(chan error, 1)
	d.work <- func() { res <- f() }
	err := <-res
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	return err
}

// Name implements cuda.Device.
func (d *Device) Name() string { return d.name }

// Alloc implements cuda.Device.
func (d *Device) Alloc(bytes int) (cuda.Ptr, error) {
	var p cu.DevicePtr
	err := d.call(func() (err error) {
		p, err = cu.MemAlloc(int64(bytes))
		return err
	})
	return cuda.Ptr(p), err
}

// Free implements cuda.Device.
func (d *Device) Free(p cuda.Ptr) error {
	return d.call(func() error { return cu.MemFree(cu.DevicePtr(p)) })
}

// CopyToDevice implements cuda.Device. It waits: src may change after.
func (d *Device) CopyToDevice(dst cuda.Ptr, src unsafe.Pointer, bytes int) error {
	return d.call(func() error { return cu.MemcpyHtoD(cu.DevicePtr(dst), src, int64(bytes)) })
}

// CopyToHost implements cuda.Device.
func (d *Device) CopyToHost(dst unsafe.Pointer, src cuda.Ptr, bytes int) error {
	return d.call(func() error { return cu.MemcpyDtoH(dst, cu.DevicePtr(src), int64(bytes)) })
}

// CopyDevice implements cuda.Device.
func (d *Device) CopyDevice(dst, src cuda.Ptr, bytes int) error {
	d.async(func() error { return cu.MemcpyDtoD(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes)) })
	return nil
}

// Zero implements cuda.Device.
func (d *Device) Zero(dst cuda.Ptr, bytes int) error {
	d.async(func() error { return cu.MemsetD8(cu.DevicePtr(dst), 0, int64(bytes)) })
	return nil
}

// Launch implements cuda.Device: it queues the launch and returns.
func (d *Device) Launch(kernel string, grid, block cuda.Dim3, args []uint64) error {
	slots := append([]uint64(nil), args...)
	d.async(func() error {
		fn, ok := d.funcs[kernel]
		if !ok {
			var err error
			if fn, err = d.mod.Function(kernel); err != nil {
				return fmt.Errorf("cuda: kernel %s: %w", kernel, err)
			}
			d.funcs[kernel] = fn
		}
		params := make([]unsafe.Pointer, len(slots))
		for i := range slots {
			params[i] = unsafe.Pointer(&slots[i])
		}
		if err := fn.Launch(one(grid.X), one(grid.Y), one(grid.Z), one(block.X), one(block.Y), one(block.Z), 0, cu.Stream{}, params); err != nil {
			return fmt.Errorf("cuda: launching %s grid %v block %v: %w", kernel, grid, block, err)
		}
		return nil
	})
	return nil
}

func one(v int) int { return max(v, 1) }

// Synchronize implements cuda.Device.
func (d *Device) Synchronize() error {
	return d.call(func() error {
		if err := cu.Synchronize(); err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		return nil
	})
}

// Close implements cuda.Device: it waits for the queued work and destroys
// the context (freeing its memory).
func (d *Device) Close() error {
	err := d.Synchronize()
	close(d.work)
	<-d.done
	return err
}
