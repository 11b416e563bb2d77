package d4rl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/scigolib/hdf5"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/h5"
	"github.com/minrl/minrl/internal/safefile"
)

var (
	// ErrCorrupt reports HDF5 structures that cannot be valid.
	ErrCorrupt = h5.ErrCorrupt
	// ErrUnsupported reports valid HDF5 features the reader lacks.
	ErrUnsupported = h5.ErrUnsupported
)

// HDF5 keys of the D4RL layout and of minrl's additions.
const (
	keyObs      = "observations"
	keyActions  = "actions"
	keyRewards  = "rewards"
	keyNextObs  = "next_observations"
	keyTerms    = "terminals"
	keyTimeouts = "timeouts"
	keyQPos     = "infos/qpos"
	keyQVel     = "infos/qvel"
	groupMeta   = "metadata"
	groupNorm   = "normalizer"
	keyNormMean = "normalizer/state_mean"

	metaEnvID   = "env_id"
	metaPolicy  = "policy"
	metaCommand = "command"
	metaSeed    = "seed"
)

// h5Reader reads the D4RL layout from an HDF5 file.
type h5Reader struct {
	file io.Closer // nil for an in-memory file
	f    *h5.File
}

// maxH5Bytes bounds the HDF5 files openH5 reads (D4RL's largest are ~2 GB).
const maxH5Bytes = 64 << 30

func openH5(path string) (*h5Reader, error) {
	file, size, err := safefile.Regular(path, maxH5Bytes)
	if err != nil {
		return nil, err
	}
	f, err := h5.Open(file, size)
	if err != nil {
		file.Close()
		return nil, err
	}
	return &h5Reader{file: file, f: f}, nil
}

func (r *h5Reader) Close() error {
	if r.file == nil {
		return nil
	}
	return r.file.Close()
}

// has reports whether key exists.
func (r *h5Reader) has(key string) (bool, error) {
	_, ok, err := r.f.Lookup(key)
	if err != nil {
		return false, fmt.Errorf("key %q: %w", key, err)
	}
	return ok, nil
}

// info locates and checks the dataset key.
func (r *h5Reader) info(key string) (*h5.Dataset, error) {
	addr, ok, err := r.f.Lookup(key)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w %q", dataset.ErrMissingKey, key)
	}
	ds, err := r.f.Dataset(addr)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	return ds, nil
}

// rowsShape returns the row count and row width of a rank-1 or rank-2
// array; with vector a rank-2 array must have one column.
func rowsShape(key string, dims []uint64, vector bool) (rows, width int, err error) {
	switch {
	case len(dims) == 1 && vector:
		rows, width = int(dims[0]), 1
	case len(dims) == 2 && (!vector || dims[1] == 1):
		rows, width = int(dims[0]), int(dims[1])
	default:
		want := "(N, D)"
		if vector {
			want = "(N,) or (N, 1)"
		}
		return 0, 0, fmt.Errorf("%w: key %q has shape %v, want %s", dataset.ErrShape, key, dims, want)
	}
	return rows, width, nil
}

// readFloats reads a float array as float32: (N, D), or with vector (N,)
// or (N, 1). wantRows < 0 accepts any row count. Values go straight from
// the file (or one decompressed chunk) into the result, so loading holds
// one copy of the data.
func (r *h5Reader) readFloats(key string, wantRows int, vector bool) ([]float32, int, error) {
	ds, err := r.info(key)
	if err != nil {
		return nil, 0, err
	}
	if ds.Type().Class() != h5.ClassFloat {
		return nil, 0, fmt.Errorf("%w: key %q has dtype %s, want float32", dataset.ErrShape, key, ds.Type())
	}
	rows, width, err := rowsShape(key, ds.Dims(), vector)
	if err != nil {
		return nil, 0, err
	}
	if wantRows >= 0 && rows != wantRows {
		return nil, 0, fmt.Errorf("%w: key %q has %d rows, observations %d", dataset.ErrShape, key, rows, wantRows)
	}
	if width == 0 {
		return nil, 0, fmt.Errorf("%w: key %q has shape %v: no columns", dataset.ErrShape, key, ds.Dims())
	}
	out := make([]float32, rows*width) // size checked against the file by info
	order, size := ds.Type().Order(), ds.Type().Size()
	err = r.f.Read(ds, func(i int, b []byte) {
		dst := out[i : i+len(b)/size]
		if size == 4 {
			for k := range dst {
				dst[k] = math.Float32frombits(order.Uint32(b[4*k:]))
			}
		} else {
			for k := range dst {
				dst[k] = float32(math.Float64frombits(order.Uint64(b[8*k:])))
			}
		}
	})
	if err != nil {
		return nil, 0, fmt.Errorf("key %q: %w", key, err)
	}
	if err := dataset.CheckFinite(key, out, width); err != nil {
		return nil, 0, err
	}
	return out, width, nil
}

