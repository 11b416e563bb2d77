package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/safefile"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/safetensors"
)

// ---- minrl checkpoints ----

// Metadata keys of a minrl checkpoint. Free-form caller strings use any
// other key.
const (
	MetaFormat  = "minrl.format" // "2" ("1": before checksums)
	MetaKind    = "minrl.kind"   // "decision" or "mlp"
	MetaConfig  = "minrl.config" // the model's Config or MLPConfig as JSON
	MetaNorm    = "minrl.norm"   // Normalizer as JSON
	MetaEnvID   = "minrl.env_id"
	MetaTargets = "minrl.targets"       // target returns as a JSON array
	MetaBounds  = "minrl.action_bounds" // ActionBounds as JSON, when not [−1, 1]
	// MetaChecksum is the SHA-256 (hex) of every other metadata entry and
	// every tensor's name, shape and data (see checksum): a file changed
	// after it was written, by a flipped bit or an edit, does not load.
	MetaChecksum = "minrl.sha256"

	metaPrefix    = "minrl."
	formatVersion = "2"
	formatV1      = "1" // read, without an integrity check
	kindDecision  = "decision"
	kindMLP       = "mlp"
)

// ExtraPrefixes are the name prefixes of extra tensors a checkpoint may
// carry besides the model's parameters: a trainer's resume state, e.g.
// "optim.<param>.exp_avg" for AdamW's moments.
var ExtraPrefixes = []string{"optim.", "extra."}

func isExtra(name string) bool {
	for _, p := range ExtraPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Info is what a checkpoint records besides the weights.
type Info struct {
	// Norm holds the state statistics the policy was trained with.
	Norm Normalizer
	// EnvID names the environment (e.g. "Hopper-v4").
	EnvID string
	// Targets are the raw target returns to evaluate with.
	Targets []float64
	// Bounds are the env's action bounds when they are not [−1, 1] (nil:
	// the policy's actions are the env's).
	Bounds *ActionBounds
	// Meta holds free-form strings (run id, dataset, seed, code version);
	// keys must not start with "minrl.".
	Meta map[string]string
}

// Checkpoint is a loaded checkpoint: the model, rebuilt from its config
// with the saved weights, the Info, and any extra tensors.
type Checkpoint struct {
	Info
	Model Model
	// Extra are the tensors named with an ExtraPrefixes prefix, in file order.
	Extra []nn.NamedTensor
}

// Encode writes a checkpoint of m with info and the extra tensors (each
// named with an ExtraPrefixes prefix) to w.
func Encode(w io.Writer, m Model, info Info, extra []nn.NamedTensor) error {
	var kind string
	var cfg any
	switch mm := m.(type) {
	case *Decision:
		kind, cfg = kindDecision, mm.Config()
	case *MLP:
		kind, cfg = kindMLP, mm.Config()
	default:
		return fmt.Errorf("policy: checkpoint: unsupported model type %T", m)
	}
	if err := info.Norm.Validate(m.ObsDim()); err != nil {
		return fmt.Errorf("policy: checkpoint: %w", err)
	}
	for i, t := range info.Targets {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return fmt.Errorf("policy: checkpoint: target return %d is %g", i, t)
		}
	}
	meta := map[string]string{MetaFormat: formatVersion, MetaKind: kind, MetaEnvID: info.EnvID}
	for k, v := range info.Meta {
		if strings.HasPrefix(k, metaPrefix) {
			return fmt.Errorf("policy: checkpoint: metadata key %q uses the reserved prefix %q", k, metaPrefix)
		}
		meta[k] = v
	}
	if err := info.Bounds.Check(m.ActDim()); err != nil {
		return fmt.Errorf("policy: checkpoint: %w", err)
	}
	fields := map[string]any{MetaConfig: cfg, MetaNorm: info.Norm, MetaTargets: info.Targets}
	if info.Bounds != nil {
		fields[MetaBounds] = info.Bounds
	}
	for key, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("policy: checkpoint: %s: %w", key, err)
		}
		meta[key] = string(b)
	}
	params := m.Params()
	tensors := make([]nn.NamedTensor, 0, len(params)+len(extra))
	for _, p := range params {
		tensors = append(tensors, nn.NamedTensor{Name: p.Name, Tensor: &p.Value})
	}
	for _, e := range extra {
		if !isExtra(e.Name) {
			return fmt.Errorf("policy: checkpoint: extra tensor %q must be named with one of the prefixes %q", e.Name, ExtraPrefixes)
		}
		tensors = append(tensors, e)
	}
	meta[MetaChecksum] = checksum(meta, tensors)
	return safetensors.Write(w, tensors, meta)
}

