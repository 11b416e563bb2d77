package onnx

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func sample(name string, f float32, i int64, data []byte) *Model {
	floats := make([]float32, len(data)/4)
	for j := range floats {
		floats[j] = math.Float32frombits(uint32(data[4*j]) | uint32(data[4*j+1])<<8 | uint32(data[4*j+2])<<16 | uint32(data[4*j+3])<<24)
	}
	ints := make([]int64, len(data))
	for j, c := range data {
		ints[j] = int64(c) * i
	}
	bools := make([]int64, len(data))
	for j, c := range data {
		bools[j] = int64(c & 1)
	}
	return &Model{
		IRVersion: 8, Opset: 17, Producer: "minrl", ProducerVersion: name, Doc: "d" + name,
		Graph: Graph{
			Name: "g" + name, Doc: name,
			Nodes: []Node{
				{Name: "n" + name, Op: "Add", In: []string{name, "x"}, Out: []string{"y"}, Attrs: []Attr{
					{Name: "f", Type: AttrFloat, F: f}, {Name: "i", Type: AttrInt, I: i}, {Name: "s", Type: AttrString, S: name},
					{Name: "ints", Type: AttrInts, Ints: ints}, {Name: "t", Type: AttrTensor, T: &Tensor{Name: "c", Type: Int64, Dims: []int64{int64(len(ints))}, Ints: ints}},
				}},
				{Name: "n2", Op: "Relu", In: []string{"y"}, Out: []string{"z"}},
			},
			Init: []Tensor{
				{Name: name, Type: Float, Dims: []int64{int64(len(floats)), 1}, Floats: floats},
				{Name: "b", Type: Bool, Dims: []int64{int64(len(bools))}, Ints: bools},
			},
			Inputs:  []Value{{Name: "x", Type: Float, Shape: []Dim{{Param: "batch"}, {Value: i}}, Doc: name}},
			Outputs: []Value{{Name: "z", Type: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}}}},
		},
		Meta: []KV{{Key: name, Value: "v"}, {Key: "k", Value: name}},
	}
}

// equalModels compares two models field by field, float bits exact, with
// empty and nil slices alike.
func equalModels(t *testing.T, a, b *Model) {
	t.Helper()
	if !bytes.Equal(a.Marshal(), b.Marshal()) {
		t.Fatal("re-marshalled bytes differ")
	}
	ga, gb := a.Graph, b.Graph
	if a.IRVersion != b.IRVersion || a.Opset != b.Opset || a.Producer != b.Producer || a.ProducerVersion != b.ProducerVersion ||
		a.Doc != b.Doc || ga.Name != gb.Name || ga.Doc != gb.Doc || len(ga.Nodes) != len(gb.Nodes) || len(ga.Init) != len(gb.Init) ||
		!reflect.DeepEqual(a.Meta, b.Meta) || !reflect.DeepEqual(ga.Inputs, gb.Inputs) || !reflect.DeepEqual(ga.Outputs, gb.Outputs) {
		t.Fatalf("models differ:\n%+v\n%+v", a, b)
	}
	for i := range ga.Nodes {
		na, nb := ga.Nodes[i], gb.Nodes[i]
		if na.Name != nb.Name || na.Op != nb.Op || !reflect.DeepEqual(na.In, nb.In) || !reflect.DeepEqual(na.Out, nb.Out) || len(na.Attrs) != len(nb.Attrs) {
			t.Fatalf("node %d differs: %+v vs %+v", i, na, nb)
		}
		for j := range na.Attrs {
			x, y := na.Attrs[j], nb.Attrs[j]
			if x.Name != y.Name || x.Type != y.Type || math.Float32bits(x.F) != math.Float32bits(y.F) || x.I != y.I || x.S != y.S ||
				len(x.Ints) != len(y.Ints) || (x.T == nil) != (y.T == nil) {
				t.Fatalf("attribute %q differs: %+v vs %+v", x.Name, x, y)
			}
		}
	}
	for i := range ga.Init {
		x, y := ga.Init[i], gb.Init[i]
		if x.Name != y.Name || x.Type != y.Type || !reflect.DeepEqual(x.Dims, y.Dims) || len(x.Floats) != len(y.Floats) || len(x.Ints) != len(y.Ints) {
			t.Fatalf("initializer %q differs", x.Name)
		}
		for j := range x.Floats {
			if math.Float32bits(x.Floats[j]) != math.Float32bits(y.Floats[j]) {
				t.Fatalf("initializer %q value %d differs", x.Name, j)
			}
		}
		for j := range x.Ints {
			if x.Ints[j] != y.Ints[j] {
				t.Fatalf("initializer %q value %d differs", x.Name, j)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	m := sample("w", -1.5, 42, []byte{1, 2, 3, 4, 0xff, 0x7f, 0x80, 0x7f})
	back, err := Parse(m.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	equalModels(t, m, back)
	if math.Float32bits(back.Graph.Init[0].Floats[1]) != 0x7f807fff || back.Graph.Nodes[0].Attrs[3].Ints[4] != 255*42 {
		t.Errorf("values: %v %v", back.Graph.Init[0].Floats, back.Graph.Nodes[0].Attrs[3].Ints)
	}
	// Truncations never panic and mostly fail.
	b := m.Marshal()
	for n := range len(b) {
		Parse(b[:n])
	}
}

// The bytes follow onnx.proto's field numbers (checked with protowire,
// independently of Parse): ModelProto.ir_version = 1, graph = 7,
// opset_import = 8; GraphProto.node = 1.
func TestFieldNumbers(t *testing.T) {
	b := sample("w", 1, 1, nil).Marshal()
	seen := map[protowire.Number]protowire.Type{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		seen[num] = typ
		b = b[protowire.ConsumeFieldValue(num, typ, b):]
	}
	want := map[protowire.Number]protowire.Type{1: protowire.VarintType, 2: protowire.BytesType, 3: protowire.BytesType, 6: protowire.BytesType,
		7: protowire.BytesType, 8: protowire.BytesType, 14: protowire.BytesType}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("top-level fields %v, want %v", seen, want)
	}
}

func FuzzONNXRoundTrip(f *testing.F) {
	f.Add("w", float32(1.5), int64(3), []byte{1, 2, 3, 4})
	f.Add("", float32(math.Inf(-1)), int64(-1), []byte{})
	f.Add("blocks.0.rnn.proj.weight", float32(math.NaN()), int64(math.MinInt64), []byte{0xff, 0xff, 0xc0, 0x7f, 9})
	f.Fuzz(func(t *testing.T, name string, fv float32, iv int64, data []byte) {
		m := sample(name, fv, iv, data)
		back, err := Parse(m.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		equalModels(t, m, back)
		// Parse survives any bytes: here, the encoding with one byte changed.
		b := m.Marshal()
		if len(data) > 0 && len(b) > 0 {
			b[int(data[0])*len(b)/256] ^= data[len(data)-1] | 1
			Parse(b)
		}
	})
}
