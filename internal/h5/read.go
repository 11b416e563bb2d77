package h5

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

var (
	// ErrCorrupt reports HDF5 structures that cannot be valid.
	ErrCorrupt = errors.New("corrupt HDF5 data")
	// ErrUnsupported reports valid HDF5 features this reader lacks.
	ErrUnsupported = errors.New("unsupported HDF5 feature")
)

const (
	ClassFixed  = 0
	ClassFloat  = 1
	ClassString = 3
	ClassEnum   = 8
	ClassVLen   = 9

	h5LayoutCompact    = 0
	h5LayoutContiguous = 1
	h5LayoutChunked    = 2

	h5FilterDeflate    = 1
	h5FilterShuffle    = 2
	h5FilterFletcher32 = 3

	h5MsgDataspace    = 0x01
	h5MsgLinkInfo     = 0x02
	h5MsgDatatype     = 0x03
	h5MsgLink         = 0x06
	h5MsgLayout       = 0x08
	h5MsgFilters      = 0x0B
	h5MsgAttribute    = 0x0C
	h5MsgContinuation = 0x10
	h5MsgSymbolTable  = 0x11
	h5MsgFlagShared   = 0x02

	// Limits that keep corrupt files from driving loops or allocations.
	h5MaxRank         = 32
	h5MaxHeaderBlocks = 64
	h5MaxHeaderBytes  = 1 << 20
	h5MaxBTreeDepth   = 32
	h5MaxNameBytes    = 1024
	h5MaxChunkBytes   = 1 << 30
	h5MaxDeflateRatio = 1100 // zlib expands at most ~1032:1
	h5ReadBlock       = 1 << 20
)

var h5Signature = []byte("\x89HDF\r\n\x1a\n")

// File reads HDF5 structures from r.
type File struct {
	r        io.ReaderAt
	size     uint64 // file size in bytes
	base     uint64 // base address; file addresses are relative to it
	offSize  int    // bytes per file address
	lenSize  int    // bytes per length
	root     uint64 // root group object header
	groups   map[uint64]map[string]uint64
	chunkBuf []byte // reused stored-chunk buffer
	plainBuf []byte // reused decompressed-chunk buffer
}

// Open parses the superblock.
func Open(r io.ReaderAt, size int64) (*File, error) {
	f := &File{r: r, size: uint64(max(size, 0))}
	// The superblock sits at 0 or after a user block of 512·2^k bytes.
	for at := uint64(0); ; at = max(512, 2*at) {
		if at+64 > f.size {
			return nil, fmt.Errorf("%w: not an HDF5 file (no signature)", ErrCorrupt)
		}
		var sig [8]byte
		if _, err := r.ReadAt(sig[:], int64(at)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if bytes.Equal(sig[:], h5Signature) {
			f.base = at
			break
		}
	}
	head := make([]byte, min(f.size-f.base, 256))
	if _, err := r.ReadAt(head, int64(f.base)); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: superblock: %v", ErrCorrupt, err)
	}
	d := &decoder{b: head, off: 8}
	version := d.u8()
	switch version {
	case 0, 1:
		d.skip(4)
		f.offSize, f.lenSize = int(d.u8()), int(d.u8())
		d.skip(1 + 2 + 2 + 4)
		if version == 1 {
			d.skip(4)
		}
	case 2, 3:
		f.offSize, f.lenSize = int(d.u8()), int(d.u8())
		d.skip(1)
	default:
		return nil, fmt.Errorf("%w: superblock version %d", ErrUnsupported, version)
	}
	if f.offSize != 2 && f.offSize != 4 && f.offSize != 8 || f.lenSize != 2 && f.lenSize != 4 && f.lenSize != 8 {
		return nil, fmt.Errorf("%w: superblock offset/length sizes %d/%d", ErrCorrupt, f.offSize, f.lenSize)
	}
	if base := d.uN(f.offSize); base != 0 && base != f.base {
		return nil, fmt.Errorf("%w: superblock base address %d", ErrUnsupported, base)
	}
	if version < 2 {
		d.uN(f.offSize) // free-space info
		d.uN(f.offSize) // end of file
		d.uN(f.offSize) // driver info
		d.uN(f.offSize) // root symbol table entry: link name offset
		f.root = d.uN(f.offSize)
	} else {
		d.uN(f.offSize) // superblock extension
		d.uN(f.offSize) // end of file
		f.root = d.uN(f.offSize)
	}
	if d.err != nil {
		return nil, fmt.Errorf("superblock: %w", d.err)
	}
	return f, nil
}

