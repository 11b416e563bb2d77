package d4rl

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"

	"github.com/scigolib/hdf5"
)

// fullDataset is a dataset using every optional part of the format.
func fullDataset(t *testing.T) *dataset.Dataset {
	t.Helper()
	d := synth(7, 5, 3, []int{40, 25, 60, 13}, "toto")
	d.Timeouts[d.N-1], d.Terminals[d.N-1] = false, false // trailing unfinished episode
	rng := rand.New(rand.NewPCG(9, 9))
	d.QPosDim, d.QVelDim = 4, 2
	d.QPos, d.QVel = make([]float32, d.N*4), make([]float32, d.N*2)
	for i := range d.QPos {
		d.QPos[i] = float32(rng.NormFloat64())
	}
	for i := range d.QVel {
		d.QVel[i] = float32(rng.NormFloat64())
	}
	d.Meta = dataset.Metadata{EnvID: "minrl/Hopper-v0", Policy: "sac-medium", Command: "minrl collect --env hopper",
		Seed: ptr(uint64(0x9e3779b97f4a7c15)), Extra: map[string]string{"algorithm": "SAC", "note": "ünïcode ok", "empty": ""}}
	var err error
	if d.Norm, err = d.FitNormalizer(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, gz := range []int{0, 4} {
		d := fullDataset(t)
		path := filepath.Join(t.TempDir(), "d.hdf5")
		if err := Save(path, d, SaveOptions{Gzip: gz}); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("gzip %d: %v", gz, err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("gzip %d: round trip differs:\n got %+v\nwant %+v", gz, got.Meta, d.Meta)
		}
		// No temporary file is left behind.
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("directory holds %d entries after Save", len(entries))
		}
	}
}

