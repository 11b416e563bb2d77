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
package dataset