// readAt reads len(p) bytes at file address addr.
func (f *File) readAt(p []byte, addr uint64) error {
	a := addr + f.base
	if a < addr || a > f.size || uint64(len(p)) > f.size-a {
		return fmt.Errorf("%w: %d bytes at address %d beyond end of file (%d bytes)", ErrCorrupt, len(p), addr, f.size)
	}
	if _, err := f.r.ReadAt(p, int64(a)); err != nil {
		return fmt.Errorf("%w: read at %d: %v", ErrCorrupt, addr, err)
	}
	return nil
}

// within reports whether n bytes at addr lie inside the file.
func (f *File) within(addr, n uint64) bool {
	a := addr + f.base
	return a >= addr && a <= f.size && n <= f.size-a
}

// undefined reports the all-ones address HDF5 uses for "not allocated".
func (f *File) undefined(a uint64) bool {
	return a == math.MaxUint64>>(64-8*f.offSize)
}

// decoder walks a byte slice; every read is bounds-checked and a short
// buffer sets err instead of panicking.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = fmt.Errorf("%w: structure truncated", ErrCorrupt)
		return false
	}
	return true
}

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) u16() uint16 { return uint16(d.uN(2)) }
func (d *decoder) u32() uint32 { return uint32(d.uN(4)) }

// uN reads an n-byte little-endian unsigned integer (n in 1..8).
func (d *decoder) uN(n int) uint64 {
	if !d.need(n) {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(d.b[d.off+i])
	}
	d.off += n
	return v
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *decoder) skip(n int) { d.bytes(n) }

// h5Message is one object-header message.
type h5Message struct {
	typ   uint16
	flags uint8
	data  []byte
}

// messages reads every message of the object header at addr, following
// continuation blocks.
func (f *File) messages(addr uint64) ([]h5Message, error) {
	var pre [16]byte
	n := uint64(len(pre))
	if !f.within(addr, n) {
		n = 0
		if f.within(addr, 0) {
			n = f.size - (addr + f.base)
		}
	}
	if err := f.readAt(pre[:n], addr); err != nil {
		return nil, err
	}
	if n >= 4 && string(pre[:4]) == "OHDR" {
		return f.messagesV2(addr)
	}
	if n < 16 || pre[0] != 1 {
		return nil, fmt.Errorf("%w: no object header at %d", ErrCorrupt, addr)
	}
	size := uint64(binary.LittleEndian.Uint32(pre[8:12]))
	return f.messageBlocks(addr, addr+16, size, 1, 0)
}

func (f *File) messagesV2(addr uint64) ([]h5Message, error) {
	var pre [6 + 16 + 4 + 8]byte
	n := min(uint64(len(pre)), f.size-(addr+f.base))
	if err := f.readAt(pre[:n], addr); err != nil {
		return nil, err
	}
	d := &decoder{b: pre[:n], off: 4}
	if v := d.u8(); v != 2 {
		return nil, fmt.Errorf("%w: object header at %d: version %d", ErrCorrupt, addr, v)
	}
	flags := d.u8()
	if flags&0x20 != 0 {
		d.skip(16) // times
	}
	if flags&0x10 != 0 {
		d.skip(4) // attribute storage phase change
	}
	size := d.uN(1 << (flags & 3))
	if d.err != nil {
		return nil, fmt.Errorf("object header at %d: %w", addr, d.err)
	}
	return f.messageBlocks(addr, addr+uint64(d.off), size, 2, flags)
}