// readFlags reads a boolean array of wantRows rows, (N,) or (N, 1). It
// accepts numpy bools (h5py's enum(int8){FALSE, TRUE}), integers and
// floats; any nonzero value is true, but a NaN or ±Inf is an error (it is
// nonzero, yet no flag).
func (r *h5Reader) readFlags(key string, wantRows int) ([]bool, error) {
	ds, err := r.info(key)
	if err != nil {
		return nil, err
	}
	if c := ds.Type().Class(); c != h5.ClassEnum && c != h5.ClassFixed && c != h5.ClassFloat {
		return nil, fmt.Errorf("%w: key %q has dtype %s, want bool", dataset.ErrShape, key, ds.Type())
	}
	rows, _, err := rowsShape(key, ds.Dims(), true)
	if err != nil {
		return nil, err
	}
	if rows != wantRows {
		return nil, fmt.Errorf("%w: key %q has %d rows, observations %d", dataset.ErrShape, key, rows, wantRows)
	}
	out := make([]bool, rows)
	order, size, float := ds.Type().Order(), ds.Type().Size(), ds.Type().Class() == h5.ClassFloat
	bad, badVal := -1, 0.0 // first non-finite float (rows arrive in storage order)
	err = r.f.Read(ds, func(i int, b []byte) {
		for k := range len(b) / size {
			e := b[k*size : (k+1)*size]
			if !float {
				out[i+k] = slices.ContainsFunc(e, func(b byte) bool { return b != 0 })
				continue
			}
			var x float64
			if size == 4 {
				x = float64(math.Float32frombits(order.Uint32(e)))
			} else {
				x = math.Float64frombits(order.Uint64(e))
			}
			if x-x != 0 && (bad < 0 || i+k < bad) { // NaN or ±Inf
				bad, badVal = i+k, x
			}
			out[i+k] = x != 0
		}
	})
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	if bad >= 0 {
		return nil, fmt.Errorf("%w: key %q row %d: %v", dataset.ErrNonFinite, key, bad, badVal)
	}
	return out, nil
}

