package d4rl

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/internal/h5"

	"github.com/scigolib/hdf5"
)

// Hand-patched files that once loaded as garbage or crashed the process.

// leafChunkEntries returns the file offsets of the entries (nbytes, mask,
// rank+1 offsets, address) of every level-0 chunk B-tree node in b.
func leafChunkEntries(b []byte, rank int) []int {
	var out []int
	entry := 8 + 8*(rank+1) + 8
	for i := 0; i+8 < len(b); i++ {
		if string(b[i:i+4]) != "TREE" || b[i+4] != 1 || b[i+5] != 0 {
			continue
		}
		body := i + 8 + 16 // signature, type, level, entries, two siblings
		for k := range int(binary.LittleEndian.Uint16(b[i+6:])) {
			out = append(out, body+k*entry)
		}
	}
	return out
}

// patchDims rewrites every dataspace message (version 1 or 2, rank
// len(old)) whose dims are old to hold dims new; it returns how many.
func patchDims(b []byte, old, new []uint64) int {
	n := 0
	for i := 0; i+8+8*len(old) <= len(b); i++ {
		if b[i] != 1 && b[i] != 2 || int(b[i+1]) != len(old) {
			continue
		}
		match := true
		for k, x := range old {
			match = match && binary.LittleEndian.Uint64(b[i+8+8*k:]) == x
		}
		if match {
			for k, x := range new {
				binary.LittleEndian.PutUint64(b[i+8+8*k:], x)
			}
			n++
		}
	}
	return n
}

func wantCorrupt(t *testing.T, err error, substr string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %v, want ErrCorrupt mentioning %q", err, substr)
	}
}

// TestSharedChunkBytes: many chunk-index entries point at one small
// deflated blob. Each passes the per-chunk ratio bound, but together they
// declared a dataset ~(file/40)²·1100 bytes large, and Load died with an
// unrecoverable out-of-memory error allocating it.
func TestSharedChunkBytes(t *testing.T) {
	const m, c = 300, 1 << 16 // m chunks of c rows each, all one blob
	es := replace(d4rlEntries(m), h5entry{"observations", hdf5.Float32, []uint64{m, 1}, make([]float32, m),
		[]hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{1, 1}), hdf5.WithGZIPCompression(1)}})
	p := filepath.Join(t.TempDir(), "shared.hdf5")
	writeTestH5(t, p, []string{"metadata"}, es)
	b, _ := os.ReadFile(p)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, 9)
	zw.Write(make([]byte, 4*c))
	zw.Close()
	blob := uint64(len(b))
	ents := leafChunkEntries(b, 2)
	if len(ents) != m {
		t.Fatalf("%d chunk entries, want %d", len(ents), m)
	}
	for i, e := range ents {
		binary.LittleEndian.PutUint32(b[e:], uint32(z.Len()))
		binary.LittleEndian.PutUint32(b[e+4:], 0)           // filter mask
		binary.LittleEndian.PutUint64(b[e+8:], uint64(i)*c) // row offset
		binary.LittleEndian.PutUint64(b[e+16:], 0)          // column offset
		binary.LittleEndian.PutUint64(b[e+32:], blob)       // address
		binary.LittleEndian.PutUint64(b[e+24:], 0)          // element offset
	}
	// Layout v3, chunked, rank 3, address, chunk dims (1, 1, 4) -> (c, 1, 4).
	lay := 0
	for i := 0; i+23 <= len(b); i++ {
		if b[i] == 3 && b[i+1] == 2 && b[i+2] == 3 && binary.LittleEndian.Uint32(b[i+11:]) == 1 &&
			binary.LittleEndian.Uint32(b[i+15:]) == 1 && binary.LittleEndian.Uint32(b[i+19:]) == 4 {
			binary.LittleEndian.PutUint32(b[i+11:], c)
			lay++
		}
	}
	if lay != 1 || patchDims(b, []uint64{m, 1}, []uint64{m * c, 1}) == 0 {
		t.Fatalf("patched %d layouts", lay)
	}
	b = append(b, z.Bytes()...)
	f, err := h5.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&h5Reader{f: f}).info(keyObs)
	wantCorrupt(t, err, "overlap")
}

// TestDuplicateChunkOffsets: two chunk entries claim the same rows; the
// chunk count still matched, and the rows no entry covered loaded as 0.
func TestDuplicateChunkOffsets(t *testing.T) {
	es := replace(d4rlEntries(8), h5entry{"rewards", hdf5.Float32, []uint64{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8},
		[]hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{4})}})
	p := filepath.Join(t.TempDir(), "dup.hdf5")
	writeTestH5(t, p, []string{"metadata"}, es)
	b, _ := os.ReadFile(p)
	ents := leafChunkEntries(b, 1)
	if len(ents) != 2 {
		t.Fatalf("%d chunk entries, want 2", len(ents))
	}
	binary.LittleEndian.PutUint64(b[ents[1]+8:], 0) // second chunk: offset 4 -> 0
	os.WriteFile(p, b, 0o644)
	d, err := Load(p)
	if err == nil {
		t.Fatalf("loaded rewards %v", d.Rewards)
	}
	wantCorrupt(t, err, "twice")
}

// TestNonFiniteFlags: a NaN terminal was nonzero, hence an episode end.
func TestNonFiniteFlags(t *testing.T) {
	for _, c := range []struct {
		key  string
		v    []float32
		f64  bool
		want string
	}{
		{keyTerms, []float32{0, float32(math.NaN()), 0, 1}, false, `"terminals" row 1`},
		{keyTimeouts, []float32{0, 0, float32(math.Inf(-1)), 1}, true, `"timeouts" row 2`},
	} {
		es := d4rlEntries(4)
		e := h5entry{c.key, hdf5.Float32, []uint64{4}, c.v, nil}
		if c.f64 {
			v := make([]float64, len(c.v))
			for i, x := range c.v {
				v[i] = float64(x)
			}
			e.dtype, e.data = hdf5.Float64, v
		}
		p := filepath.Join(t.TempDir(), "nan.hdf5")
		writeTestH5(t, p, []string{"metadata"}, replace(es, e))
		_, err := Load(p)
		if !errors.Is(err, dataset.ErrNonFinite) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want dataset.ErrNonFinite at %s", c.key, err, c.want)
		}
	}
}

// TestHugeZeroRowShape: observations of shape (0, 2⁶³+1) hold no
// elements, so no size check fired, and Load returned a dataset with a
// negative ObsDim.
func TestHugeZeroRowShape(t *testing.T) {
	const n = 37
	p := filepath.Join(t.TempDir(), "huge.hdf5")
	writeTestH5(t, p, []string{"metadata"}, d4rlEntries(n))
	b, _ := os.ReadFile(p)
	k := patchDims(b, []uint64{n, 3}, []uint64{0, 1<<63 + 1})
	for _, w := range []uint64{1, 2} {
		k += patchDims(b, []uint64{n, w}, []uint64{0, w})
	}
	if k += patchDims(b, []uint64{n}, []uint64{0}); k != 5 {
		t.Fatalf("patched %d dataspaces, want 5", k)
	}
	d, err := LoadBytes("huge", b)
	if err == nil {
		t.Fatalf("loaded N %d, ObsDim %d", d.N, d.ObsDim)
	}
	if !strings.Contains(err.Error(), "observations") {
		t.Errorf("error %v does not name the key", err)
	}
}
