// Package dataset holds offline RL data in the D4RL layout: flat arrays of
// transitions (observations, actions, rewards, next_observations,
// terminals, timeouts, infos/qpos, infos/qvel) with metadata, read from and
// written to HDF5 files that h5py reads and writes too. It splits episodes
// at terminals|timeouts, computes returns-to-go, samples the Decision
// Transformer's context windows and whole-episode batches for recurrent
// training, and normalises states.
//
// Terminals mark true terminations (no value follows); timeouts only split
// episodes. A timeout is not a terminal state.
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
// # HDF5: written with scigolib/hdf5, read by this package
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
// allocation), which no recover can catch. h5read.go is instead a small
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
//
// # Samplers
//
// WindowSampler follows the Decision Transformer's get_batch: an episode
// drawn with probability proportional to its length, a start uniform in
// [0, len−1] (implemented as one uniform draw over all rows, the same
// distribution), K steps left-padded with states 0, actions −10, rewards,
// RTG and timesteps 0 and mask 0; RTG divided by a scale; timesteps
// clipped to MaxEpLen−1. Differences from DT, none visible through the
// mask: padded states are 0 after normalisation (DT pads raw zeros, then
// normalises them to −mean/std); returns-to-go and state statistics are
// accumulated in float64 (DT uses float32 numpy). An unfinished trailing
// episode is left out unless asked for, as DT's conversion script drops
// it.
//
// EpisodeSampler draws whole episodes from t = 0, right-padded with zeros
// and mask 0 to the longest in the batch, for recurrent training; a causal
// model never sees the trailing padding from real steps. Episodes are
// drawn in proportion to their length by default (each transition then
// weighs the same in a per-step loss, as with windows) or uniformly.
//
// Samplers fill a caller-owned *Batch and allocate nothing once it has
// grown; each owns a seeded math/rand/v2 stream, so a seed fixes the
// batches exactly.
package dataset