func TestSaveOptionalParts(t *testing.T) {
	d := synth(3, 2, 1, []int{5, 5}, "to")
	d.NextObservations = nil
	d.TimeoutsMissing = true
	d.Timeouts = make([]bool, d.N)
	path := filepath.Join(t.TempDir(), "d.hdf5")
	if err := Save(path, d, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.NextObservations != nil || got.QPos != nil || got.Norm != nil || !got.TimeoutsMissing || got.Meta.Seed != nil {
		t.Fatalf("optional parts appeared: %+v", got)
	}
	if !reflect.DeepEqual(got.Observations, d.Observations) || !reflect.DeepEqual(got.Terminals, d.Terminals) {
		t.Fatal("values differ")
	}
}

func TestSaveRejects(t *testing.T) {
	dir := t.TempDir()
	d := synth(3, 2, 1, []int{5}, "t")
	d.Meta.Extra = map[string]string{"env_id": "x"}
	if err := Save(filepath.Join(dir, "a.hdf5"), d, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("reserved key: %v", err)
	}
	d.Meta.Extra = map[string]string{"a/b": "x"}
	if err := Save(filepath.Join(dir, "a.hdf5"), d, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "a/b") {
		t.Fatalf("bad key: %v", err)
	}
	d.Meta.Extra = nil
	d.Rewards[2] = float32(math.NaN())
	if err := Save(filepath.Join(dir, "a.hdf5"), d, SaveOptions{}); !errors.Is(err, dataset.ErrNonFinite) {
		t.Fatalf("NaN: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed saves left %d files", len(entries))
	}
}

// h5entry is one dataset of a hand-made file.
type h5entry struct {
	key   string
	dtype hdf5.Datatype
	dims  []uint64
	data  any
	opts  []hdf5.DatasetOption
}

// writeTestH5 writes a file with scigolib directly, to build malformed inputs.
func writeTestH5(t *testing.T, path string, groups []string, entries []h5entry) {
	t.Helper()
	fw, err := hdf5.CreateForWrite(path, hdf5.CreateTruncate)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if _, err := fw.CreateGroup("/" + g); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		ds, err := fw.CreateDataset("/"+e.key, e.dtype, e.dims, e.opts...)
		if err != nil {
			t.Fatalf("%s: %v", e.key, err)
		}
		if err := ds.Write(e.data); err != nil {
			t.Fatalf("%s: %v", e.key, err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

var boolEnum = hdf5.WithEnumValues([]string{"FALSE", "TRUE"}, []int64{0, 1})

// d4rlEntries returns the arrays of a valid n-row file, obs width 3, act
// width 2, rewards (n, 1).
func d4rlEntries(n int) []h5entry {
	obs := make([]float32, n*3)
	for i := range obs {
		obs[i] = float32(i) / 8
	}
	act := make([]float32, n*2)
	rew := make([]float32, n)
	flags := make([]int8, n)
	flags[n-1] = 1
	return []h5entry{
		{"observations", hdf5.Float32, []uint64{uint64(n), 3}, obs, nil},
		{"actions", hdf5.Float32, []uint64{uint64(n), 2}, act, nil},
		{"rewards", hdf5.Float32, []uint64{uint64(n), 1}, rew, nil},
		{"terminals", hdf5.EnumInt8, []uint64{uint64(n)}, flags, []hdf5.DatasetOption{boolEnum}},
		{"timeouts", hdf5.EnumInt8, []uint64{uint64(n)}, make([]int8, n), []hdf5.DatasetOption{boolEnum}},
	}
}

func without(es []h5entry, key string) []h5entry {
	var out []h5entry
	for _, e := range es {
		if e.key != key {
			out = append(out, e)
		}
	}
	return out
}

func replace(es []h5entry, e h5entry) []h5entry { return append(without(es, e.key), e) }

func TestLoadAcceptsVariants(t *testing.T) {
	dir := t.TempDir()
	// (N, 1) rewards are squeezed; integer and float flags are accepted.
	n := 6
	es := d4rlEntries(n)
	es = replace(es, h5entry{"terminals", hdf5.Uint8, []uint64{uint64(n), 1}, []uint8{0, 0, 2, 0, 0, 1}, nil})
	es = replace(es, h5entry{"timeouts", hdf5.Float32, []uint64{uint64(n)}, []float32{0, 0, 0, 0.5, 0, 0}, nil})
	rew := []float32{1, 2, 3, 4, 5, 6}
	es = replace(es, h5entry{"rewards", hdf5.Float64, []uint64{uint64(n), 1}, []float64{1, 2, 3, 4, 5, 6}, nil})
	// A seed that is not a uint64 is kept as text.
	es = append(es, h5entry{"metadata/seed", hdf5.Int64, []uint64{1}, []int64{-3}, nil})
	path := filepath.Join(dir, "v.hdf5")
	writeTestH5(t, path, []string{"metadata"}, es)
	d, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Rewards, rew) {
		t.Fatalf("rewards %v", d.Rewards)
	}
	if !reflect.DeepEqual(d.Terminals, []bool{false, false, true, false, false, true}) ||
		!reflect.DeepEqual(d.Timeouts, []bool{false, false, false, true, false, false}) {
		t.Fatalf("flags %v %v", d.Terminals, d.Timeouts)
	}
	if d.N != n || d.ObsDim != 3 || d.ActDim != 2 || d.Observations[5] != 5.0/8 {
		t.Fatalf("dataset %+v", d)
	}
	if d.Meta.Seed != nil || d.Meta.Extra["seed"] != "-3" {
		t.Fatalf("metadata %+v", d.Meta)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	n := 8
	nanObs := make([]float32, n*3)
	nanObs[5*3+1] = float32(math.NaN())
	infAct := make([]float32, n*2)
	infAct[3*2] = float32(math.Inf(1))
	cases := []struct {
		name    string
		entries []h5entry
		is      error
		substr  []string
	}{
		{"no observations", without(d4rlEntries(n), "observations"), dataset.ErrMissingKey, []string{`"observations"`}},
		{"no actions", without(d4rlEntries(n), "actions"), dataset.ErrMissingKey, []string{`"actions"`}},
		{"no rewards", without(d4rlEntries(n), "rewards"), dataset.ErrMissingKey, []string{`"rewards"`}},
		{"no terminals", without(d4rlEntries(n), "terminals"), dataset.ErrMissingKey, []string{`"terminals"`}},
		{"short actions", replace(d4rlEntries(n), h5entry{"actions", hdf5.Float32, []uint64{7, 2}, make([]float32, 14), nil}),
			dataset.ErrShape, []string{`"actions"`, "7 rows", "8"}},
		{"long timeouts", replace(d4rlEntries(n), h5entry{"timeouts", hdf5.EnumInt8, []uint64{9}, make([]int8, 9), []hdf5.DatasetOption{boolEnum}}),
			dataset.ErrShape, []string{`"timeouts"`, "9 rows"}},
		{"rewards (N, 2)", replace(d4rlEntries(n), h5entry{"rewards", hdf5.Float32, []uint64{uint64(n), 2}, make([]float32, 2*n), nil}),
			dataset.ErrShape, []string{`"rewards"`, "(N,) or (N, 1)"}},
		{"next obs width", append(d4rlEntries(n), h5entry{"next_observations", hdf5.Float32, []uint64{uint64(n), 4}, make([]float32, 4*n), nil}),
			dataset.ErrShape, []string{`"next_observations"`, "4 columns"}},
		{"integer observations", replace(d4rlEntries(n), h5entry{"observations", hdf5.Int32, []uint64{uint64(n), 3}, make([]int32, 3*n), nil}),
			dataset.ErrShape, []string{`"observations"`, "int32"}},
		{"1-D observations", replace(d4rlEntries(n), h5entry{"observations", hdf5.Float32, []uint64{uint64(n)}, make([]float32, n), nil}),
			dataset.ErrShape, []string{`"observations"`, "(N, D)"}},
		{"NaN observation", replace(d4rlEntries(n), h5entry{"observations", hdf5.Float32, []uint64{uint64(n), 3}, nanObs, nil}),
			dataset.ErrNonFinite, []string{`"observations"`, "row 5", "column 1", "NaN"}},
		{"Inf action gzip", replace(d4rlEntries(n), h5entry{"actions", hdf5.Float32, []uint64{uint64(n), 2}, infAct,
			[]hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{3, 2}), hdf5.WithGZIPCompression(3)}}),
			dataset.ErrNonFinite, []string{`"actions"`, "row 3", "column 0"}},
		{"NaN reward", replace(d4rlEntries(n), h5entry{"rewards", hdf5.Float32, []uint64{uint64(n)}, []float32{0, 0, 0, 0, 0, 0, float32(math.NaN()), 0}, nil}),
			dataset.ErrNonFinite, []string{`"rewards"`, "row 6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".hdf5")
			writeTestH5(t, path, []string{"metadata"}, c.entries)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %v, want %v", err, c.is)
			}
			for _, s := range append(c.substr, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "absent.hdf5")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
	notH5 := filepath.Join(dir, "text.hdf5")
	os.WriteFile(notH5, []byte("observations,actions\n1,2\n"), 0o644)
	if _, err := Load(notH5); !errors.Is(err, ErrCorrupt) {
		t.Errorf("text file: %v", err)
	}
}

// TestRawReaderMatchesScigolib reads float datasets of several layouts
// with the raw reader and with scigolib's own reader.
func TestRawReaderMatchesScigolib(t *testing.T) {
	n := 1001
	vals := make([]float32, n*3)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	dims := []uint64{uint64(n), 3}
	path := filepath.Join(t.TempDir(), "layouts.hdf5")
	writeTestH5(t, path, nil, []h5entry{
		{"contiguous", hdf5.Float32, dims, vals, nil},
		{"chunked", hdf5.Float32, dims, vals, []hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{100, 3})}},
		// scigolib stores chunks that overhang the columns short, which
		// the HDF5 format (and h5py) does not allow: h5py reads garbage
		// from this dataset, the raw reader must refuse it.
		{"overhang", hdf5.Float32, dims, vals, []hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{100, 2})}},
		{"gzip", hdf5.Float32, dims, vals, []hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{64, 3}), hdf5.WithGZIPCompression(6)}},
		{"shuffle", hdf5.Float32, dims, vals, []hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{333, 1}), hdf5.WithShuffle(), hdf5.WithGZIPCompression(1)}},
		{"fletcher", hdf5.Float32, dims, vals, []hdf5.DatasetOption{hdf5.WithChunkDims([]uint64{500, 3}), hdf5.WithFletcher32()}},
	})
	r, err := openH5(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.readFloats("overhang", -1, false); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short edge chunks: %v, want ErrCorrupt", err)
	}
	ref, err := hdf5.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	scigo := map[string]*hdf5.Dataset{}
	ref.Walk(func(p string, o hdf5.Object) {
		if ds, ok := o.(*hdf5.Dataset); ok {
			scigo[strings.Trim(p, "/")] = ds
		}
	})
	for _, key := range []string{"contiguous", "chunked", "gzip", "shuffle", "fletcher"} {
		got, w, err := r.readFloats(key, n, false)
		if err != nil || w != 3 {
			t.Fatalf("%s: width %d, %v", key, w, err)
		}
		want, err := scigo[key].Read()
		if err != nil {
			t.Fatalf("%s: scigolib: %v", key, err)
		}
		for i := range vals {
			if got[i] != float32(want[i]) || got[i] != vals[i] {
				t.Fatalf("%s: element %d: raw %v, scigolib %v, written %v", key, i, got[i], want[i], vals[i])
			}
		}
	}
}

