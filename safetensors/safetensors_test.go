package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/nn"
)

// rawFile assembles a safetensors file from a header and data bytes.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// A file laid out by hand from the format's definition reads back.
func TestReadHandMade(t *testing.T) {
	hdr := `{"b":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"__metadata__":{"k":"v"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"F32","shape":[],"data_offsets":[16,20]},` +
		`"z":{"dtype":"F32","shape":[0,3],"data_offsets":[20,20]}}  `
	ts, meta, err := Read(rawFile(hdr, f32bytes(1, -2, 3.5, 4, 5)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta, map[string]string{"k": "v"}) {
		t.Errorf("metadata %v", meta)
	}
	want := []struct {
		name  string
		shape []int
		data  []float32
	}{{"a", []int{2}, []float32{1, -2}}, {"b", []int{1, 2}, []float32{3.5, 4}}, {"s", []int{}, []float32{5}}, {"z", []int{0, 3}, []float32{}}}
	if len(ts) != len(want) {
		t.Fatalf("%d tensors", len(ts))
	}
	for i, w := range want {
		if ts[i].Name != w.name || !slices.Equal(ts[i].Tensor.Shape, w.shape) || !slices.Equal(ts[i].Tensor.Data, w.data) {
			t.Errorf("tensor %d: %s %v %v, want %v", i, ts[i].Name, ts[i].Tensor.Shape, ts[i].Tensor.Data, w)
		}
	}
}

// The writer's output follows the format: an 8-aligned JSON header of
// {dtype, shape, data_offsets} records and metadata, then the data.
func TestWriteLayout(t *testing.T) {
	var b bytes.Buffer
	tensors := []nn.NamedTensor{
		{Name: "w", Tensor: nn.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)},
		{Name: "b\"quoted\"", Tensor: nn.FromData([]float32{-1}, 1)},
	}
	if err := Write(&b, tensors, map[string]string{"note": "<a & b>"}); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var w struct {
		Dtype   string  `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	json.Unmarshal(hdr["w"], &w)
	if w.Dtype != "F32" || !slices.Equal(w.Shape, []int{2, 3}) || !slices.Equal(w.Offsets, []int64{0, 24}) {
		t.Errorf("header record %+v", w)
	}
	if !bytes.Equal(raw[8+n:], append(f32bytes(1, 2, 3, 4, 5, 6), f32bytes(-1)...)) {
		t.Errorf("data bytes differ")
	}
	got, meta, err := Read(raw)
	if err != nil || meta["note"] != "<a & b>" || got[1].Name != `b"quoted"` {
		t.Errorf("read back: %v %v %v", got, meta, err)
	}
	for _, bad := range [][]nn.NamedTensor{
		{{Name: "x", Tensor: nn.New(2)}, {Name: "x", Tensor: nn.New(1)}},
		{{Name: "", Tensor: nn.New(1)}},
		{{Name: "__metadata__", Tensor: nn.New(1)}},
		{{Name: "x", Tensor: &nn.Tensor{Shape: []int{3}, Data: make([]float32, 2)}}},
		{{Name: "x"}},
	} {
		if err := Write(&bytes.Buffer{}, bad, nil); err == nil {
			t.Errorf("wrote %v", bad)
		}
	}
}

// Hostile headers get an error naming what is wrong, never a panic or an
// allocation sized by the header before it is checked.
func TestReadRejectsHostileHeaders(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"short":        {[]byte{1, 2, 3}, "truncated file"},
		"huge-header":  {huge, "exceeds"},
		"past-end":     {rawFile("{", nil)[:8], "truncated file"},
		"not-json":     {rawFile(`{"a" 1}`, nil), "bad header JSON"},
		"dtype":        {rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), `dtype "F16"`},
		"huge-shape":   {rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs"},
		"big-dim":      {rawFile(`{"a":{"dtype":"F32","shape":[4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "exceeds 2^31-1"},
		"neg-dim":      {rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
		"offsets-out":  {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 4)), "outside"},
		"gap":          {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "belong to no tensor"},
		"overlap":      {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "overlap"},
		"dup":          {rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), "twice"},
		"meta-not-str": {rawFile(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
	} {
		_, _, err := Read(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := Write(&b, []nn.NamedTensor{{Name: "w", Tensor: nn.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)},
		{Name: "b", Tensor: nn.FromData([]float32{-1}, 1)}}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"__metadata__":{"a":"b"}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := Read(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, ts, meta); err != nil {
			t.Fatalf("decoded tensors do not encode: %v", err)
		}
		ts2, meta2, err := Read(b.Bytes())
		if err != nil || !reflect.DeepEqual(meta2, meta) && len(meta)+len(meta2) > 0 || len(ts2) != len(ts) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range ts {
			if ts[i].Name != ts2[i].Name || !slices.Equal(ts[i].Tensor.Shape, ts2[i].Tensor.Shape) ||
				!slices.Equal(f32bits(ts[i].Tensor.Data), f32bits(ts2[i].Tensor.Data)) {
				t.Fatalf("tensor %d differs after a round trip", i)
			}
		}
	})
}

func f32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}
