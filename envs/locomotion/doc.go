// Package locomotion defines minrl's planar locomotion tasks (Hopper,
// Walker2d, HalfCheetah) once, independent of the physics engine: the
// observation layout, action scaling, reward terms and weights, health and
// termination rules, reset noise and time limits follow Gymnasium's MuJoCo
// tasks (see docs/environments.md). An engine implements Physics; Env puts
// a Task and a Physics together into an envs.Env. The pure-Go engine lives
// in envs/locomotion/planar, real MuJoCo (build tag mujoco) in
// envs/locomotion/mujoco; both run these same task code paths.
//
// Reward rule: the healthy reward is paid on every step, the terminating
// one included, as in Gymnasium v2-v4 and so in the D4RL datasets (v5 pays
// it only while healthy). Returns are therefore comparable with D4RL's
// reference returns when the engine is MuJoCo.
package locomotion
