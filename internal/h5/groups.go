package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Groups, links, attributes and the global heap: how h5read.go finds
// datasets by path and reads small metadata values.

// Children lists the members of the group whose object header is at addr:
// name -> object header address (hard links only). Results are cached.
func (f *File) Children(addr uint64) (map[string]uint64, error) {
	if kids, ok := f.groups[addr]; ok {
		return kids, nil
	}
	kids, err := f.readChildren(addr)
	if err != nil {
		return nil, err
	}
	if f.groups == nil {
		f.groups = map[uint64]map[string]uint64{}
	}
	f.groups[addr] = kids
	return kids, nil
}

func (f *File) readChildren(addr uint64) (map[string]uint64, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	isGroup := false
	for _, m := range msgs {
		switch m.typ {
		case h5MsgSymbolTable:
			isGroup = true
			d := &decoder{b: m.data}
			btree, heap := d.uN(f.offSize), d.uN(f.offSize)
			if d.err != nil {
				return nil, d.err
			}
			if err := f.symbolTable(btree, heap, out); err != nil {
				return nil, err
			}
		case h5MsgLink:
			isGroup = true
			name, target, ok, err := f.parseLink(m.data)
			if err != nil {
				return nil, err
			}
			if ok {
				out[name] = target
			}
		case h5MsgLinkInfo:
			isGroup = true
			d := &decoder{b: m.data}
			d.u8()
			if flags := d.u8(); flags&1 != 0 {
				d.skip(8)
			}
			if heap := d.uN(f.offSize); d.err == nil && !f.undefined(heap) {
				return nil, fmt.Errorf("%w: dense link storage (a group with many members written with libver='latest')", ErrUnsupported)
			}
		}
	}
	if !isGroup {
		return nil, fmt.Errorf("%w: object at %d is not a group", ErrCorrupt, addr)
	}
	return out, nil
}

