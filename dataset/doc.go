// Package dataset holds offline RL data in the D4RL layout: flat arrays of
// transitions (observations, actions, rewards, next_observations,
// terminals, timeouts, infos/qpos, infos/qvel) with metadata. Package
// dataset/d4rl reads and writes them as HDF5 files that h5py reads and
// writes too; this package links no HDF5 code. It splits episodes
// at terminals|timeouts, computes returns-to-go, samples the Decision
// Transformer's context windows and whole-episode batches for recurrent
// training, and normalises states.
//
// Terminals mark true terminations (no value follows); timeouts only split
// episodes. A timeout is not a terminal state.
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