// TestCorruptFiles truncates a valid file at many offsets and flips bytes
// in it: Load must return an error or a dataset, never panic or hang.
func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	for _, gz := range []int{0, 3} {
		d := synth(5, 4, 2, []int{30, 20, 10}, "tot")
		d.Meta = dataset.Metadata{EnvID: "x", Seed: ptr(uint64(3))}
		src := filepath.Join(dir, "valid.hdf5")
		if err := Save(src, d, SaveOptions{Gzip: gz}); err != nil {
			t.Fatal(err)
		}
		valid, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(dir, "bad.hdf5")
		try := func(b []byte, what string) {
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("gzip %d, %s: panic: %v", gz, what, r)
					}
				}()
				if _, err := Load(bad); err != nil && !strings.Contains(err.Error(), bad) {
					t.Fatalf("%s: error does not name the file: %v", what, err)
				}
			}()
		}
		// Truncations: every 97th byte plus the very start and end.
		truncErrs := 0
		for cut := 0; cut < len(valid); cut += 97 {
			try(valid[:cut], "truncated")
			if _, err := Load(bad); err != nil {
				truncErrs++
			}
		}
		if truncErrs < (len(valid)+96)/97-1 {
			t.Errorf("gzip %d: only %d truncated files rejected", gz, truncErrs)
		}
		// Byte flips at random positions (fixed seed), one to four at once.
		rng := rand.New(rand.NewPCG(uint64(gz), 77))
		for range 300 {
			b := append([]byte(nil), valid...)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			try(b, "flipped")
		}
		// Extreme sizes and addresses written over 2-, 4- and 8-byte
		// fields: these are what drive allocations and loops. (This is how
		// scigolib/hdf5's reader was found to crash the process with an
		// out-of-memory error, which no recover can catch.)
		extremes := []uint64{0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 1 << 40, 1 << 62, math.MaxUint64}
		for range 600 {
			b := append([]byte(nil), valid...)
			at, v := rng.IntN(len(b)-8), extremes[rng.IntN(len(extremes))]
			switch rng.IntN(3) {
			case 0:
				binary.LittleEndian.PutUint16(b[at:], uint16(v))
			case 1:
				binary.LittleEndian.PutUint32(b[at:], uint32(v))
			default:
				binary.LittleEndian.PutUint64(b[at:], v)
			}
			try(b, "extreme value")
		}
		t.Logf("gzip %d: %d bytes, %d of %d truncations rejected", gz, len(valid), truncErrs, (len(valid)+96)/97)
	}
}

