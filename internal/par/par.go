// Package par runs loops in parallel on a persistent pool of goroutines
// without allocating, so that hot paths (a layer's forward and backward) can
// be parallel and still allocation-free in steady state.
//
// Work is split into fixed ranges whose boundaries depend only on n and
// grain, never on the number of workers: a kernel that writes each element
// from one range gives bit-identical results whatever GOMAXPROCS is.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Func processes the half-open index range [lo, hi).
type Func func(lo, hi int)

type batch struct {
	fn     Func
	n      int
	grain  int
	chunks int64
	next   atomic.Int64 // next range start to claim
	done   atomic.Int64 // ranges finished
	refs   atomic.Int32 // goroutines still holding the batch
	finish chan struct{}
}

// run claims and runs ranges until none are left.
func (b *batch) run() {
	for {
		lo := int(b.next.Add(int64(b.grain))) - b.grain
		if lo >= b.n {
			return
		}
		b.fn(lo, min(lo+b.grain, b.n))
		if b.done.Add(1) == b.chunks {
			b.finish <- struct{}{}
		}
	}
}

// release drops one reference; the last holder recycles the batch.
func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		b.fn = nil
		freeMu.Lock()
		free = append(free, b)
		freeMu.Unlock()
	}
}

var (
	startOnce sync.Once
	work      chan *batch
	poolSize  int

	freeMu sync.Mutex
	free   []*batch
)

func start() {
	poolSize = max(runtime.NumCPU()-1, 0)
	work = make(chan *batch, 4*poolSize+4)
	for range poolSize {
		go func() {
			for b := range work {
				b.run()
				b.release()
			}
		}()
	}
}

// Workers reports how many goroutines For uses at most, the caller included.
func Workers() int {
	startOnce.Do(start)
	return min(runtime.GOMAXPROCS(0), poolSize+1)
}

// For calls fn on consecutive ranges [lo, hi) that cover [0, n), each grain
// long (the last may be shorter), and returns when all calls are done.
// Ranges run concurrently on up to Workers goroutines; fn must be safe for
// concurrent calls on disjoint ranges. fn may itself call For: the caller
// always works through the ranges too, so busy workers never deadlock it.
// For allocates nothing unless fn is a fresh closure; keep hot kernels as
// pre-bound method values or plain funcs.
func For(n, grain int, fn Func) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	helpers := min(Workers(), chunks) - 1
	if helpers <= 0 {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	b := getBatch()
	b.fn, b.n, b.grain, b.chunks = fn, n, grain, int64(chunks)
	b.next.Store(0)
	b.done.Store(0)
	b.refs.Store(int32(helpers + 1))
	for range helpers {
		select {
		case work <- b:
		default: // pool saturated (nested For): the caller does the work
			b.refs.Add(-1)
		}
	}
	b.run()
	<-b.finish
	b.release()
}

// Grain returns a range length for n items that gives each worker a few
// ranges to balance load, but at least minGrain items per range. The result
// depends only on its arguments, never on the number of workers.
func Grain(n, minGrain int) int {
	const targetChunks = 64
	return max((n+targetChunks-1)/targetChunks, minGrain, 1)
}

func getBatch() *batch {
	freeMu.Lock()
	defer freeMu.Unlock()
	if k := len(free); k > 0 {
		b := free[k-1]
		free = free[:k-1]
		return b
	}
	return &batch{finish: make(chan struct{}, 1)}
}

// FreeList is a mutex-guarded stack of reusable objects. Unlike sync.Pool it
// never drops them at garbage collection, so steady-state code that takes
// and returns its scratch objects allocates nothing.
type FreeList[T any] struct {
	New   func() *T
	mu    sync.Mutex
	items []*T
}

// Get pops an object, or makes one with New.
func (f *FreeList[T]) Get() *T {
	f.mu.Lock()
	if k := len(f.items); k > 0 {
		x := f.items[k-1]
		f.items = f.items[:k-1]
		f.mu.Unlock()
		return x
	}
	f.mu.Unlock()
	return f.New()
}

// Put pushes x for reuse.
func (f *FreeList[T]) Put(x *T) {
	f.mu.Lock()
	f.items = append(f.items, x)
	f.mu.Unlock()
}
