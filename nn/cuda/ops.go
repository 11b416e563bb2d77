package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// Ctx issues kernels on a Device and owns the memory it allocates. Errors
// are sticky: after the first failure every call does nothing, and Err
// (or Sync) reports it, so a sequence of launches needs one check.
type Ctx struct {
	Dev   Device
	err   error
	args  []uint64
	alloc []Ptr
	bytes int

	scanBuf, partBuf, splitBuf Buf
	lbBuf                      Buf
	epoch                      uint32
	noLookback                 bool
	partHost                   []float64
}

// NewCtx wraps dev.
func NewCtx(dev Device) *Ctx { return &Ctx{Dev: dev} }

// Err returns the first error so far.
func (c *Ctx) Err() error { return c.err }

func (c *Ctx) fail(err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
}

// Sync waits for the device and returns the first error.
func (c *Ctx) Sync() error {
	if c.err == nil {
		c.fail(c.Dev.Synchronize())
	}
	return c.err
}

// Close frees everything c allocated.
func (c *Ctx) Close() error {
	for _, p := range c.alloc {
		c.fail(c.Dev.Free(p))
	}
	c.alloc, c.bytes = nil, 0
	return c.err
}

// Bytes is the device memory c holds.
func (c *Ctx) Bytes() int { return c.bytes }

// Buf is a float32 array in device memory.
type Buf struct {
	P Ptr
	N int
}

// At returns the sub-array [off, off+n).
func (b Buf) At(off, n int) Buf {
	if off < 0 || n < 0 || off+n > b.N {
		panic(fmt.Sprintf("cuda: slice [%d, %d) of a %d-element buffer", off, off+n, b.N))
	}
	return Buf{b.P + Ptr(4*off), n}
}

// Floats allocates n float32s (zeroed).
func (c *Ctx) Floats(n int) Buf {
	return Buf{c.raw(4 * n), n}
}

func (c *Ctx) raw(bytes int) Ptr {
	if c.err != nil || bytes == 0 {
		return 0
	}
	p, err := c.Dev.Alloc(bytes)
	if err != nil {
		c.fail(fmt.Errorf("cuda: allocating %d bytes: %w", bytes, err))
		return 0
	}
	c.alloc = append(c.alloc, p)
	c.bytes += bytes
	c.fail(c.Dev.Zero(p, bytes))
	return p
}

// Grow returns b if it holds n floats, else a new zeroed buffer of n.
// Scratch buffers grow to the largest shape seen and stay.
func (c *Ctx) Grow(b *Buf, n int) Buf {
	if b.N < n || b.P == 0 && n > 0 {
		*b = c.Floats(n)
	}
	return b.At(0, n)
}

// Upload copies src into b (len(src) ≤ b.N).
func (c *Ctx) Upload(b Buf, src []float32) { upload(c, b, src) }

// UploadInt32 copies src into b, which holds int32s as raw 4-byte words.
func (c *Ctx) UploadInt32(b Buf, src []int32) { upload(c, b, src) }

func upload[T float32 | int32](c *Ctx, b Buf, src []T) {
	if c.err != nil || len(src) == 0 {
		return
	}
	if len(src) > b.N {
		c.fail(fmt.Errorf("cuda: upload of %d words into %d", len(src), b.N))
		return
	}
	c.fail(c.Dev.CopyToDevice(b.P, unsafe.Pointer(&src[0]), 4*len(src)))
}

// Download copies b's first len(dst) floats into dst.
func (c *Ctx) Download(dst []float32, b Buf) {
	if c.err != nil || len(dst) == 0 {
		return
	}
	if len(dst) > b.N {
		c.fail(fmt.Errorf("cuda: download of %d floats from %d", len(dst), b.N))
		return
	}
	c.fail(c.Dev.CopyToHost(unsafe.Pointer(&dst[0]), b.P, 4*len(dst)))
}

// DownloadFloat64 copies len(dst) doubles from b (which holds doubles: two
// float32 words each).
func (c *Ctx) DownloadFloat64(dst []float64, b Buf) {
	if c.err != nil || len(dst) == 0 {
		return
	}
	if 2*len(dst) > b.N {
		c.fail(fmt.Errorf("cuda: download of %d doubles from %d floats", len(dst), b.N))
		return
	}
	c.fail(c.Dev.CopyToHost(unsafe.Pointer(&dst[0]), b.P, 8*len(dst)))
}

// Copy copies src into dst (same length).
func (c *Ctx) Copy(dst, src Buf) {
	if c.err != nil || src.N == 0 {
		return
	}
	if dst.N != src.N {
		c.fail(fmt.Errorf("cuda: copy of %d floats into %d", src.N, dst.N))
		return
	}
	c.fail(c.Dev.CopyDevice(dst.P, src.P, 4*src.N))
}

// ZeroBuf zeroes b.
func (c *Ctx) ZeroBuf(b Buf) {
	if c.err != nil || b.N == 0 {
		return
	}
	c.fail(c.Dev.Zero(b.P, 4*b.N))
}

// launch marshals args (Ptr, Buf, int, int64, uint64, float32, float64,
// bool) into 8-byte slots and launches.
func (c *Ctx) launch(kernel string, grid, block Dim3, args ...any) {
	if c.err != nil {
		return
	}
	c.args = c.args[:0]
	for _, a := range args {
		var v uint64
		switch x := a.(type) {
		case Ptr:
			v = uint64(x)
		case Buf:
			v = uint64(x.P)
		case int:
			if x < math.MinInt32 || x > math.MaxInt32 {
				c.fail(fmt.Errorf("cuda: %s: int argument %d overflows int32", kernel, x))
				return
			}
			v = uint64(uint32(int32(x)))
		case int64:
			v = uint64(x)
		case uint64:
			v = x
		case uint32:
			v = uint64(x)
		case float32:
			v = uint64(math.Float32bits(x))
		case float64:
			v = math.Float64bits(x)
		case bool:
			if x {
				v = 1
			}
		default:
			panic(fmt.Sprintf("cuda: %s: argument of type %T", kernel, a))
		}
		c.args = append(c.args, v)
	}
	c.fail(c.Dev.Launch(kernel, grid, block, c.args))
}

const elemBlock = 256

// elems launches a one-thread-per-element kernel over n elements.
func (c *Ctx) elems(kernel string, n int, args ...any) {
	if n == 0 {
		return
	}
	c.launch(kernel, Dim3{(n + elemBlock - 1) / elemBlock, 1, 1}, Dim3{elemBlock, 1, 1}, args...)
}
