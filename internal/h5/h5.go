// Package h5 is minrl's HDF5 reader: a small, defensive implementation of
// the parts of the format that h5py (default settings), D4RL and
// scigolib/hdf5's writer produce. The D4RL file layer (dataset/d4rl) reads
// through it.
//
// Supported: superblocks v0–v3; object headers v1 and v2 with
// continuation blocks; groups stored as symbol tables (B-tree v1 + local
// heap) or as compact link messages; dataspace v1/v2; integer, float,
// enum, fixed-length string and variable-length string datatypes; data
// layout v3 (and v4 for compact and contiguous storage); chunk index
// B-tree v1; filters deflate, shuffle and fletcher32; compact attributes
// v1–v3; global heap (variable-length strings). Anything else is an
// ErrUnsupported error, never a guess. Files written with h5py's
// libver="latest" (new chunk indexes, dense groups) are unsupported.
//
// Every size and address read from the file is checked against the file
// size (or a small fixed limit) before it drives a loop or an allocation,
// so a corrupt or hostile file gives an error, not a panic, a hang or an
// out-of-memory crash; Read decodes straight into the caller's arrays.
//
// Why not a library: scigolib/hdf5 v0.14.1 (which minrl uses for writing)
// converts every value to float64 and refuses enum types, so it cannot
// read h5py's bools, holds two to three copies of a 1M-row dataset while
// loading, and on corrupt input crashes the process with a fatal
// out-of-memory error (a damaged heap size becomes a multi-terabyte
// allocation), which no recover can catch. The cgo binding
// gonum.org/v1/hdf5 reads everything but needs libhdf5 and cgo, which the
// pure-Go build avoids.
package h5

import "encoding/binary"

// Dims returns the dataset's dimensions (outermost first).
func (ds *Dataset) Dims() []uint64 { return ds.dims }

// Type returns the dataset's element type.
func (ds *Dataset) Type() Type { return ds.typ }

// Class returns the HDF5 datatype class (ClassFixed, ClassFloat, ...).
func (t Type) Class() int { return t.class }

// Size returns the bytes per element.
func (t Type) Size() int { return t.size }

// Order returns the byte order of the element's bytes.
func (t Type) Order() binary.ByteOrder { return t.order() }

// Text returns the value as text: the string, or a number's exact decimal
// form.
func (v Value) Text() string { return v.text }