// checksum is SHA-256 over the metadata entries but MetaChecksum (sorted by
// key, each key and value NUL-terminated) and then, in order, each
// tensor's name, shape and little-endian float32 data.
func checksum(meta map[string]string, tensors []nn.NamedTensor) string {
	h := sha256.New()
	keys := slices.Sorted(maps.Keys(meta))
	for _, k := range keys {
		if k == MetaChecksum {
			continue
		}
		io.WriteString(h, k+"\x00"+meta[k]+"\x00")
	}
	var buf [4096]byte
	for _, nt := range tensors {
		fmt.Fprintf(h, "%s\x00%v\x00", nt.Name, nt.Tensor.Shape)
		d := nt.Tensor.Data
		for len(d) > 0 {
			k := min(len(d), len(buf)/4)
			for i, v := range d[:k] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			h.Write(buf[:4*k])
			d = d[k:]
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Save writes a checkpoint file atomically: to a temporary file in the same
// directory, synced, then renamed over path, so a crash leaves either the
// old file or the new one.
func Save(path string, m Model, info Info, extra []nn.NamedTensor) error {
	var encodeErr error
	err := atomicfile.Write(path, func(w io.Writer) error {
		encodeErr = Encode(w, m, info, extra)
		return encodeErr
	})
	if err != nil && encodeErr == nil {
		return fmt.Errorf("policy: checkpoint %s: %w", path, err)
	}
	return err
}

// MaxFileBytes bounds the checkpoint files Load reads (far above any model
// minrl trains: a 3-layer, 128-wide Decision model is ~2 MB).
const MaxFileBytes = 8 << 30

// Load reads and validates a checkpoint file and rebuilds its model. Only
// regular files are read (a FIFO or a device is an error, not a hang).
func Load(path string) (*Checkpoint, error) {
	data, err := safefile.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("policy: checkpoint: %w", err)
	}
	c, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Decode validates a checkpoint held in data and rebuilds its model. It
// returns an error saying what is wrong (the safetensors structure, missing
// or malformed metadata, an invalid config, tensors missing, unexpected or
// shaped unlike the config needs, non-finite values) and never panics.
func Decode(data []byte) (*Checkpoint, error) {
	tensors, meta, err := safetensors.Read(data)
	if err != nil {
		// Say what the file is not before why: a user gave the wrong file
		// far more often than a damaged one.
		return nil, fmt.Errorf("not a minrl checkpoint: %w", err)
	}
	fail := func(format string, args ...any) (*Checkpoint, error) {
		return nil, fmt.Errorf("policy: checkpoint: "+format, args...)
	}
	version, ok := meta[MetaFormat]
	if !ok {
		return fail("not a minrl checkpoint: metadata key %q missing", MetaFormat)
	} else if version != formatVersion && version != formatV1 {
		return fail("format version %q, this build reads %q and %q", version, formatV1, formatVersion)
	}
	// The checksum is checked after the structure, so that a file edited
	// into another shape gets the message that names what is wrong; any
	// other change to a version-2 file is caught here, at the end.
	if version == formatVersion {
		if _, ok := meta[MetaChecksum]; !ok {
			return fail("metadata key %q missing", MetaChecksum)
		}
	}
	// Encode writes every one of these; a file without one has been edited,
	// and guessing (say, no normaliser) would act on the wrong inputs.
	for _, key := range []string{MetaConfig, MetaKind, MetaNorm, MetaTargets, MetaEnvID} {
		if _, ok := meta[key]; !ok {
			return fail("metadata key %q missing", key)
		}
	}
	cfgJSON := meta[MetaConfig]
	var available int64
	for _, t := range tensors {
		available += int64(t.Tensor.Len())
	}
	var build func() (Model, error)
	switch kind := meta[MetaKind]; kind {
	case kindDecision:
		var cfg Config
		if err := strictJSON(cfgJSON, &cfg); err != nil {
			return fail("%s: %v", MetaConfig, err)
		}
		if err := cfg.Validate(); err != nil {
			return fail("%v", err)
		}
		if need := decisionParamCount(cfg); need > available {
			return fail("the config needs %d weights but the file holds only %d values", need, available)
		}
		build = func() (Model, error) { return NewDecision(cfg, nn.NewRNG(0)) }
	case kindMLP:
		var cfg MLPConfig
		if err := strictJSON(cfgJSON, &cfg); err != nil {
			return fail("%s: %v", MetaConfig, err)
		}
		if err := cfg.Validate(); err != nil {
			return fail("%v", err)
		}
		if need := mlpParamCount(cfg); need > available {
			return fail("the config needs %d weights but the file holds only %d values", need, available)
		}
		build = func() (Model, error) { return NewMLP(cfg, nn.NewRNG(0)) }
	default:
		return fail("%s is %q, want %q or %q", MetaKind, kind, kindDecision, kindMLP)
	}
	for _, t := range tensors {
		for i, v := range t.Tensor.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fail("tensor %q holds %g at index %d", t.Name, v, i)
			}
		}
	}
	m, err := build()
	if err != nil {
		return fail("%v", err)
	}
	c := &Checkpoint{Model: m, Info: Info{EnvID: meta[MetaEnvID]}}
	byName := make(map[string]*nn.Tensor, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t.Tensor
	}
	var missing []string
	for _, p := range m.Params() {
		t, ok := byName[p.Name]
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !slices.Equal(t.Shape, p.Value.Shape) {
			return fail("tensor %q has shape %v, the config needs %v", p.Name, t.Shape, p.Value.Shape)
		}
		copy(p.Value.Data, t.Data)
		delete(byName, p.Name)
	}
	if len(missing) > 0 {
		return fail("%d tensors missing: %s", len(missing), strings.Join(quoteAll(missing, 5), ", "))
	}
	for _, t := range tensors {
		if _, left := byName[t.Name]; !left {
			continue
		}
		if !isExtra(t.Name) {
			return fail("unexpected tensor %q: not a parameter of this model, and extra tensors must be named with one of the prefixes %q", t.Name, ExtraPrefixes)
		}
		c.Extra = append(c.Extra, t)
	}
	if err := strictJSON(meta[MetaNorm], &c.Norm); err != nil {
		return fail("%s: %v", MetaNorm, err)
	}
	if err := c.Norm.Validate(m.ObsDim()); err != nil {
		return fail("%v", err)
	}
	if err := strictJSON(meta[MetaTargets], &c.Targets); err != nil {
		return fail("%s: %v", MetaTargets, err)
	}
	if s, ok := meta[MetaBounds]; ok {
		c.Bounds = new(ActionBounds)
		if err := strictJSON(s, c.Bounds); err != nil {
			return fail("%s: %v", MetaBounds, err)
		}
		if err := c.Bounds.Check(m.ActDim()); err != nil {
			return fail("%s: %v", MetaBounds, err)
		}
	}
	for k, v := range meta {
		if !strings.HasPrefix(k, metaPrefix) {
			if c.Meta == nil {
				c.Meta = map[string]string{}
			}
			c.Meta[k] = v
		}
	}
	if want, ok := meta[MetaChecksum]; ok && checksum(meta, tensors) != want {
		return fail("checksum mismatch (%s): the file was changed or corrupted after it was written", MetaChecksum)
	}
	return c, nil
}

// strictJSON decodes s into v, rejecting unknown fields and trailing data.
func strictJSON(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func quoteAll(names []string, most int) []string {
	out := make([]string, 0, min(len(names), most)+1)
	for i, n := range names {
		if i == most {
			out = append(out, fmt.Sprintf("and %d more", len(names)-most))
			break
		}
		out = append(out, strconv.Quote(n))
	}
	return out
}

// decisionParamCount is the number of weights NewDecision(cfg) makes, from
// the config alone: Decode checks it against the file before building, so
// a corrupt config cannot make it allocate more than the file holds.
func decisionParamCount(c Config) int64 {
	h, L := int64(c.Embed), int64(c.Layers)
	lin := func(in, out int64) int64 { return in*out + out }
	n := int64(c.MaxEpLen)*h + lin(1, h) + lin(int64(c.ObsDim), h) + lin(int64(c.ActDim), h) + 2*h
	mlp := lin(h, 4*h) + lin(4*h, h)
	var blk int64
	if c.Model == ModelDT {
		blk = 2*h + lin(h, 3*h) + lin(h, h) + 2*h + mlp
	} else {
		inner := int64(math.Round(c.Expansion * float64(c.Embed)))
		width := int64(2)
		if c.Model == ModelMinLSTM {
			width = 3
		}
		blk = 2*h + lin(h, width*inner) + 2*h + mlp
		if inner != h {
			blk += lin(inner, h)
		}
		if c.Conv {
			blk += h*int64(c.ConvKernel) + h
		}
	}
	return n + L*blk + 2*h + lin(h, int64(c.ActDim))
}

// mlpParamCount is the number of weights NewMLP(cfg) makes.
func mlpParamCount(c MLPConfig) int64 {
	var n int64
	in := int64(c.ObsDim)
	for _, h := range append(append([]int(nil), c.Hidden...), c.ActDim) {
		n += in*int64(h) + int64(h)
		in = int64(h)
	}
	return n
}