// messageBlocks parses the first message block at (start, size) and every
// continuation block it leads to.
func (f *File) messageBlocks(addr, start, size uint64, version int, flags uint8) ([]h5Message, error) {
	type block struct{ addr, size uint64 }
	blocks := []block{{start, size}}
	var msgs []h5Message
	for i := 0; i < len(blocks); i++ {
		if i >= h5MaxHeaderBlocks {
			return nil, fmt.Errorf("%w: object header at %d: too many continuation blocks", ErrCorrupt, addr)
		}
		b := blocks[i]
		if b.size > h5MaxHeaderBytes || !f.within(b.addr, b.size) {
			return nil, fmt.Errorf("%w: object header at %d: block of %d bytes at %d", ErrCorrupt, addr, b.size, b.addr)
		}
		buf := make([]byte, b.size)
		if err := f.readAt(buf, b.addr); err != nil {
			return nil, err
		}
		hdr := 8 // v1: type(2) size(2) flags(1) reserved(3)
		if version == 2 {
			hdr = 4 // type(1) size(2) flags(1) [creation order(2)]
			if flags&0x04 != 0 {
				hdr = 6
			}
			if i > 0 { // "OCHK" + messages + checksum
				if len(buf) < 8 || string(buf[:4]) != "OCHK" {
					return nil, fmt.Errorf("%w: object header continuation at %d: bad signature", ErrCorrupt, b.addr)
				}
				buf = buf[4 : len(buf)-4]
			}
		}
		d := &decoder{b: buf}
		for len(buf)-d.off >= hdr {
			var typ uint16
			if version == 1 {
				typ = d.u16()
			} else {
				typ = uint16(d.u8())
			}
			n := int(d.u16())
			mflags := d.u8()
			d.skip(hdr - 4 - btoi(version == 1))
			data := d.bytes(n)
			if d.err != nil {
				return nil, fmt.Errorf("object header at %d: %w", addr, d.err)
			}
			if typ == h5MsgContinuation {
				c := &decoder{b: data}
				ca, cs := c.uN(f.offSize), c.uN(f.lenSize)
				if c.err != nil {
					return nil, fmt.Errorf("object header at %d: %w", addr, c.err)
				}
				blocks = append(blocks, block{ca, cs})
				continue
			}
			msgs = append(msgs, h5Message{typ, mflags, data})
		}
	}
	return msgs, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Type is an element datatype.
type Type struct {
	class     int // h5Class*
	size      int // bytes per element
	bigEndian bool
	signed    bool // integers (and an enum's base type)
	vlenStr   bool // variable-length string (class 9)
}

func (t Type) String() string {
	switch t.class {
	case ClassFixed:
		if t.signed {
			return fmt.Sprintf("int%d", 8*t.size)
		}
		return fmt.Sprintf("uint%d", 8*t.size)
	case ClassFloat:
		return fmt.Sprintf("float%d", 8*t.size)
	case ClassEnum:
		return fmt.Sprintf("enum(%d bytes)", t.size)
	case ClassString:
		return fmt.Sprintf("string(%d bytes)", t.size)
	case ClassVLen:
		return "vlen string"
	}
	return fmt.Sprintf("class %d", t.class)
}

func (t Type) order() binary.ByteOrder {
	if t.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func parseDatatype(b []byte, offSize int) (Type, error) {
	d := &decoder{b: b}
	cv := d.u8()
	bits := [3]uint8{d.u8(), d.u8(), d.u8()}
	size := d.u32()
	if d.err != nil {
		return Type{}, d.err
	}
	t := Type{class: int(cv & 0x0f), size: int(size), bigEndian: bits[0]&1 != 0}
	switch t.class {
	case ClassFixed:
		t.signed = bits[0]&0x08 != 0
		if size != 1 && size != 2 && size != 4 && size != 8 {
			return t, fmt.Errorf("%w: %d-byte integer", ErrUnsupported, size)
		}
	case ClassFloat:
		if size != 4 && size != 8 {
			return t, fmt.Errorf("%w: %d-byte float", ErrUnsupported, size)
		}
		if bits[0]&0x40 != 0 {
			return t, fmt.Errorf("%w: VAX float byte order", ErrUnsupported)
		}
	case ClassEnum:
		base, err := parseDatatype(b[min(len(b), 8):], offSize)
		if err != nil {
			return t, fmt.Errorf("enum base type: %w", err)
		}
		if base.class != ClassFixed || base.size != t.size {
			return t, fmt.Errorf("%w: enum base type %s of size %d", ErrCorrupt, base, t.size)
		}
		t.bigEndian, t.signed = base.bigEndian, base.signed
	case ClassString:
		t.bigEndian = false
		if size == 0 || size > 1<<20 {
			return t, fmt.Errorf("%w: %d-byte string", ErrCorrupt, size)
		}
	case ClassVLen:
		if bits[0]&0x0f != 1 {
			return t, fmt.Errorf("%w: variable-length sequence (only strings are read)", ErrUnsupported)
		}
		t.vlenStr, t.bigEndian = true, false
		if int(size) != 4+offSize+4 {
			return t, fmt.Errorf("%w: vlen string element of %d bytes", ErrCorrupt, size)
		}
	default:
		return t, fmt.Errorf("%w: datatype class %d", ErrUnsupported, t.class)
	}
	return t, nil
}

func (f *File) parseDataspace(b []byte) ([]uint64, error) {
	d := &decoder{b: b}
	version, rank := d.u8(), int(d.u8())
	d.u8() // flags: max dims and permutation follow the dims; not needed
	switch version {
	case 1:
		d.skip(5)
	case 2:
		if typ := d.u8(); typ == 2 { // null dataspace: no elements
			return []uint64{0}, d.err
		}
	default:
		return nil, fmt.Errorf("%w: dataspace version %d", ErrCorrupt, version)
	}
	if rank > h5MaxRank {
		return nil, fmt.Errorf("%w: dataspace rank %d", ErrCorrupt, rank)
	}
	dims := make([]uint64, rank)
	for i := range dims {
		dims[i] = d.uN(f.lenSize)
	}
	return dims, d.err
}

// ElemCount returns the product of dims, or an error when it exceeds
// limit or a dimension exceeds math.MaxInt32 (rows and widths become ints;
// a huge dimension next to a zero one holds no elements, so only this
// catches it).
func ElemCount(dims []uint64, limit uint64) (uint64, error) {
	n := uint64(1)
	for _, x := range dims {
		if x > math.MaxInt32 || x != 0 && n > limit/x {
			return 0, fmt.Errorf("%w: shape %v too large", ErrCorrupt, dims)
		}
		n *= x
	}
	return n, nil
}

type h5Filter struct {
	id     uint16
	params []uint32
}

// Dataset is everything needed to read one dataset's elements.
type Dataset struct {
	dims      []uint64
	typ       Type
	layout    int
	compact   []byte   // h5LayoutCompact
	addr      uint64   // contiguous data or chunk B-tree
	chunkDims []uint64 // h5LayoutChunked, one per dimension
	filters   []h5Filter
	chunks    []h5Chunk // h5LayoutChunked, filled by check
}

// Dataset parses and checks the dataset whose object header is at addr:
// afterwards its storage is known to lie inside the file and to hold
// exactly its elements.
func (f *File) Dataset(addr uint64) (*Dataset, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{layout: -1}
	var haveSpace, haveType bool
	for _, m := range msgs {
		switch m.typ {
		case h5MsgDataspace:
			ds.dims, err = f.parseDataspace(m.data)
			haveSpace = true
		case h5MsgDatatype:
			if m.flags&h5MsgFlagShared != 0 {
				return nil, fmt.Errorf("%w: shared (committed) datatype", ErrUnsupported)
			}
			ds.typ, err = parseDatatype(m.data, f.offSize)
			haveType = true
		case h5MsgLayout:
			err = f.parseLayout(ds, m.data)
		case h5MsgFilters:
			ds.filters, err = parseFilters(m.data)
		}
		if err != nil {
			return nil, err
		}
	}
	if !haveSpace || !haveType || ds.layout < 0 {
		return nil, fmt.Errorf("%w: object at %d is not a dataset", ErrCorrupt, addr)
	}
	if err := f.check(ds); err != nil {
		return nil, err
	}
	return ds, nil
}

func (f *File) parseLayout(ds *Dataset, b []byte) error {
	d := &decoder{b: b}
	version := d.u8()
	if version != 3 && version != 4 {
		return fmt.Errorf("%w: data layout message version %d", ErrUnsupported, version)
	}
	ds.layout = int(d.u8())
	switch ds.layout {
	case h5LayoutCompact:
		ds.compact = d.bytes(int(d.u16()))
	case h5LayoutContiguous:
		ds.addr = d.uN(f.offSize)
		d.uN(f.lenSize)
	case h5LayoutChunked:
		if version == 4 {
			return fmt.Errorf("%w: layout v4 chunk index (written with libver='latest'; write with h5py's default)", ErrUnsupported)
		}
		rank := int(d.u8())
		if rank < 1 || rank > h5MaxRank+1 {
			return fmt.Errorf("%w: chunk dimensionality %d", ErrCorrupt, rank)
		}
		ds.addr = d.uN(f.offSize)
		ds.chunkDims = make([]uint64, rank-1)
		for i := range ds.chunkDims {
			if ds.chunkDims[i] = uint64(d.u32()); ds.chunkDims[i] == 0 && d.err == nil {
				return fmt.Errorf("%w: zero chunk dimension", ErrCorrupt)
			}
		}
		d.u32() // element size
	default:
		return fmt.Errorf("%w: layout class %d", ErrUnsupported, ds.layout)
	}
	return d.err
}

func parseFilters(b []byte) ([]h5Filter, error) {
	d := &decoder{b: b}
	version, n := d.u8(), int(d.u8())
	if version == 1 {
		d.skip(6)
	} else if version != 2 {
		return nil, fmt.Errorf("%w: filter pipeline version %d", ErrCorrupt, version)
	}
	filters := make([]h5Filter, 0, min(n, 32))
	for range n {
		var f h5Filter
		f.id = d.u16()
		nameLen := 0
		if version == 1 || f.id >= 256 {
			nameLen = int(d.u16())
		}
		d.u16() // flags
		nvals := int(d.u16())
		d.skip(nameLen)
		for range nvals {
			if f.params = append(f.params, d.u32()); d.err != nil {
				break
			}
		}
		if version == 1 && nvals%2 == 1 {
			d.skip(4)
		}
		if d.err != nil {
			return nil, d.err
		}
		switch f.id {
		case h5FilterDeflate, h5FilterShuffle, h5FilterFletcher32:
		default:
			return nil, fmt.Errorf("%w: filter %d (supported: deflate, shuffle, fletcher32)", ErrUnsupported, f.id)
		}
		filters = append(filters, f)
	}
	return filters, nil
}

// check verifies that the dataset's storage lies inside the file and
// covers all its elements (for chunked data: every chunk is present and
// plausibly sized), so that it cannot claim more data than the file holds.
func (f *File) check(ds *Dataset) error {
	if ds.typ.size <= 0 {
		return fmt.Errorf("%w: zero-size elements", ErrCorrupt)
	}
	n, err := ElemCount(ds.dims, math.MaxInt64/uint64(ds.typ.size))
	if err != nil {
		return err
	}
	nbytes := n * uint64(ds.typ.size)
	switch ds.layout {
	case h5LayoutCompact:
		if uint64(len(ds.compact)) < nbytes {
			return fmt.Errorf("%w: compact data holds %d bytes, needs %d", ErrCorrupt, len(ds.compact), nbytes)
		}
	case h5LayoutContiguous:
		if f.undefined(ds.addr) {
			if nbytes > 0 {
				return fmt.Errorf("%w: data of %d bytes never written", ErrCorrupt, nbytes)
			}
		} else if !f.within(ds.addr, nbytes) {
			return fmt.Errorf("%w: %d bytes of data at %d beyond end of file (%d bytes)", ErrCorrupt, nbytes, ds.addr, f.size)
		}
	case h5LayoutChunked:
		if len(ds.chunkDims) != len(ds.dims) {
			return fmt.Errorf("%w: chunk rank %d for a rank-%d dataset", ErrCorrupt, len(ds.chunkDims), len(ds.dims))
		}
		chunkSize, err := f.chunkBytes(ds)
		if err != nil {
			return err
		}
		// A whole chunk decompresses from at most the file's bytes (plus
		// slack for scigolib's short edge chunks).
		if uint64(chunkSize) > h5MaxDeflateRatio*f.size+16<<20 {
			return fmt.Errorf("%w: chunk shape %v too large for a %d-byte file", ErrCorrupt, ds.chunkDims, f.size)
		}
		want := uint64(1)
		for i, d := range ds.dims {
			c := (d + ds.chunkDims[i] - 1) / ds.chunkDims[i]
			if c != 0 && want > f.size/c {
				return fmt.Errorf("%w: shape %v in chunks %v needs more chunks than the file holds", ErrCorrupt, ds.dims, ds.chunkDims)
			}
			want *= c
		}
		if want == 0 {
			return nil
		}
		if ds.chunks, err = f.chunks(ds); err != nil {
			return err
		}
		if uint64(len(ds.chunks)) != want {
			return fmt.Errorf("%w: %d chunks stored, shape %v in chunks %v needs %d", ErrCorrupt, len(ds.chunks), ds.dims, ds.chunkDims, want)
		}
		// The ratio bound below is per chunk. Distinct chunks must occupy
		// distinct bytes, so their stored sizes add up to at most the file
		// size and the whole dataset decompresses from at most that: many
		// index entries sharing one small deflated blob could otherwise
		// declare ~(file size)²·h5MaxDeflateRatio bytes. Sorting by address
		// also makes reads sequential.
		slices.SortFunc(ds.chunks, func(a, b h5Chunk) int { return cmp.Compare(a.addr, b.addr) })
		// Each chunk position once: with the count equal to want, that
		// means every chunk is present (a duplicate left rows unwritten).
		seen := make([]uint64, (want+63)/64)
		deflate := slices.ContainsFunc(ds.filters, func(f h5Filter) bool { return f.id == h5FilterDeflate })
		for i, c := range ds.chunks {
			if i > 0 && ds.chunks[i-1].addr+ds.chunks[i-1].nbytes > c.addr {
				return fmt.Errorf("%w: chunks %v and %v overlap at address %d", ErrCorrupt, ds.chunks[i-1].offsets, c.offsets, c.addr)
			}
			k := uint64(0) // row-major index of the chunk in the chunk grid
			for j, o := range c.offsets {
				k = k*((ds.dims[j]+ds.chunkDims[j]-1)/ds.chunkDims[j]) + o/ds.chunkDims[j]
			}
			if seen[k/64]&(1<<(k%64)) != 0 {
				return fmt.Errorf("%w: chunk %v stored twice", ErrCorrupt, c.offsets)
			}
			seen[k/64] |= 1 << (k % 64)
			need := chunkNeed(ds, c.offsets)
			if deflate && c.nbytes*h5MaxDeflateRatio < need || !deflate && c.nbytes < need {
				return fmt.Errorf("%w: chunk %v stores %d bytes, needs %d", ErrCorrupt, c.offsets, c.nbytes, need)
			}
		}
	}
	return nil
}

// chunkBytes returns the size of one whole chunk.
func (f *File) chunkBytes(ds *Dataset) (int, error) {
	n := uint64(ds.typ.size)
	for _, c := range ds.chunkDims {
		if n > h5MaxChunkBytes/c {
			return 0, fmt.Errorf("%w: chunk shape %v too large", ErrCorrupt, ds.chunkDims)
		}
		n *= c
	}
	return int(n), nil
}

// chunkNeed returns how many leading bytes of the chunk at offs (in the
// whole chunk's row-major layout) hold elements inside the dataset. HDF5
// stores every chunk whole; scigolib v0.14.1 stores edge chunks cut
// short, which is readable (h5py reads it) exactly when the cut keeps
// this prefix, i.e. when only the first dimension overhangs.
func chunkNeed(ds *Dataset, offs []uint64) uint64 {
	last, stride := uint64(0), uint64(1)
	for i := len(ds.dims) - 1; i >= 0; i-- {
		used := min(ds.chunkDims[i], ds.dims[i]-offs[i])
		last += (used - 1) * stride
		stride *= ds.chunkDims[i]
	}
	return (last + 1) * uint64(ds.typ.size)
}

// h5Chunk is one allocated chunk: its element offsets, file address,
// stored size and filter mask.
type h5Chunk struct {
	offsets []uint64
	addr    uint64
	nbytes  uint64
	mask    uint32
}

// chunks lists the chunks of a chunked dataset from its B-tree, checking
// that each one lies inside the file and inside the dataset's extent.
func (f *File) chunks(ds *Dataset) ([]h5Chunk, error) {
	if f.undefined(ds.addr) {
		return nil, nil
	}
	var out []h5Chunk
	visited := map[uint64]bool{}
	rank := len(ds.dims)
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > h5MaxBTreeDepth || visited[addr] {
			return fmt.Errorf("%w: chunk B-tree loops or is too deep", ErrCorrupt)
		}
		visited[addr] = true
		head := make([]byte, 8+2*f.offSize)
		if err := f.readAt(head, addr); err != nil {
			return err
		}
		if string(head[:4]) != "TREE" || head[4] != 1 {
			return fmt.Errorf("%w: chunk B-tree node at %d: bad signature", ErrCorrupt, addr)
		}
		level := int(head[5])
		entries := int(binary.LittleEndian.Uint16(head[6:8]))
		keySize := 8 + 8*(rank+1)
		n := uint64(entries*(keySize+f.offSize) + keySize)
		if !f.within(addr+uint64(len(head)), n) {
			return fmt.Errorf("%w: chunk B-tree node at %d: %d entries beyond end of file", ErrCorrupt, addr, entries)
		}
		body := make([]byte, n)
		if err := f.readAt(body, addr+uint64(len(head))); err != nil {
			return err
		}
		d := &decoder{b: body}
		for range entries {
			c := h5Chunk{nbytes: uint64(d.u32()), mask: d.u32(), offsets: make([]uint64, rank)}
			for j := range c.offsets {
				c.offsets[j] = d.uN(8)
			}
			d.skip(8) // offset in the element-size dimension
			c.addr = d.uN(f.offSize)
			if d.err != nil {
				return d.err
			}
			if level > 0 {
				if err := walk(c.addr, depth+1); err != nil {
					return err
				}
				continue
			}
			if !f.within(c.addr, c.nbytes) || c.nbytes > h5MaxChunkBytes {
				return fmt.Errorf("%w: chunk of %d bytes at %d beyond end of file (%d bytes)", ErrCorrupt, c.nbytes, c.addr, f.size)
			}
			for j, o := range c.offsets {
				if o >= ds.dims[j] || o%ds.chunkDims[j] != 0 {
					return fmt.Errorf("%w: chunk offset %v outside shape %v", ErrCorrupt, c.offsets, ds.dims)
				}
			}
			if uint64(len(out)) > f.size/16 { // each chunk takes >16 bytes of B-tree
				return fmt.Errorf("%w: too many chunks", ErrCorrupt)
			}
			out = append(out, c)
		}
		return nil
	}
	if err := walk(ds.addr, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// Read passes every element of ds to emit, in runs: emit(i, b) receives
// the file bytes of elements i, i+1, … (len(b) is a multiple of the
// element size; b is reused after emit returns). Elements arrive in
// storage order, not necessarily in index order.
func (f *File) Read(ds *Dataset, emit func(elem int, b []byte)) error {
	size := ds.typ.size
	n, _ := ElemCount(ds.dims, math.MaxInt64) // checked by dataset
	switch ds.layout {
	case h5LayoutCompact:
		emit(0, ds.compact[:int(n)*size])
		return nil
	case h5LayoutContiguous:
		block := max(1, h5ReadBlock/size) * size
		buf := make([]byte, min(uint64(block), n*uint64(size)))
		for off := uint64(0); off < n*uint64(size); off += uint64(len(buf)) {
			b := buf[:min(uint64(len(buf)), n*uint64(size)-off)]
			if err := f.readAt(b, ds.addr+off); err != nil {
				return err
			}
			emit(int(off)/size, b)
		}
		return nil
	}
	chunkSize, err := f.chunkBytes(ds)
	if err != nil {
		return err
	}
	for _, c := range ds.chunks {
		plain, err := f.readChunk(ds, c, chunkSize)
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.offsets, err)
		}
		emitChunk(plain, ds.dims, ds.chunkDims, c.offsets, size, emit)
	}
	return nil
}

// readChunk reads one chunk and undoes its filters; the result (reused
// between calls) holds a whole chunk.
func (f *File) readChunk(ds *Dataset, c h5Chunk, chunkSize int) ([]byte, error) {
	if cap(f.chunkBuf) < int(c.nbytes) {
		f.chunkBuf = make([]byte, c.nbytes)
	}
	data := f.chunkBuf[:c.nbytes]
	if err := f.readAt(data, c.addr); err != nil {
		return nil, err
	}
	if cap(f.plainBuf) < chunkSize {
		f.plainBuf = make([]byte, chunkSize)
	}
	inPlain := false // data lives in plainBuf
	for i := len(ds.filters) - 1; i >= 0; i-- {
		if c.mask&(1<<i) != 0 {
			continue // filter skipped for this chunk
		}
		switch flt := ds.filters[i]; flt.id {
		case h5FilterFletcher32:
			if len(data) < 4 {
				return nil, fmt.Errorf("%w: fletcher32 chunk shorter than its checksum", ErrCorrupt)
			}
			data = data[:len(data)-4]
		case h5FilterDeflate:
			if inPlain { // deflated twice: decompress from a copy
				data = append([]byte(nil), data...)
			}
			out, err := inflate(data, f.plainBuf[:chunkSize])
			if err != nil {
				return nil, err
			}
			data, inPlain = out, true
		case h5FilterShuffle:
			size := ds.typ.size
			if len(flt.params) > 0 {
				size = int(flt.params[0])
			}
			unshuffle(data, size)
		}
	}
	if len(data) > chunkSize {
		return nil, fmt.Errorf("%w: chunk holds %d bytes, want %d", ErrCorrupt, len(data), chunkSize)
	}
	if need := chunkNeed(ds, c.offsets); uint64(len(data)) < need {
		return nil, fmt.Errorf("%w: chunk holds %d bytes, needs %d", ErrCorrupt, len(data), need)
	}
	plain := f.plainBuf[:chunkSize]
	m := copy(plain, data)
	clear(plain[m:]) // a short edge chunk (see chunkNeed) is zero-extended
	return plain, nil
}

// inflate decompresses a zlib stream into buf and returns the filled
// prefix; a stream longer than buf is an error.
func inflate(src, buf []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("%w: deflate: %v", ErrCorrupt, err)
	}
	n, err := io.ReadFull(zr, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("%w: deflate: %v", ErrCorrupt, err)
	}
	if n == len(buf) {
		var one [1]byte
		if m, err := zr.Read(one[:]); m != 0 {
			return nil, fmt.Errorf("%w: deflate: chunk longer than %d bytes", ErrCorrupt, len(buf))
		} else if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%w: deflate: %v", ErrCorrupt, err)
		}
	}
	return buf[:n], nil
}

