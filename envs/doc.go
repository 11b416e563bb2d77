// Package envs is minrl's environment API, with Gymnasium's semantics:
// Reset(seed) gives the first observation; Step(action) gives the next
// observation, the reward, and whether the episode terminated (the task
// ended: the robot fell, the goal was reached) or was truncated (a time
// limit): the two stay apart, because a learner bootstraps through a
// truncation but not through a termination.
//
// Environments are created by id from a registry (Make), get behaviour from
// wrappers (TimeLimit, ClipAction, RescaleAction, EpisodeStats,
// NormalizeObservation), and run N copies in parallel with Vector.
//
// Conventions:
//   - Observations and actions are []float64. Step and Reset return an
//     observation slice the environment owns, valid until its next Step or
//     Reset; copy it to keep it. A steady-state Step allocates nothing.
//   - Bad input is an error, never a panic: a wrong action length, a NaN
//     action, Step before Reset or after the episode ended, an unknown id.
//   - An episode is reproducible from its seed: Reset(seed) reseeds the
//     environment's generator; Reset(NoSeed) continues the current stream.
//
// Built-in environments register themselves from their own packages
// (envs/classic, envs/locomotion); import them, or the package
// github.com/minrl/minrl/envs/all, to make their ids available.
package envs
