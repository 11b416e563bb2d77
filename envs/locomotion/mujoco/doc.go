// Package mujoco runs minrl's locomotion tasks (Hopper, Walker2d,
// HalfCheetah) on the real MuJoCo engine, version 2.2.2 as packaged by
// Debian (libmujoco-dev), through cgo. It implements locomotion.Physics;
// the task code (observations, reward, health, reset noise) is the same as
// on the pure-Go engine.
//
// The package is built only with the build tag mujoco:
//
//	apt-get install libmujoco-dev
//	go test -tags mujoco ./envs/locomotion/mujoco
//
// Without the tag it is empty, so the module builds with CGO_ENABLED=0.
// With it, importing the package registers "minrl/Hopper-mujoco-v0",
// "minrl/Walker2d-mujoco-v0" and "minrl/HalfCheetah-mujoco-v0".
//
// The models (hopper.xml, walker2d.xml, half_cheetah.xml, embedded) follow
// Gymnasium's v4 models, parameter for parameter, written in local
// coordinates. Each is compiled once per process and shared read-only;
// every Physics has its own mjData, so separate envs may step concurrently.
//
// Errors: MuJoCo's error and warning handlers are replaced, so MuJoCo never
// ends the process and never writes MUJOCO_LOG.TXT. A warning during a step
// (bad qpos, qvel or qacc, after which MuJoCo silently resets its data; a
// full contact or constraint buffer) becomes the error of Physics.Step: the
// state is put back to where the step began and the episode ends with
// Info.Err. One env step is one cgo call that runs all frame_skip
// substeps.
package mujoco
