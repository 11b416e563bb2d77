// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors) for float32 tensors: minrl's
// checkpoints, its policy exports and the PPO agent files. The reader
// treats its input as hostile: it validates the header size, the JSON
// header, dtypes, shapes and offsets before it allocates the tensors, and
// it never panics.
//
// A file is
//
//	u64 N (little-endian) | N bytes of JSON header | data
//
// where the header maps each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]} (byte offsets into the data, which the
// tensors must cover exactly, without gaps or overlaps) and the optional
// key "__metadata__" to a string→string map. Data are little-endian. minrl
// writes and reads F32 only; the header is padded with spaces to a
// multiple of 8 bytes, as the reference writer does.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/minrl/minrl/nn"
)

// MaxHeader bounds the header size, as the reference reader does (100 MB).
const MaxHeader = 100 << 20

// MetadataKey is the reserved header key of the string→string metadata.
const MetadataKey = "__metadata__"

// Write writes the tensors (F32, in the given order) and the
// metadata in safetensors format. Names must be unique and non-empty, and
// each tensor's data must match its shape.
func Write(w io.Writer, tensors []nn.NamedTensor, meta map[string]string) error {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(meta) > 0 {
		writeJSONString(&hdr, MetadataKey)
		hdr.WriteString(":{")
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			writeJSONString(&hdr, k)
			hdr.WriteByte(':')
			writeJSONString(&hdr, meta[k])
		}
		hdr.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for i, nt := range tensors {
		switch {
		case nt.Name == "" || nt.Name == MetadataKey:
			return fmt.Errorf("safetensors: tensor %d has the reserved or empty name %q", i, nt.Name)
		case seen[nt.Name]:
			return fmt.Errorf("safetensors: tensor %q given twice", nt.Name)
		case nt.Tensor == nil:
			return fmt.Errorf("safetensors: tensor %q is nil", nt.Name)
		}
		n := 1
		for _, s := range nt.Tensor.Shape {
			if s < 0 {
				return fmt.Errorf("safetensors: tensor %q has shape %v", nt.Name, nt.Tensor.Shape)
			}
			n *= s
		}
		if n != len(nt.Tensor.Data) {
			return fmt.Errorf("safetensors: tensor %q has shape %v but %d values", nt.Name, nt.Tensor.Shape, len(nt.Tensor.Data))
		}
		seen[nt.Name] = true
		if hdr.Len() > 1 {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, nt.Name)
		hdr.WriteString(`:{"dtype":"F32","shape":[`)
		for j, s := range nt.Tensor.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(s))
		}
		end := off + 4*int64(n)
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	var buf [4096]byte
	for _, nt := range tensors {
		d := nt.Tensor.Data
		for len(d) > 0 {
			k := min(len(d), len(buf)/4)
			for i, v := range d[:k] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*k]); err != nil {
				return err
			}
			d = d[k:]
		}
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// headerEntry is one tensor's header record; pointers tell missing fields.
type headerEntry struct {
	Dtype   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// Read decodes a safetensors file held in data. It checks the
// whole structure and returns an error naming what is wrong: a truncated
// file, a bad header, an unsupported dtype, offsets out of range or not
// matching the shape, data not covered exactly. It never panics on any
// input. Tensors come back in data-offset order.
func Read(data []byte) ([]nn.NamedTensor, map[string]string, error) {
	fail := func(format string, args ...any) ([]nn.NamedTensor, map[string]string, error) {
		return nil, nil, fmt.Errorf("safetensors: "+format, args...)
	}
	if len(data) < 8 {
		return fail("truncated file: %d bytes, need at least 8 for the header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeader {
		return fail("header length %d exceeds the %d-byte limit", n, MaxHeader)
	}
	if n > uint64(len(data)-8) {
		return fail("truncated file: header length %d but only %d bytes follow", n, len(data)-8)
	}
	header, buf := data[8:8+n], data[8+n:]
	if !utf8.Valid(header) {
		return fail("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return fail("header does not start with '{'")
	}
	type rec struct {
		name       string
		shape      []int
		begin, end int64
	}
	var recs []rec
	var meta map[string]string
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil { // '{'
		return fail("bad header JSON: %v", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("bad header JSON: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fail("header lists %q twice", key)
		}
		seen[key] = true
		if key == MetadataKey {
			if err := dec.Decode(&meta); err != nil {
				return fail("bad header JSON: __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return fail("bad header JSON for tensor %q: %v", key, err)
		}
		switch {
		case key == "":
			return fail("header has a tensor with an empty name")
		case e.Dtype == nil || e.Shape == nil || e.Offsets == nil:
			return fail("tensor %q: header entry needs dtype, shape and data_offsets", key)
		case *e.Dtype != "F32":
			return fail("tensor %q: dtype %q is not supported (minrl reads F32 only)", key, *e.Dtype)
		case len(*e.Offsets) != 2:
			return fail("tensor %q: data_offsets has %d values, want [begin, end]", key, len(*e.Offsets))
		}
		r := rec{name: key, begin: (*e.Offsets)[0], end: (*e.Offsets)[1]}
		numel := int64(1)
		for _, s := range *e.Shape {
			if s < 0 {
				return fail("tensor %q: negative dimension in shape %v", key, *e.Shape)
			}
			if s > math.MaxInt32 {
				return fail("tensor %q: dimension %d in shape %v exceeds 2^31-1", key, s, *e.Shape)
			}
			if s != 0 && numel > int64(len(buf))/s {
				numel = int64(len(buf)) + 1 // larger than any tensor the data can hold
			} else {
				numel *= s
			}
			r.shape = append(r.shape, int(s))
		}
		if r.begin < 0 || r.end < r.begin || r.end > int64(len(buf)) {
			return fail("tensor %q: data_offsets [%d, %d] outside the %d data bytes", key, r.begin, r.end, len(buf))
		}
		if numel > int64(len(buf)) || r.end-r.begin != 4*numel {
			return fail("tensor %q: shape %v needs %d bytes of F32, data_offsets [%d, %d] give %d", key, *e.Shape, 4*numel, r.begin, r.end, r.end-r.begin)
		}
		recs = append(recs, r)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fail("bad header JSON: %v", err)
	}
	if rest := bytes.TrimLeft(header[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return fail("bad header JSON: %d bytes after the closing '}'", len(rest))
	}
	slices.SortStableFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end))
	})
	var at int64
	for i, r := range recs {
		switch {
		case r.begin > at:
			return fail("data bytes [%d, %d) belong to no tensor", at, r.begin)
		case r.begin < at:
			return fail("tensors %q and %q overlap in the data", recs[i-1].name, r.name)
		}
		at = r.end
	}
	if at != int64(len(buf)) {
		return fail("data bytes [%d, %d) belong to no tensor", at, len(buf))
	}
	out := make([]nn.NamedTensor, len(recs))
	for i, r := range recs {
		vals := make([]float32, (r.end-r.begin)/4)
		for j := range vals {
			vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[r.begin+4*int64(j):]))
		}
		out[i] = nn.NamedTensor{Name: r.name, Tensor: nn.FromData(vals, r.shape...)}
	}
	return out, meta, nil
}