// unshuffle undoes HDF5's byte shuffle in place: the filter stores byte 0
// of every element, then byte 1, and so on; a tail shorter than one
// element stays as is.
func unshuffle(data []byte, size int) {
	if size <= 1 || len(data) < 2*size {
		return
	}
	n := len(data) / size
	tmp := make([]byte, n*size)
	for b := range size {
		for i, v := range data[b*n : (b+1)*n] {
			tmp[i*size+b] = v
		}
	}
	copy(data, tmp)
}

// emitChunk passes the runs of a whole chunk (shape cdims, origin offs)
// that lie inside the dataset (shape dims) to emit, both row-major.
func emitChunk(chunk []byte, dims, cdims, offs []uint64, size int, emit func(int, []byte)) {
	rank := len(dims)
	if rank == 0 {
		emit(0, chunk[:size])
		return
	}
	run := int(min(cdims[rank-1], dims[rank-1]-offs[rank-1])) * size
	var rec func(dim int, dOff, cOff uint64)
	rec = func(dim int, dOff, cOff uint64) {
		// dOff, cOff: element index of the run start in the dataset and
		// in the chunk, before adding this dimension's contribution.
		if dim == rank-1 {
			c := int(cOff) * size
			emit(int(dOff+offs[dim]), chunk[c:c+run])
			return
		}
		dStride, cStride := uint64(1), uint64(1)
		for k := dim + 1; k < rank; k++ {
			dStride *= dims[k]
			cStride *= cdims[k]
		}
		for i := range min(cdims[dim], dims[dim]-offs[dim]) {
			rec(dim+1, dOff+(offs[dim]+i)*dStride, cOff+i*cStride)
		}
	}
	rec(0, 0, 0)
}
