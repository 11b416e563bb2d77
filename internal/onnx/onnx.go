// Package onnx writes and reads the subset of the ONNX protobuf format
// (onnx.proto, IR version 8) that minrl's policy exports use: a model with
// one graph of nodes, float32/int64 initializers and tensor-typed inputs
// and outputs, and string metadata. It is encoded with protowire by hand:
// generated types would bring the whole proto runtime for ~10 messages.
//
// Parse reads back what Marshal writes (for the round-trip tests and the
// export summary); it skips fields outside the subset and never panics.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is TensorProto.DataType.
type DataType int32

// The element types minrl's exports use.
const (
	Float DataType = 1
	Int64 DataType = 7
	Bool  DataType = 9
)

func (t DataType) String() string {
	switch t {
	case Float:
		return "float32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("type(%d)", int32(t))
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// The attribute types minrl's exports use.
const (
	AttrFloat  AttrType = 1
	AttrInt    AttrType = 2
	AttrString AttrType = 3
	AttrTensor AttrType = 4
	AttrInts   AttrType = 7
)

// Tensor is a TensorProto with its data: Floats for Float, Ints for Int64
// and Bool (0 or 1), stored as raw little-endian bytes.
type Tensor struct {
	Name   string
	Type   DataType
	Dims   []int64
	Floats []float32
	Ints   []int64
}

// Attr is an AttributeProto of one of the AttrTypes.
type Attr struct {
	Name string
	Type AttrType
	F    float32
	I    int64
	S    string
	Ints []int64
	T    *Tensor
}

// Node is a NodeProto of the default domain.
type Node struct {
	Name  string
	Op    string
	In    []string
	Out   []string
	Attrs []Attr
}

// Dim is one dimension of a value's shape: a size, or a symbolic name
// (Param) such as "batch".
type Dim struct {
	Value int64
	Param string
}

// Value is a ValueInfoProto of a tensor type.
type Value struct {
	Name  string
	Type  DataType
	Shape []Dim
	Doc   string
}

// Graph is a GraphProto.
type Graph struct {
	Name    string
	Doc     string
	Nodes   []Node
	Init    []Tensor
	Inputs  []Value
	Outputs []Value
}

// KV is a metadata entry (StringStringEntryProto).
type KV struct{ Key, Value string }

// Model is a ModelProto importing one version of the default domain.
type Model struct {
	IRVersion       int64
	Opset           int64
	Producer        string
	ProducerVersion string
	Doc             string
	Graph           Graph
	Meta            []KV
}

// ---- writing ----

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendPackedInts(b []byte, num protowire.Number, vs []int64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, uint64(v))
	}
	return appendMsg(b, num, p)
}

// Marshal encodes the model as an ONNX file.
func (m *Model) Marshal() []byte {
	var b []byte
	b = appendInt(b, 1, m.IRVersion)
	b = appendString(b, 2, m.Producer)
	b = appendString(b, 3, m.ProducerVersion)
	if m.Doc != "" {
		b = appendString(b, 6, m.Doc)
	}
	b = appendMsg(b, 7, m.Graph.marshal())
	b = appendMsg(b, 8, appendInt(appendString(nil, 1, ""), 2, m.Opset))
	for _, kv := range m.Meta {
		b = appendMsg(b, 14, appendString(appendString(nil, 1, kv.Key), 2, kv.Value))
	}
	return b
}