// readFloat64s reads a small float vector exactly.
func (r *h5Reader) readFloat64s(key string) ([]float64, error) {
	ds, err := r.info(key)
	if err != nil {
		return nil, err
	}
	if ds.Type().Class() != h5.ClassFloat || len(ds.Dims()) != 1 {
		return nil, fmt.Errorf("%w: key %q is %s %v, want a float vector", dataset.ErrShape, key, ds.Type(), ds.Dims())
	}
	out := make([]float64, ds.Dims()[0])
	order, size := ds.Type().Order(), ds.Type().Size()
	err = r.f.Read(ds, func(i int, b []byte) {
		for k := range len(b) / size {
			if size == 4 {
				out[i+k] = float64(math.Float32frombits(order.Uint32(b[4*k:])))
			} else {
				out[i+k] = math.Float64frombits(order.Uint64(b[8*k:]))
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	return out, nil
}

// Load reads a D4RL-layout HDF5 file (written by minrl, h5py or D4RL).
// Required keys: observations (N, obs_dim), actions (N, act_dim), rewards
// (N,) or (N, 1), terminals (N,); optional: timeouts, next_observations,
// infos/qpos, infos/qvel, metadata/*, normalizer/*. Every float is
// checked to be finite. Errors name the file, the key and, for values,
// the row.
func Load(path string) (*dataset.Dataset, error) {
	d, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	return d, nil
}

// LoadBytes reads a dataset from an HDF5 file held in memory (an embedded
// one, say); name is used in errors.
func LoadBytes(name string, data []byte) (*dataset.Dataset, error) {
	f, err := h5.Open(bytes.NewReader(data), int64(len(data)))
	if err == nil {
		var d *dataset.Dataset
		if d, err = readAll(&h5Reader{f: f}); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("dataset %s: %w", name, err)
}

func load(path string) (*dataset.Dataset, error) {
	r, err := openH5(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readAll(r)
}

func readAll(r *h5Reader) (*dataset.Dataset, error) {
	var err error
	d := &dataset.Dataset{}
	if d.Observations, d.ObsDim, err = r.readFloats(keyObs, -1, false); err != nil {
		return nil, err
	}
	d.N = len(d.Observations) / d.ObsDim
	if d.Actions, d.ActDim, err = r.readFloats(keyActions, d.N, false); err != nil {
		return nil, err
	}
	if d.Rewards, _, err = r.readFloats(keyRewards, d.N, true); err != nil {
		return nil, err
	}
	if d.Terminals, err = r.readFlags(keyTerms, d.N); err != nil {
		return nil, err
	}
	if ok, err := r.has(keyTimeouts); err != nil {
		return nil, err
	} else if ok {
		if d.Timeouts, err = r.readFlags(keyTimeouts, d.N); err != nil {
			return nil, err
		}
	} else {
		d.Timeouts, d.TimeoutsMissing = make([]bool, d.N), true
	}
	if ok, err := r.has(keyNextObs); err != nil {
		return nil, err
	} else if ok {
		var w int
		if d.NextObservations, w, err = r.readFloats(keyNextObs, d.N, false); err != nil {
			return nil, err
		}
		if w != d.ObsDim {
			return nil, fmt.Errorf("%w: key %q has %d columns, observations %d", dataset.ErrShape, keyNextObs, w, d.ObsDim)
		}
	}
	for _, o := range []struct {
		key string
		v   *[]float32
		w   *int
	}{{keyQPos, &d.QPos, &d.QPosDim}, {keyQVel, &d.QVel, &d.QVelDim}} {
		if ok, err := r.has(o.key); err != nil {
			return nil, err
		} else if ok {
			if *o.v, *o.w, err = r.readFloats(o.key, d.N, false); err != nil {
				return nil, err
			}
		}
	}
	if d.Meta, err = r.readMeta(); err != nil {
		return nil, err
	}
	if d.Norm, err = r.readNormalizer(groupNorm); err != nil {
		return nil, err
	}
	if d.Norm != nil && d.Norm.Dim() != d.ObsDim {
		return nil, fmt.Errorf("%w: key %q has %d features, observations %d", dataset.ErrShape, keyNormMean, d.Norm.Dim(), d.ObsDim)
	}
	// The sizes must agree as Check has them; the values were checked
	// finite as they were read, so skip a second pass over them.
	if err := d.CheckShapes(); err != nil {
		return nil, err
	}
	return d, nil
}

// readMeta collects the scalar entries of the metadata group: its
// attributes and its direct child datasets that hold one string or
// number. Other entries (D4RL's policy weights live in subgroups) are
// skipped, as are datatypes the reader does not decode.
func (r *h5Reader) readMeta() (dataset.Metadata, error) {
	var m dataset.Metadata
	addr, ok, err := r.f.Lookup(groupMeta)
	if err != nil || !ok {
		return m, err
	}
	kids, err := r.f.Children(addr)
	if err != nil {
		return m, fmt.Errorf("group %q: %w", groupMeta, err)
	}
	kv, err := r.f.Attributes(addr)
	if err != nil {
		return m, fmt.Errorf("group %q: %w", groupMeta, err)
	}
	for name, a := range kids {
		key := groupMeta + "/" + name
		if isDS, err := r.f.IsDataset(a); err != nil {
			return m, fmt.Errorf("key %q: %w", key, err)
		} else if !isDS {
			continue
		}
		ds, err := r.f.Dataset(a)
		if errors.Is(err, h5.ErrUnsupported) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("key %q: %w", key, err)
		}
		if n, err := h5.ElemCount(ds.Dims(), 2); err != nil || n != 1 {
			continue
		}
		var elem []byte
		if err := r.f.Read(ds, func(_ int, b []byte) { elem = append(elem[:0], b...) }); err != nil {
			return m, fmt.Errorf("key %q: %w", key, err)
		}
		v, err := r.f.DecodeValue(ds.Type(), elem)
		if err != nil {
			return m, fmt.Errorf("key %q: %w", key, err)
		}
		kv[name] = v
	}
	for k, v := range kv {
		switch k {
		case metaEnvID:
			m.EnvID = v.Text()
		case metaPolicy:
			m.Policy = v.Text()
		case metaCommand:
			m.Command = v.Text()
		case metaSeed:
			if seed, err := strconv.ParseUint(v.Text(), 10, 64); err == nil {
				m.Seed = &seed
				break
			}
			fallthrough // not a uint64 (a negative or float seed): keep the text
		default:
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[k] = v.Text()
		}
	}
	return m, nil
}

// readNormalizer reads group/state_mean and group/state_std; it returns
// nil when neither exists.
func (r *h5Reader) readNormalizer(group string) (*dataset.Normalizer, error) {
	kMean, kStd := group+"/state_mean", group+"/state_std"
	hasMean, err := r.has(kMean)
	if err != nil {
		return nil, err
	}
	hasStd, err := r.has(kStd)
	if err != nil {
		return nil, err
	}
	if !hasMean && !hasStd {
		return nil, nil
	}
	nz := &dataset.Normalizer{}
	if nz.Mean, err = r.readFloat64s(kMean); err != nil {
		return nil, err
	}
	if nz.Std, err = r.readFloat64s(kStd); err != nil {
		return nil, err
	}
	if err := nz.Check(); err != nil {
		return nil, fmt.Errorf("group %q: %w", group, err)
	}
	return nz, nil
}

// readNormalizerFile reads Normalizer statistics stored by writeNormalizer
// (or by h5py as float vectors state_mean and state_std) under group of
// the HDF5 file at path. It returns an error wrapping ErrMissingKey when
// the group holds none.
func readNormalizerFile(path, group string) (*dataset.Normalizer, error) {
	r, err := openH5(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer r.Close()
	group = strings.Trim(group, "/")
	nz, err := r.readNormalizer(group)
	if err == nil && nz == nil {
		err = fmt.Errorf("%w %q", dataset.ErrMissingKey, group+"/state_mean")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nz, nil
}

// writeNormalizer stores the statistics as float64 datasets
// group/state_mean and group/state_std of an open scigolib file writer;
// the group must already exist. h5py reads them as float64 arrays.
// (scigolib v0.14.1 writes float attributes wrongly, hence datasets.)
func writeNormalizer(fw *hdf5.FileWriter, group string, n *dataset.Normalizer) error {
	if err := n.Check(); err != nil {
		return err
	}
	group = "/" + strings.Trim(group, "/")
	for _, kv := range []struct {
		name string
		v    []float64
	}{{"state_mean", n.Mean}, {"state_std", n.Std}} {
		ds, err := fw.CreateDataset(group+"/"+kv.name, hdf5.Float64, []uint64{uint64(len(kv.v))})
		if err != nil {
			return fmt.Errorf("%s/%s: %w", group, kv.name, err)
		}
		if err := ds.Write(kv.v); err != nil {
			return fmt.Errorf("%s/%s: %w", group, kv.name, err)
		}
	}
	return nil
}

// SaveOptions control how Save stores arrays.
type SaveOptions struct {
	// Gzip is the deflate level (1–9) of chunked, compressed arrays, as
	// D4RL ships them; 0 stores them uncompressed and contiguous.
	Gzip int
}

// Save writes the dataset to path in the D4RL layout, atomically (a
// temporary file in the same directory, renamed over path when
// complete). Floats are float32, terminals and timeouts numpy bools
// (enum(int8){FALSE, TRUE}), metadata one-element datasets under
// metadata/ (strings, and seed as uint64), the normaliser float64 vectors
// under normalizer/.
func Save(path string, d *dataset.Dataset, opt SaveOptions) error {
	if err := save(path, d, opt); err != nil {
		return fmt.Errorf("dataset %s: %w", path, err)
	}
	return nil
}

func save(path string, d *dataset.Dataset, opt SaveOptions) (err error) {
	if err := d.Check(); err != nil {
		return err
	}
	if d.N == 0 {
		return fmt.Errorf("%w: no transitions to save", dataset.ErrShape)
	}
	if opt.Gzip < 0 || opt.Gzip > 9 {
		return fmt.Errorf("gzip level %d (want 0–9)", opt.Gzip)
	}
	extra := slices.Sorted(maps.Keys(d.Meta.Extra))
	for _, k := range extra {
		switch {
		case k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00"):
			return fmt.Errorf("metadata key %q is not a valid HDF5 name", k)
		case k == metaEnvID || k == metaPolicy || k == metaCommand || k == metaSeed:
			return fmt.Errorf("metadata key %q is reserved: set the dataset.Metadata field instead", k)
		}
	}
	return atomicfile.WriteNamed(path, func(tmp string) error { return writeH5(tmp, d, opt, extra) })
}

func writeH5(path string, d *dataset.Dataset, opt SaveOptions, extra []string) (err error) {
	defer func() {
		if r := recover(); r != nil { // a writer bug must not crash the caller
			err = fmt.Errorf("scigolib/hdf5 panicked while writing: %v", r)
		}
	}()
	fw, err := hdf5.CreateForWrite(path, hdf5.CreateTruncate)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
	}()
	n := uint64(d.N)
	// chunked returns the options for an array of rows of width w.
	chunked := func(w int) []hdf5.DatasetOption {
		if opt.Gzip == 0 {
			return nil
		}
		rows := uint64(max(1, (1<<16)/max(1, w)))
		dims := []uint64{min(rows, n)}
		if w > 0 {
			dims = append(dims, uint64(w))
		}
		return []hdf5.DatasetOption{hdf5.WithChunkDims(dims), hdf5.WithGZIPCompression(opt.Gzip)}
	}
	floats := func(key string, v []float32, w int) error {
		ds, err := fw.CreateDataset("/"+key, hdf5.Float32, []uint64{n, uint64(w)}, chunked(w)...)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if err := ds.Write(v); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		return nil
	}
	flags := func(key string, v []bool) error {
		b := make([]int8, len(v))
		for i, f := range v {
			if f {
				b[i] = 1
			}
		}
		opts := append([]hdf5.DatasetOption{hdf5.WithEnumValues([]string{"FALSE", "TRUE"}, []int64{0, 1})}, chunked(0)...)
		ds, err := fw.CreateDataset("/"+key, hdf5.EnumInt8, []uint64{n}, opts...)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if err := ds.Write(b); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		return nil
	}
	if err := floats(keyObs, d.Observations, d.ObsDim); err != nil {
		return err
	}
	if err := floats(keyActions, d.Actions, d.ActDim); err != nil {
		return err
	}
	ds, err := fw.CreateDataset("/"+keyRewards, hdf5.Float32, []uint64{n}, chunked(0)...)
	if err != nil {
		return fmt.Errorf("key %q: %w", keyRewards, err)
	}
	if err := ds.Write(d.Rewards); err != nil {
		return fmt.Errorf("key %q: %w", keyRewards, err)
	}
	if d.NextObservations != nil {
		if err := floats(keyNextObs, d.NextObservations, d.ObsDim); err != nil {
			return err
		}
	}
	if err := flags(keyTerms, d.Terminals); err != nil {
		return err
	}
	if !d.TimeoutsMissing {
		if err := flags(keyTimeouts, d.Timeouts); err != nil {
			return err
		}
	}
	if d.QPos != nil || d.QVel != nil {
		if _, err := fw.CreateGroup("/infos"); err != nil {
			return err
		}
		if d.QPos != nil {
			if err := floats(keyQPos, d.QPos, d.QPosDim); err != nil {
				return err
			}
		}
		if d.QVel != nil {
			if err := floats(keyQVel, d.QVel, d.QVelDim); err != nil {
				return err
			}
		}
	}
	if _, err := fw.CreateGroup("/" + groupMeta); err != nil {
		return err
	}
	str := func(name, v string) error {
		key := "/" + groupMeta + "/" + name
		ds, err := fw.CreateDataset(key, hdf5.String, []uint64{1}, hdf5.WithStringSize(uint32(max(1, len(v)))))
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if err := ds.Write([]string{v}); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		return nil
	}
	for _, kv := range [][2]string{{metaEnvID, d.Meta.EnvID}, {metaPolicy, d.Meta.Policy}, {metaCommand, d.Meta.Command}} {
		if err := str(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if d.Meta.Seed != nil {
		ds, err := fw.CreateDataset("/"+groupMeta+"/"+metaSeed, hdf5.Uint64, []uint64{1})
		if err != nil {
			return err
		}
		if err := ds.Write([]uint64{*d.Meta.Seed}); err != nil {
			return err
		}
	}
	for _, k := range extra {
		if err := str(k, d.Meta.Extra[k]); err != nil {
			return err
		}
	}
	if d.Norm != nil {
		if _, err := fw.CreateGroup("/" + groupNorm); err != nil {
			return err
		}
		if err := writeNormalizer(fw, groupNorm, d.Norm); err != nil {
			return err
		}
	}
	return nil
}