// symbolTable adds the entries of an old-style group (B-tree v1 of symbol
// table nodes, names in a local heap) to out.
func (f *File) symbolTable(btree, heapAddr uint64, out map[string]uint64) error {
	// Local heap: "HEAP", version, reserved(3), data size(L), free list(L), data address(O).
	hh := make([]byte, 8+2*f.lenSize+f.offSize)
	if err := f.readAt(hh, heapAddr); err != nil {
		return err
	}
	if string(hh[:4]) != "HEAP" {
		return fmt.Errorf("%w: local heap at %d: bad signature", ErrCorrupt, heapAddr)
	}
	d := &decoder{b: hh, off: 8}
	size := d.uN(f.lenSize)
	d.uN(f.lenSize)
	dataAddr := d.uN(f.offSize)
	if d.err != nil || !f.within(dataAddr, size) || size > h5MaxHeaderBytes*16 {
		return fmt.Errorf("%w: local heap at %d: %d bytes at %d", ErrCorrupt, heapAddr, size, dataAddr)
	}
	heap := make([]byte, size)
	if err := f.readAt(heap, dataAddr); err != nil {
		return err
	}
	visited := map[uint64]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > h5MaxBTreeDepth || visited[addr] {
			return fmt.Errorf("%w: group B-tree loops or is too deep", ErrCorrupt)
		}
		visited[addr] = true
		head := make([]byte, 8+2*f.offSize)
		if err := f.readAt(head, addr); err != nil {
			return err
		}
		if string(head[:4]) != "TREE" || head[4] != 0 {
			return fmt.Errorf("%w: group B-tree node at %d: bad signature", ErrCorrupt, addr)
		}
		level := int(head[5])
		entries := int(binary.LittleEndian.Uint16(head[6:8]))
		n := uint64(entries*(f.lenSize+f.offSize) + f.lenSize)
		if !f.within(addr+uint64(len(head)), n) {
			return fmt.Errorf("%w: group B-tree node at %d: %d entries beyond end of file", ErrCorrupt, addr, entries)
		}
		body := make([]byte, n)
		if err := f.readAt(body, addr+uint64(len(head))); err != nil {
			return err
		}
		d := &decoder{b: body}
		for range entries {
			d.uN(f.lenSize) // key: heap offset of the largest name
			child := d.uN(f.offSize)
			if d.err != nil {
				return d.err
			}
			var err error
			if level > 0 {
				err = walk(child, depth+1)
			} else {
				err = f.symbolNode(child, heap, out)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(btree, 0)
}

// symbolNode adds the entries of one symbol table node ("SNOD").
func (f *File) symbolNode(addr uint64, heap []byte, out map[string]uint64) error {
	var head [8]byte
	if err := f.readAt(head[:], addr); err != nil {
		return err
	}
	if string(head[:4]) != "SNOD" {
		return fmt.Errorf("%w: symbol table node at %d: bad signature", ErrCorrupt, addr)
	}
	n := int(binary.LittleEndian.Uint16(head[6:8]))
	entry := 2*f.offSize + 24
	if !f.within(addr+8, uint64(n*entry)) {
		return fmt.Errorf("%w: symbol table node at %d: %d entries beyond end of file", ErrCorrupt, addr, n)
	}
	body := make([]byte, n*entry)
	if err := f.readAt(body, addr+8); err != nil {
		return err
	}
	d := &decoder{b: body}
	for range n {
		nameOff, obj := d.uN(f.offSize), d.uN(f.offSize)
		d.skip(24) // cache type, reserved, scratch pad
		if d.err != nil {
			return d.err
		}
		if nameOff >= uint64(len(heap)) {
			return fmt.Errorf("%w: symbol name offset %d outside local heap", ErrCorrupt, nameOff)
		}
		// Copy only the name: a copy of the heap's rest would live on as
		// the map key, entries × heap size in all.
		rest := heap[nameOff:]
		i := bytes.IndexByte(rest[:min(len(rest), h5MaxNameBytes+1)], 0)
		if i <= 0 {
			return fmt.Errorf("%w: symbol name at heap offset %d empty, unterminated or over %d bytes", ErrCorrupt, nameOff, h5MaxNameBytes)
		}
		out[string(rest[:i])] = obj
	}
	return nil
}

// parseLink decodes a link message; ok is false for soft and external
// links, which are not followed.
func (f *File) parseLink(b []byte) (name string, addr uint64, ok bool, err error) {
	d := &decoder{b: b}
	if v := d.u8(); v != 1 {
		return "", 0, false, fmt.Errorf("%w: link message version %d", ErrCorrupt, v)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		d.skip(1) // character set
	}
	n := d.uN(1 << (flags & 3))
	if n > uint64(len(b)) {
		return "", 0, false, fmt.Errorf("%w: link name of %d bytes", ErrCorrupt, n)
	}
	name = string(d.bytes(int(n)))
	if typ == 0 {
		addr = d.uN(f.offSize)
	}
	if d.err != nil {
		return "", 0, false, d.err
	}
	return name, addr, typ == 0, nil
}

// IsDataset reports whether the object at addr is a dataset (has a
// dataspace) rather than a group.
func (f *File) IsDataset(addr uint64) (bool, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(msgs, func(m h5Message) bool { return m.typ == h5MsgDataspace }), nil
}

// Lookup resolves a slash-separated path from the root group; ok is false
// when a component does not exist.
func (f *File) Lookup(path string) (addr uint64, ok bool, err error) {
	addr = f.root
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		kids, err := f.Children(addr)
		if err != nil {
			return 0, false, err
		}
		if addr, ok = kids[name]; !ok {
			return 0, false, nil
		}
	}
	return addr, true, nil
}

// Attributes and small values.

// Value is a decoded one-element value: a string or a number (with its
// exact decimal text).
type Value struct {
	text  string
	num   float64
	isNum bool
}

// Attributes returns the scalar (one-element) attributes of the object at
// addr; other attributes are skipped.
func (f *File) Attributes(addr uint64) (map[string]Value, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return nil, err
	}
	out := map[string]Value{}
	for _, m := range msgs {
		if m.typ != h5MsgAttribute {
			continue
		}
		name, v, ok, err := f.parseAttribute(m.data)
		if err != nil {
			return nil, err
		}
		if ok {
			out[name] = v
		}
	}
	return out, nil
}

