package policy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/safetensors"
)

// rawFile assembles a safetensors file from a header and data bytes.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func testInfo() Info {
	return Info{
		Norm:    Normalizer{Mean: []float64{1, 2, 3, 4, 5.5}, Std: []float64{1, 0.5, 2, 1e-6, 3}},
		EnvID:   "Hopper-v4",
		Targets: []float64{3600, 1800},
		Meta:    map[string]string{"run": "abc", "dataset": "hopper-medium-v2", "seed": "12"},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := nn.NewRNG(40)
	mlp, _ := NewMLP(MLPConfig{ObsDim: 5, ActDim: 3, Hidden: []int{7, 9}, Act: "gelu", Dropout: 0.2}, nn.NewRNG(41))
	models := map[string]Model{"mlp": mlp}
	for name, cfg := range sortedTestConfigs() {
		models[name] = newTestModel(t, cfg, 42)
	}
	for _, name := range slices.Sorted(maps.Keys(models)) { // one shared rng: a fixed order
		m := models[name]
		t.Run(name, func(t *testing.T) {
			// Train a step so the optimiser has state to save.
			b := randomBatch(rng, smallConfig(ModelMinGRU), []int{6, 3}, 6, false)
			opt := nn.NewAdamW(m.Params(), nn.DefaultAdamWConfig(1e-3))
			m.SetTrain(true)
			trainStep(m, b)
			opt.Step(1e-3)
			var extra []nn.NamedTensor
			for _, nt := range opt.State().Tensors {
				extra = append(extra, nn.NamedTensor{Name: "optim." + nt.Name, Tensor: nt.Tensor})
			}
			info := testInfo()
			info.Meta["optim.step"] = "1"
			path := filepath.Join(dir, name+".safetensors")
			if err := Save(path, m, info, extra); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Info, info) {
				t.Errorf("info %+v, want %+v", c.Info, info)
			}
			switch mm := m.(type) {
			case *Decision:
				if got := c.Model.(*Decision).Config(); got != mm.Config() {
					t.Errorf("config %+v, want %+v", got, mm.Config())
				}
			case *MLP:
				if got := c.Model.(*MLP).Config(); !reflect.DeepEqual(got, mm.Config()) {
					t.Errorf("config %+v, want %+v", got, mm.Config())
				}
			}
			ps, qs := m.Params(), c.Model.Params()
			if len(ps) != len(qs) {
				t.Fatalf("%d params, want %d", len(qs), len(ps))
			}
			for i := range ps {
				if ps[i].Name != qs[i].Name || !slices.Equal(ps[i].Value.Data, qs[i].Value.Data) {
					t.Errorf("param %s differs after loading", ps[i].Name)
				}
			}
			if len(c.Extra) != len(extra) {
				t.Fatalf("%d extra tensors, want %d", len(c.Extra), len(extra))
			}
			st := nn.AdamWState{Step: 1}
			for i, e := range c.Extra {
				if e.Name != extra[i].Name || !slices.Equal(e.Tensor.Data, extra[i].Tensor.Data) || !slices.Equal(e.Tensor.Shape, extra[i].Tensor.Shape) {
					t.Errorf("extra tensor %s differs", extra[i].Name)
				}
				st.Tensors = append(st.Tensors, nn.NamedTensor{Name: strings.TrimPrefix(e.Name, "optim."), Tensor: e.Tensor})
			}
			if err := nn.NewAdamW(c.Model.Params(), nn.DefaultAdamWConfig(1e-3)).LoadState(st); err != nil {
				t.Errorf("optimiser state does not load back: %v", err)
			}
			m.SetTrain(false)
			if !slices.Equal(m.Forward(b).Data, c.Model.Forward(b).Data) {
				t.Errorf("loaded model predicts differently")
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

func TestSaveIsAtomicAndValidates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	m := newTestModel(t, smallConfig(ModelMinGRU), 43)
	if err := Save(path, m, testInfo(), nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for name, tc := range map[string]struct {
		info  Info
		extra []nn.NamedTensor
		want  string
	}{
		"reserved-meta": {Info{Meta: map[string]string{"minrl.kind": "x"}}, nil, "reserved prefix"},
		"extra-name":    {Info{}, []nn.NamedTensor{{Name: "adam.m", Tensor: nn.New(1)}}, "must be named with one of the prefixes"},
		"extra-clash":   {Info{}, []nn.NamedTensor{{Name: "optim.x", Tensor: nn.New(1)}, {Name: "optim.x", Tensor: nn.New(1)}}, "given twice"},
		"norm":          {Info{Norm: Normalizer{Mean: []float64{1}, Std: []float64{1}}}, nil, "normaliser has 1 means"},
		"norm-std":      {Info{Norm: Normalizer{Mean: make([]float64, 5), Std: []float64{1, 1, 0, 1, 1}}}, nil, "std 2 is 0"},
		"target":        {Info{Targets: []float64{math.Inf(1)}}, nil, "target return 0 is +Inf"},
	} {
		err := Save(path, m, tc.info, tc.extra)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("a failed Save changed the existing file")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := Save(filepath.Join(path, "below-a-file"), m, Info{}, nil); err == nil || !strings.Contains(err.Error(), "policy: checkpoint") {
		t.Errorf("Save below a regular file: %v", err)
	}
}

// reencode reads a valid checkpoint, lets edit change its tensors and
// metadata, and writes it back.
func reencode(t *testing.T, valid []byte, edit func(ts []nn.NamedTensor, meta map[string]string) []nn.NamedTensor) []byte {
	t.Helper()
	ts, meta, err := safetensors.Read(valid)
	if err != nil {
		t.Fatal(err)
	}
	ts = edit(ts, meta)
	var b bytes.Buffer
	if err := safetensors.Write(&b, ts, meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func validCheckpoint(t testing.TB) []byte {
	m, err := NewMLP(MLPConfig{ObsDim: 3, ActDim: 2, Hidden: []int{4}, Act: "relu"}, nn.NewRNG(44))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	info := testInfo()
	info.Norm = Normalizer{}
	extra := []nn.NamedTensor{{Name: "optim.net.0.weight.exp_avg", Tensor: nn.New(3, 4)}}
	if err := Encode(&b, m, info, extra); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeReportsWhatIsWrong(t *testing.T) {
	valid := validCheckpoint(t)
	if _, err := Decode(valid); err != nil {
		t.Fatal(err)
	}
	hdrLen := int(binary.LittleEndian.Uint64(valid))
	huge := slices.Clone(valid)
	binary.LittleEndian.PutUint64(huge, 1<<40)
	find := func(ts []nn.NamedTensor, name string) int {
		return slices.IndexFunc(ts, func(nt nn.NamedTensor) bool { return nt.Name == name })
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"tiny":             {valid[:3], "truncated file: 3 bytes"},
		"truncated-header": {valid[:8+hdrLen/2], "truncated file: header length"},
		"truncated-data":   {valid[:len(valid)-4], "outside the"},
		"header-limit":     {huge, "exceeds the"},
		"not-json":         {rawFile(`{"a" 1}`, nil), "bad header JSON"},
		"not-object":       {rawFile(`[1, 2]`, nil), "does not start with '{'"},
		"not-utf8":         {rawFile("{\"\xff\":1}", nil), "not valid UTF-8"},
		"trailing":         {rawFile(`{} {}`, nil), "after the closing"},
		"dtype":            {rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), `dtype "F16" is not supported`},
		"missing-field":    {rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "needs dtype, shape and data_offsets"},
		"unknown-field":    {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `bad header JSON for tensor "a"`},
		"offsets-count":    {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "data_offsets has 3 values"},
		"offsets-range":    {rawFile(`{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}`, make([]byte, 8)), "data_offsets [0, 400] outside the 8 data bytes"},
		"offsets-negative": {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 8)), "outside the"},
		"offsets-shape":    {rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "shape [3] needs 12 bytes"},
		"shape-negative":   {rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
		"shape-overflow":   {rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,4],"data_offsets":[0,0]}}`, nil), "needs"},
		"shape-dimension":  {rawFile(`{"a":{"dtype":"F32","shape":[2147483648],"data_offsets":[0,0]}}`, nil), "dimension 2147483648 in shape [2147483648] exceeds"},
		"hole":             {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "data bytes [0, 4) belong to no tensor"},
		"tail":             {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "data bytes [4, 8) belong to no tensor"},
		"overlap": {rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
			`tensors "a" and "b" overlap`},
		"duplicate": {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `lists "a" twice`},
		"meta-type": {rawFile(`{"__metadata__":{"k":1}}`, nil), "must map strings to strings"},
		"not-minrl": {rawFile(`{}`, nil), `metadata key "minrl.format" missing`},
		"format":    {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { m[MetaFormat] = "3"; return ts }), `format version "3"`},
		"checksum-absent": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			delete(m, MetaChecksum)
			return ts
		}), `"minrl.sha256" missing`},
		"bounds-removed": {reencode(t, withBounds(t), func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			delete(m, MetaBounds) // the actions would play unscaled
			return ts
		}), "checksum mismatch"},
		"kind": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { m[MetaKind] = "cnn"; return ts }), `minrl.kind is "cnn"`},
		"config-json": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaConfig] = `{"obs_dim":3,`
			return ts
		}), "minrl.config"},
		"config-field": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaConfig] = `{"obs_dim":3,"wings":2}`
			return ts
		}), `unknown field "wings"`},
		"config-bad": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaConfig] = `{"obs_dim":0,"act_dim":2,"act":"relu"}`
			return ts
		}), "MLPConfig.ObsDim = 0"},
		"config-absent":  {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { delete(m, MetaConfig); return ts }), `"minrl.config" missing`},
		"norm-absent":    {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { delete(m, MetaNorm); return ts }), `"minrl.norm" missing`},
		"targets-absent": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { delete(m, MetaTargets); return ts }), `"minrl.targets" missing`},
		"env-absent":     {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor { delete(m, MetaEnvID); return ts }), `"minrl.env_id" missing`},
		"decision-k": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			c := DefaultConfig(ModelDT, 3, 2)
			c.K = 1 << 22 // no weight depends on K: only the bound stops it
			b, _ := json.Marshal(c)
			m[MetaKind], m[MetaConfig] = "decision", string(b)
			return ts
		}), "Config.K = 4194304"},
		"config-huge": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaConfig] = `{"obs_dim":3,"act_dim":2,"hidden":[16000000,16000000],"act":"relu"}`
			return ts
		}), "the config needs 256000112000002 weights but the file holds only"},
		"decision-huge": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			c := DefaultConfig(ModelMinGRU, 3, 2)
			c.Embed, c.Layers = 1<<24, 1024
			b, _ := json.Marshal(c)
			m[MetaKind], m[MetaConfig] = "decision", string(b)
			return ts
		}), "the config needs"},
		"shape": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			ts[find(ts, "net.0.weight")].Tensor = nn.New(4, 3)
			return ts
		}), `tensor "net.0.weight" has shape [4 3], the config needs [3 4]`},
		"missing": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			i := find(ts, "net.1.bias")
			return append(ts[:i], append(ts[i+1:], nn.NamedTensor{Name: "extra.pad", Tensor: nn.New(2)})...)
		}), `1 tensors missing: "net.1.bias"`},
		"unexpected": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			return append(ts, nn.NamedTensor{Name: "net.7.weight", Tensor: nn.New(1)})
		}), `unexpected tensor "net.7.weight"`},
		"nan": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			ts[find(ts, "net.1.weight")].Tensor.Data[5] = float32(math.NaN())
			return ts
		}), `tensor "net.1.weight" holds NaN at index 5`},
		"inf-extra": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			ts[find(ts, "optim.net.0.weight.exp_avg")].Tensor.Data[0] = float32(math.Inf(-1))
			return ts
		}), "holds -Inf at index 0"},
		"norm": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaNorm] = `{"mean":[0,0],"std":[1,1]}`
			return ts
		}), "normaliser has 2 means"},
		"norm-json": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaNorm] = `{"mean":"x"}`
			return ts
		}), "minrl.norm"},
		"targets": {reencode(t, valid, func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
			m[MetaTargets] = `[1, "a"]`
			return ts
		}), "minrl.targets"},
	}
	for name, tc := range cases {
		_, err := Decode(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Errorf("Load of a missing file succeeded")
	}
}

func TestParamCountsMatchModels(t *testing.T) {
	for name, cfg := range sortedTestConfigs() {
		for _, exp := range []float64{1, 0.5, 2} {
			cfg.Expansion = exp
			if !cfg.Recurrent() && exp != 1 {
				continue
			}
			m := newTestModel(t, cfg, 1)
			if got, want := decisionParamCount(cfg), int64(nn.NumParams(m)); got != want {
				t.Errorf("%s α=%g: counted %d, model has %d", name, exp, got, want)
			}
		}
	}
	for _, hidden := range [][]int{nil, {5}, {7, 3, 9}} {
		c := MLPConfig{ObsDim: 4, ActDim: 2, Hidden: hidden, Act: "relu"}
		m, _ := NewMLP(c, nn.NewRNG(1))
		if got, want := mlpParamCount(c), int64(nn.NumParams(m)); got != want {
			t.Errorf("MLP %v: counted %d, model has %d", hidden, got, want)
		}
	}
}

// Every truncation and many single-byte corruptions of a valid file give
// an error or a valid checkpoint, never a panic.
func TestDecodeCorruptionNeverPanics(t *testing.T) {
	valid := validCheckpoint(t)
	for n := 0; n < len(valid); n++ {
		if _, err := Decode(valid[:n]); err == nil {
			t.Fatalf("truncation to %d bytes decoded", n)
		}
	}
	rng := nn.NewRNG(45)
	for i := 0; i < 3000; i++ {
		c := slices.Clone(valid)
		for k := 0; k <= rng.IntN(3); k++ {
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		}
		Decode(c) // must not panic
	}
}

func FuzzDecode(f *testing.F) {
	valid := validCheckpoint(f)
	f.Add(valid)
	f.Add(valid[:40])
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"__metadata__":{"minrl.format":"1","minrl.kind":"mlp","minrl.config":"{}"}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := Decode(data); err == nil {
			var b bytes.Buffer
			if err := Encode(&b, c.Model, c.Info, c.Extra); err != nil {
				t.Fatalf("a decoded checkpoint does not encode: %v", err)
			}
			if _, err := Decode(b.Bytes()); err != nil {
				t.Fatalf("re-encoded checkpoint does not decode: %v", err)
			}
		}
		ts, meta, err := safetensors.Read(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := safetensors.Write(&b, ts, meta); err != nil {
			t.Fatalf("decoded tensors do not encode: %v", err)
		}
		ts2, meta2, err := safetensors.Read(b.Bytes())
		if err != nil || len(ts2) != len(ts) || len(meta2) != len(meta) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// Action bounds travel with a checkpoint, and its actor acts in the env's
// units.
func TestCheckpointActionBounds(t *testing.T) {
	m, err := NewMLP(MLPConfig{ObsDim: 3, ActDim: 2, Hidden: []int{4}, Act: "relu"}, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	b := &ActionBounds{Low: []float64{-2, 0}, High: []float64{2, 10}}
	var buf bytes.Buffer
	if err := Encode(&buf, m, Info{Bounds: b}, nil); err != nil {
		t.Fatal(err)
	}
	ck, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ck.Bounds == nil || !slices.Equal(ck.Bounds.High, b.High) {
		t.Fatalf("bounds %+v", ck.Bounds)
	}
	unit, _ := NewMLPActor(m, Normalizer{})
	scaled, err := NewActor(ck, 0)
	if err != nil {
		t.Fatal(err)
	}
	obs := []float64{0.1, -0.2, 0.3}
	u, a := make([]float64, 2), make([]float64, 2)
	unit.Reset(1)
	scaled.Reset(1)
	unit.Act(obs, []float64{0}, u)
	scaled.Act(obs, []float64{0}, a)
	for i := range u {
		if want := b.Low[i] + (u[i]+1)*(b.High[i]-b.Low[i])/2; math.Abs(a[i]-want) > 1e-12 {
			t.Errorf("action %d: %g, want %g", i, a[i], want)
		}
	}
	if err := Encode(&buf, m, Info{Bounds: &ActionBounds{Low: []float64{1}, High: []float64{0}}}, nil); err == nil {
		t.Error("bad bounds encoded")
	}
}

// withBounds is a valid checkpoint whose policy acts in [0, 4] × [−2, 2].
func withBounds(t *testing.T) []byte {
	m, err := NewMLP(MLPConfig{ObsDim: 3, ActDim: 2, Hidden: []int{4}, Act: "relu"}, nn.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	info := Info{EnvID: "X-v0", Targets: []float64{1}, Bounds: &ActionBounds{Low: []float64{0, -2}, High: []float64{4, 2}}}
	if err := Encode(&b, m, info, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Every single flipped bit of a checkpoint, in the header or the data, is
// an error: the structure checks or the checksum catch it (issue 16,
// item 5; before the checksum, most data flips loaded silently).
func TestCheckpointBitFlipsAreCaught(t *testing.T) {
	valid := withBounds(t)
	if _, err := Decode(valid); err != nil {
		t.Fatal(err)
	}
	for pos := 0; pos < len(valid); pos++ {
		for _, bit := range []byte{1, 0x10, 0x80} {
			data := bytes.Clone(valid)
			data[pos] ^= bit
			if _, err := Decode(data); err == nil {
				t.Fatalf("bit %#x of byte %d of %d flipped: decoded without error", bit, pos, len(valid))
			}
		}
	}
}

// Checkpoints of format 1 (before checksums) still load.
func TestCheckpointFormat1StillLoads(t *testing.T) {
	old := reencode(t, withBounds(t), func(ts []nn.NamedTensor, m map[string]string) []nn.NamedTensor {
		m[MetaFormat] = "1"
		delete(m, MetaChecksum)
		return ts
	})
	c, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	if c.Bounds == nil {
		t.Error("bounds lost")
	}
}