func (g *Graph) marshal() []byte {
	var b []byte
	for i := range g.Nodes {
		b = appendMsg(b, 1, g.Nodes[i].marshal())
	}
	b = appendString(b, 2, g.Name)
	for i := range g.Init {
		b = appendMsg(b, 5, g.Init[i].marshal())
	}
	if g.Doc != "" {
		b = appendString(b, 10, g.Doc)
	}
	for _, v := range g.Inputs {
		b = appendMsg(b, 11, v.marshal())
	}
	for _, v := range g.Outputs {
		b = appendMsg(b, 12, v.marshal())
	}
	return b
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, s := range n.In {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Out {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.Op)
	for i := range n.Attrs {
		b = appendMsg(b, 5, n.Attrs[i].marshal())
	}
	return b
}

func (a *Attr) marshal() []byte {
	b := appendString(nil, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = appendInt(b, 3, a.I)
	case AttrString:
		b = appendString(b, 4, a.S)
	case AttrTensor:
		if a.T != nil {
			b = appendMsg(b, 5, a.T.marshal())
		}
	case AttrInts:
		b = appendPackedInts(b, 8, a.Ints)
	}
	return appendInt(b, 20, int64(a.Type))
}

func (t *Tensor) marshal() []byte {
	b := appendPackedInts(nil, 1, t.Dims)
	b = appendInt(b, 2, int64(t.Type))
	b = appendString(b, 8, t.Name)
	var raw []byte
	switch t.Type {
	case Float:
		raw = make([]byte, 4*len(t.Floats))
		for i, v := range t.Floats {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case Int64:
		raw = make([]byte, 8*len(t.Ints))
		for i, v := range t.Ints {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	case Bool:
		raw = make([]byte, len(t.Ints))
		for i, v := range t.Ints {
			if v != 0 {
				raw[i] = 1
			}
		}
	}
	return appendMsg(b, 9, raw)
}

func (v *Value) marshal() []byte {
	var shape []byte
	for _, d := range v.Shape {
		var dim []byte
		if d.Param != "" {
			dim = appendString(nil, 2, d.Param)
		} else {
			dim = appendInt(nil, 1, d.Value)
		}
		shape = appendMsg(shape, 1, dim)
	}
	tt := appendInt(nil, 1, int64(v.Type))
	tt = appendMsg(tt, 2, shape)
	b := appendString(nil, 1, v.Name)
	b = appendMsg(b, 2, appendMsg(nil, 1, tt))
	if v.Doc != "" {
		b = appendString(b, 3, v.Doc)
	}
	return b
}

// ---- reading ----

var errTruncated = errors.New("onnx: truncated or malformed field")

// fields calls f for each field of the message b; f gets the field's
// number, wire type, and (for varint and fixed32) the value or (for bytes)
// the payload.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		var v uint64
		var p []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.BytesType:
			p, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		if err := f(num, typ, v, p); err != nil {
			return err
		}
	}
	return nil
}

func packedInts(p []byte, v uint64, typ protowire.Type, dst []int64) ([]int64, error) {
	if typ == protowire.VarintType {
		return append(dst, int64(v)), nil
	}
	for len(p) > 0 {
		x, n := protowire.ConsumeVarint(p)
		if n < 0 {
			return nil, errTruncated
		}
		dst = append(dst, int64(x))
		p = p[n:]
	}
	return dst, nil
}

// Parse decodes a model written by Marshal (fields outside the subset are
// skipped). It returns an error on malformed input and never panics.
func Parse(b []byte) (*Model, error) {
	m := &Model{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		switch num {
		case 1:
			m.IRVersion = int64(v)
		case 2:
			m.Producer = string(p)
		case 3:
			m.ProducerVersion = string(p)
		case 6:
			m.Doc = string(p)
		case 7:
			return m.Graph.parse(p)
		case 8:
			return fields(p, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if num == 2 {
					m.Opset = int64(v)
				}
				return nil
			})
		case 14:
			var kv KV
			err := fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				switch num {
				case 1:
					kv.Key = string(p)
				case 2:
					kv.Value = string(p)
				}
				return nil
			})
			m.Meta = append(m.Meta, kv)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (g *Graph) parse(b []byte) error {
	return fields(b, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
		switch num {
		case 1:
			var n Node
			err := n.parse(p)
			g.Nodes = append(g.Nodes, n)
			return err
		case 2:
			g.Name = string(p)
		case 5:
			var t Tensor
			err := t.parse(p)
			g.Init = append(g.Init, t)
			return err
		case 10:
			g.Doc = string(p)
		case 11, 12:
			var v Value
			err := v.parse(p)
			if num == 11 {
				g.Inputs = append(g.Inputs, v)
			} else {
				g.Outputs = append(g.Outputs, v)
			}
			return err
		}
		return nil
	})
}