func (f *File) parseAttribute(b []byte) (string, Value, bool, error) {
	d := &decoder{b: b}
	version := d.u8()
	flags := d.u8()
	nameSize, typeSize, spaceSize := int(d.u16()), int(d.u16()), int(d.u16())
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		d.skip(1) // name character set
	default:
		return "", Value{}, false, fmt.Errorf("%w: attribute message version %d", ErrCorrupt, version)
	}
	nameB := d.bytes(pad(nameSize))
	typeB := d.bytes(pad(typeSize))
	spaceB := d.bytes(pad(spaceSize))
	if d.err != nil {
		return "", Value{}, false, d.err
	}
	name, _, _ := strings.Cut(string(nameB[:min(nameSize, len(nameB))]), "\x00")
	if flags&3 != 0 {
		return name, Value{}, false, nil // shared datatype or dataspace: skip
	}
	t, err := parseDatatype(typeB[:typeSize], f.offSize)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return name, Value{}, false, nil
		}
		return "", Value{}, false, fmt.Errorf("attribute %q: %w", name, err)
	}
	dims, err := f.parseDataspace(spaceB[:spaceSize])
	if err != nil {
		return "", Value{}, false, fmt.Errorf("attribute %q: %w", name, err)
	}
	if n, err := ElemCount(dims, 2); err != nil || n != 1 {
		return name, Value{}, false, nil // not a scalar: skip
	}
	data := d.bytes(t.size)
	if d.err != nil {
		return "", Value{}, false, fmt.Errorf("attribute %q: %w", name, d.err)
	}
	v, err := f.DecodeValue(t, data)
	if err != nil {
		return "", Value{}, false, fmt.Errorf("attribute %q: %w", name, err)
	}
	return name, v, true, nil
}

// DecodeValue decodes one element of type t.
func (f *File) DecodeValue(t Type, e []byte) (Value, error) {
	order := t.order()
	switch t.class {
	case ClassFloat:
		if t.size == 4 {
			x := float64(math.Float32frombits(order.Uint32(e)))
			return Value{text: fmtFloat(x, 32), num: x, isNum: true}, nil
		}
		x := math.Float64frombits(order.Uint64(e))
		return Value{text: fmtFloat(x, 64), num: x, isNum: true}, nil
	case ClassFixed, ClassEnum:
		var u uint64
		switch t.size {
		case 1:
			u = uint64(e[0])
		case 2:
			u = uint64(order.Uint16(e))
		case 4:
			u = uint64(order.Uint32(e))
		default:
			u = order.Uint64(e)
		}
		if t.signed {
			s := int64(u<<(64-8*t.size)) >> (64 - 8*t.size) // sign-extend
			return Value{text: strconv.FormatInt(s, 10), num: float64(s), isNum: true}, nil
		}
		return Value{text: strconv.FormatUint(u, 10), num: float64(u), isNum: true}, nil
	case ClassString:
		s, _, _ := strings.Cut(string(e), "\x00")
		return Value{text: strings.TrimRight(s, " ")}, nil
	case ClassVLen:
		d := &decoder{b: e}
		n := d.u32()
		coll := d.uN(f.offSize)
		idx := d.u32()
		if d.err != nil {
			return Value{}, d.err
		}
		s, err := f.globalHeapObject(coll, idx, uint64(n))
		return Value{text: string(s)}, err
	}
	return Value{}, fmt.Errorf("%w: %s value", ErrUnsupported, t)
}

func fmtFloat(x float64, bits int) string { return strconv.FormatFloat(x, 'g', -1, bits) }

// globalHeapObject returns object idx of the global heap collection at
// addr (variable-length data), checking it is n bytes long.
func (f *File) globalHeapObject(addr uint64, idx uint32, n uint64) ([]byte, error) {
	var head [8]byte
	if err := f.readAt(head[:], addr); err != nil {
		return nil, err
	}
	if string(head[:4]) != "GCOL" {
		return nil, fmt.Errorf("%w: global heap at %d: bad signature", ErrCorrupt, addr)
	}
	sz := make([]byte, f.lenSize)
	if err := f.readAt(sz, addr+8); err != nil {
		return nil, err
	}
	size := (&decoder{b: sz}).uN(f.lenSize)
	if size > h5MaxHeaderBytes*16 || !f.within(addr, size) || size < uint64(8+f.lenSize) {
		return nil, fmt.Errorf("%w: global heap of %d bytes at %d", ErrCorrupt, size, addr)
	}
	buf := make([]byte, size)
	if err := f.readAt(buf, addr); err != nil {
		return nil, err
	}
	d := &decoder{b: buf, off: 8 + f.lenSize}
	for d.err == nil && len(buf)-d.off >= 8+f.lenSize {
		id := d.u16()
		d.skip(6) // reference count, reserved
		osz := d.uN(f.lenSize)
		if id == 0 { // free space: the end
			break
		}
		if osz > uint64(len(buf)) {
			break
		}
		data := d.bytes(int(osz))
		d.skip(int((osz+7)&^7 - osz))
		if uint32(id) == idx && d.err == nil {
			if osz != n {
				return nil, fmt.Errorf("%w: global heap object %d holds %d bytes, want %d", ErrCorrupt, idx, osz, n)
			}
			return data, nil
		}
	}
	return nil, fmt.Errorf("%w: global heap object %d not found at %d", ErrCorrupt, idx, addr)
}
