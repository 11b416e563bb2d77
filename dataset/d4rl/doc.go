// Package d4rl reads and writes offline RL datasets (dataset.Dataset) as
// D4RL-layout HDF5 files, the format D4RL ships and h5py reads.
//
// # File layout
//
// Save writes float32 arrays observations (N, obs_dim), actions
// (N, act_dim), rewards (N,), next_observations, infos/qpos, infos/qvel;
// terminals and timeouts as numpy bools (HDF5 enum(int8){FALSE, TRUE});
// metadata as one-element datasets under metadata/ (env_id, policy,
// command and free-form keys as fixed-length strings, seed as uint64);
// and a state normaliser as float64 vectors normalizer/state_mean and
// normalizer/state_std. Load also accepts what D4RL ships: rewards
// (N, 1), files without timeouts (v0) or next_observations, integer or
// float flags, metadata as attributes or variable-length strings, and
// ignores the rest (policy weights, action log-probabilities).
//
// # HDF5: written with scigolib/hdf5, read by internal/h5
//
// Writing uses github.com/scigolib/hdf5 v0.14.1 (pure Go). h5py reads its
// files with the right dtypes, bools included (h5py_test.go checks every
// array, dtype and the enum members). Three quirks of that version shape
// the layout: float attributes are written with wrong values and eight or
// more attributes on one object are invisible to h5py, so metadata and
// statistics are datasets, not attributes; and it stores edge chunks cut
// short, which h5py reads correctly only when just the first dimension
// overhangs, so minrl's chunks always span whole rows.
//
// Reading does not use scigolib. Its reader (v0.14.1) converts every
// value to float64 and refuses enum types, so it cannot read h5py's bools
// at all and would hold two to three copies of a 1M-row dataset while
// loading; and on corrupt input it crashes the whole process with a fatal
// out-of-memory error (a damaged heap size becomes a multi-terabyte
// allocation), which no recover can catch. internal/h5 is instead a small
// reader for the subset of HDF5 that h5py's default settings, D4RL and
// scigolib produce (symbol-table and compact groups, contiguous, compact
// and B-tree-chunked storage, deflate/shuffle/fletcher32). It checks every
// size and address against the file before using it, so corrupt files
// give errors (TestCorruptFiles, FuzzLoad), and decodes straight into the
// result arrays, so loading 1M transitions peaks at about 1.04× the raw
// bytes (TestLoadMemory). Files written with h5py's libver="latest"
// (new chunk indexes, dense groups) are reported as unsupported. Tests
// compare the reader with scigolib's reader and with h5py. The cgo
// binding gonum.org/v1/hdf5 would read everything but needs libhdf5 and
// cgo, which the pure-Go path avoids.
package d4rl