func (n *Node) parse(b []byte) error {
	return fields(b, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
		switch num {
		case 1:
			n.In = append(n.In, string(p))
		case 2:
			n.Out = append(n.Out, string(p))
		case 3:
			n.Name = string(p)
		case 4:
			n.Op = string(p)
		case 5:
			var a Attr
			err := a.parse(p)
			n.Attrs = append(n.Attrs, a)
			return err
		}
		return nil
	})
}

func (a *Attr) parse(b []byte) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			a.Name = string(p)
		case 2:
			a.F = math.Float32frombits(uint32(v))
		case 3:
			a.I = int64(v)
		case 4:
			a.S = string(p)
		case 5:
			a.T = &Tensor{}
			err = a.T.parse(p)
		case 8:
			a.Ints, err = packedInts(p, v, typ, a.Ints)
		case 20:
			a.Type = AttrType(v)
		}
		return err
	})
}

func (t *Tensor) parse(b []byte) error {
	var raw []byte
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, p []byte) error {
		var err error
		switch num {
		case 1:
			t.Dims, err = packedInts(p, v, typ, t.Dims)
		case 2:
			t.Type = DataType(v)
		case 8:
			t.Name = string(p)
		case 9:
			raw = p
		}
		return err
	})
	if err != nil {
		return err
	}
	switch t.Type {
	case Float:
		if len(raw)%4 != 0 {
			return fmt.Errorf("onnx: tensor %q: %d raw bytes of float32", t.Name, len(raw))
		}
		t.Floats = make([]float32, len(raw)/4)
		for i := range t.Floats {
			t.Floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case Int64:
		if len(raw)%8 != 0 {
			return fmt.Errorf("onnx: tensor %q: %d raw bytes of int64", t.Name, len(raw))
		}
		t.Ints = make([]int64, len(raw)/8)
		for i := range t.Ints {
			t.Ints[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case Bool:
		t.Ints = make([]int64, len(raw))
		for i, c := range raw {
			t.Ints[i] = int64(c)
		}
	}
	return nil
}

func (v *Value) parse(b []byte) error {
	return fields(b, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
		switch num {
		case 1:
			v.Name = string(p)
		case 3:
			v.Doc = string(p)
		case 2: // TypeProto
			return fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
				if num != 1 {
					return nil
				}
				return fields(p, func(num protowire.Number, _ protowire.Type, x uint64, p []byte) error {
					switch num {
					case 1:
						v.Type = DataType(x)
					case 2:
						v.Shape = v.Shape[:0]
						return fields(p, func(num protowire.Number, _ protowire.Type, _ uint64, p []byte) error {
							if num != 1 {
								return nil
							}
							var d Dim
							err := fields(p, func(num protowire.Number, _ protowire.Type, x uint64, p []byte) error {
								switch num {
								case 1:
									d.Value = int64(x)
								case 2:
									d.Param = string(p)
								}
								return nil
							})
							v.Shape = append(v.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
}

// Size is the number of elements a tensor's dims describe (−1 if negative
// or overflowing).
func (t *Tensor) Size() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 || d != 0 && n > math.MaxInt64/d {
			return -1
		}
		n *= d
	}
	return n
}

// Describe lists the graph's inputs and outputs with their types and
// shapes, one per line ("observation float32 [batch, 17]").
func (g *Graph) Describe() []string {
	var lines []string
	for i, vs := range [][]Value{g.Inputs, g.Outputs} {
		dir := "input "
		if i == 1 {
			dir = "output"
		}
		for _, v := range vs {
			shape := make([]string, len(v.Shape))
			for j, d := range v.Shape {
				if d.Param != "" {
					shape[j] = d.Param
				} else {
					shape[j] = fmt.Sprint(d.Value)
				}
			}
			lines = append(lines, fmt.Sprintf("%s %-18s %-7s [%s]", dir, v.Name, v.Type, strings.Join(shape, ", ")))
		}
	}
	return lines
}
