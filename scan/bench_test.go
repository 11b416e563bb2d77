package scan

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkForward reports the scan's memory traffic (12 bytes per element:
// read a and b, write h) in MB/s; BenchmarkCopy moves as many bytes with
// copy() for comparison.
//
//	go test ./scan -run XXX -bench 'Forward|Backward|Copy'
func BenchmarkForward(b *testing.B) {
	for _, d := range []Dims{{64, 1024, 128}, {1, 65536, 128}} {
		b.Run(d.String(), func(b *testing.B) {
			in := newInputs(rand.New(rand.NewPCG(1, 1)), d, 0, 1, false)
			h := make([]float32, d.Len())
			b.SetBytes(int64(12 * d.Len()))
			for b.Loop() {
				Forward(h, in.a, in.b, nil, d)
			}
		})
	}
}

func BenchmarkBackward(b *testing.B) {
	for _, d := range []Dims{{64, 1024, 128}, {1, 65536, 128}} {
		b.Run(d.String(), func(b *testing.B) {
			in := newInputs(rand.New(rand.NewPCG(1, 1)), d, 0, 1, false)
			h, da, db := make([]float32, d.Len()), make([]float32, d.Len()), make([]float32, d.Len())
			Forward(h, in.a, in.b, nil, d)
			b.SetBytes(int64(20 * d.Len())) // read dh, a, h; write da, db
			for b.Loop() {
				Backward(da, db, nil, in.dh, in.a, h, nil, d)
			}
		})
	}
}

func BenchmarkLogForward(b *testing.B) {
	d := Dims{64, 1024, 128}
	in := newInputs(rand.New(rand.NewPCG(1, 1)), d, 0.1, 1, false)
	lh := make([]float32, d.Len())
	b.SetBytes(int64(12 * d.Len()))
	for b.Loop() {
		LogForward(lh, in.a, in.b, nil, d)
	}
}

func BenchmarkCopy(b *testing.B) {
	n := 64 * 1024 * 128
	src, dst := make([]float32, 3*n/2), make([]float32, 3*n/2)
	b.SetBytes(int64(12 * n)) // 6n bytes read + 6n written
	for b.Loop() {
		copy(dst, src)
	}
}