func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	d := synth(5, 2, 1, []int{6, 4}, "to")
	for i, gz := range []int{0, 2} {
		p := filepath.Join(dir, "seed"+string(rune('0'+i))+".hdf5")
		if err := Save(p, d, SaveOptions{Gzip: gz}); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	// The in-memory reader is the one Load uses (TestLoadBytesMatchesLoad):
	// no temporary file per input, so the fuzzer runs thousands of inputs a
	// second instead of a few dozen.
	f.Fuzz(func(t *testing.T, b []byte) {
		LoadBytes("fuzz.hdf5", b) // must not panic
	})
}

func TestLoadBytesMatchesLoad(t *testing.T) {
	d := synth(9, 4, 2, []int{5, 9}, "to")
	path := filepath.Join(t.TempDir(), "x.hdf5")
	if err := Save(path, d, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	a, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBytes("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Observations, b.Observations) || !slices.Equal(a.Terminals, b.Terminals) || a.N != b.N {
		t.Error("LoadBytes differs from Load")
	}
	if _, err := LoadBytes("junk", data[:100]); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Errorf("truncated bytes: %v", err)
	}
}

// TestNormalizerGroup: statistics stored under any group read back exactly
// (h5py_test.go checks a group h5py wrote).
func TestNormalizerGroup(t *testing.T) {
	nz := &dataset.Normalizer{Mean: []float64{0.1, -3e7, math.Pi}, Std: []float64{1 + 1e-6, 2.5e-6, math.E}}
	path := filepath.Join(t.TempDir(), "policy.hdf5")
	fw, err := hdf5.CreateForWrite(path, hdf5.CreateTruncate)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"/policy", "/policy/state_norm"} {
		if _, err := fw.CreateGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeNormalizer(fw, "policy/state_norm", nz); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readNormalizerFile(path, "/policy/state_norm/")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, nz) {
		t.Fatalf("HDF5 round trip %+v, want %+v", got, nz)
	}
}
