package h5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scigolib/hdf5"
)

// writeFile writes a small file with scigolib: two float datasets in the
// root group (a symbol table).
func writeFile(t *testing.T) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "v.hdf5")
	fw, err := hdf5.CreateForWrite(p, hdf5.CreateTruncate)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"observations", "actions"} {
		ds, err := fw.CreateDataset("/"+name, hdf5.Float32, []uint64{6, 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Write(make([]float32, 12)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads every dataset of the root group.
func readAll(f *File) error {
	kids, err := f.Children(f.root)
	if err != nil {
		return err
	}
	for name, addr := range kids {
		if ok, err := f.IsDataset(addr); err != nil || !ok {
			return errors.Join(err, errors.New(name+" is no dataset"))
		}
		ds, err := f.Dataset(addr)
		if err != nil {
			return err
		}
		if err := f.Read(ds, func(int, []byte) {}); err != nil {
			return err
		}
	}
	return nil
}

// TestSymbolNamesInLargeHeap: a group of many entries whose names sit in a
// large local heap. Each name once copied the rest of the heap, and the
// map key kept the copy: memory grew as entries × heap size.
func TestSymbolNamesInLargeHeap(t *testing.T) {
	const heapSize, junk = 1 << 18, 200
	b := writeFile(t)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	kids, err := f.Children(f.root)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := f.messages(f.root)
	var btree, heapAddr uint64
	for _, m := range msgs {
		if m.typ == h5MsgSymbolTable {
			btree, heapAddr = binary.LittleEndian.Uint64(m.data), binary.LittleEndian.Uint64(m.data[8:])
		}
	}
	if btree == 0 || f.offSize != 8 || f.lenSize != 8 {
		t.Fatalf("root group: B-tree %d, sizes %d/%d", btree, f.offSize, f.lenSize)
	}
	// build returns the file with the root group's names replaced by
	// kids' names plus extra ones, in one symbol table node.
	build := func(extra []string) []byte {
		b := bytes.Clone(b)
		heap := make([]byte, 8, heapSize)
		type ent struct{ off, obj uint64 }
		var ents []ent
		for name, a := range kids {
			ents = append(ents, ent{uint64(len(heap)), a})
			heap = append(append(heap, name...), 0)
		}
		for _, name := range extra {
			ents = append(ents, ent{uint64(len(heap)), kids["observations"]})
			heap = append(append(heap, name...), 0)
		}
		heap = heap[:heapSize]
		heapData := uint64(len(b))
		b = append(b, heap...)
		snod := uint64(len(b))
		b = append(b, 'S', 'N', 'O', 'D', 1, 0, 0, 0)
		binary.LittleEndian.PutUint16(b[snod+6:], uint16(len(ents)))
		for _, e := range ents {
			var r [40]byte
			binary.LittleEndian.PutUint64(r[0:], e.off)
			binary.LittleEndian.PutUint64(r[8:], e.obj)
			b = append(b, r[:]...)
		}
		binary.LittleEndian.PutUint64(b[heapAddr+8:], heapSize)
		binary.LittleEndian.PutUint64(b[heapAddr+24:], heapData)
		binary.LittleEndian.PutUint16(b[btree+6:], 1)       // one child
		binary.LittleEndian.PutUint64(b[btree+24+8:], snod) // after the first key
		return b
	}
	names := make([]string, junk)
	for i := range names {
		names[i] = "junk" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	b2 := build(names)
	f, err = Open(bytes.NewReader(b2), int64(len(b2)))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := f.Children(f.root)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(kids)+junk || got["actions"] != kids["actions"] {
		t.Fatalf("%d children, want %d", len(got), len(kids)+junk)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*heapSize {
		t.Errorf("reading %d names from a %d-byte heap allocated %d bytes", len(got), heapSize, grew)
	}
	if err := readAll(f); err != nil {
		t.Errorf("reading the datasets: %v", err)
	}
	// A name longer than the limit is refused.
	b3 := build([]string{strings.Repeat("x", 5000)})
	if f, err = Open(bytes.NewReader(b3), int64(len(b3))); err == nil {
		_, err = f.Children(f.root)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "symbol name") {
		t.Fatalf("error %v, want ErrCorrupt mentioning %q", err, "symbol name")
	}
}
