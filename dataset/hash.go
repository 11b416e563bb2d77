package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// SHA256 hashes what training reads: sizes, observations, actions,
// rewards and the episode flags.
func (d *Dataset) SHA256() string {
	h := sha256.New()
	var buf [8]byte
	for _, n := range []int{d.N, d.ObsDim, d.ActDim} {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	chunk := make([]byte, 0, 1<<16)
	for _, arr := range [][]float32{d.Observations, d.Actions, d.Rewards} {
		for _, v := range arr {
			chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
			if len(chunk) == cap(chunk) {
				h.Write(chunk)
				chunk = chunk[:0]
			}
		}
	}
	for i := range d.N {
		var f byte
		if d.Terminals[i] {
			f |= 1
		}
		if d.Timeouts[i] {
			f |= 2
		}
		chunk = append(chunk, f)
		if len(chunk) == cap(chunk) {
			h.Write(chunk)
			chunk = chunk[:0]
		}
	}
	h.Write(chunk)
	return hex.EncodeToString(h.Sum(nil))
}
