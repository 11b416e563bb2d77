// Package classic ports Gymnasium's classic-control environments to pure
// Go: Pendulum-v1, CartPole-v1, MountainCarContinuous-v0 and Acrobot-v1
// (docs/environments.md, section 8). Importing the package registers the
// four ids with envs.Make, which adds Gymnasium's time limits (200, 500,
// 999 and 500 steps).
//
// The dynamics are closed-form, so the port is exact rather than
// approximate: the state is float64 and every update is evaluated with the
// same operations in the same order as Gymnasium's Python, including the
// details that decide the last bits:
//   - Pendulum clips the torque to ±2 before both the cost and the update,
//     evaluates the cost on the state before the update, and normalises the
//     angle in the cost with Python's floored modulo.
//   - CartPole integrates with explicit Euler by default; the
//     semi-implicit variant is the "semi_implicit" parameter (NewCartPole).
//     The reward is 1 on every step, the terminating one included.
//   - MountainCarContinuous charges 0.1·a² on the raw, unclipped action,
//     clips the force to ±1 for the update, and stores its state rounded to
//     float32 after every step (the next step starts from the rounded
//     values). The state right after Reset is not rounded, as in Gymnasium.
//   - Acrobot takes one classic RK4 step of 0.2 s in float64 with the
//     "book" dynamics, wraps both angles into [−π, π] by repeated ±2π, then
//     clips the velocities to ±4π and ±9π. Its reset state is rounded to
//     float32, as in Gymnasium. The reward is −1 per step and 0 on the
//     terminal step.
//
// Observations are what Gymnasium returns: float32 values (the float32
// rounding of the float64 state or of its sines and cosines), widened to
// float64. The observation spaces carry Gymnasium's float32 bounds.
//
// Where results can differ from Gymnasium in the last bits:
//   - Actions are float64 here; Gymnasium's are float32 arrays. Under
//     NumPy 2 (NEP 50) a float32 scalar combined with a Python number
//     stays float32, so Gymnasium computes Pendulum's u² and 3u, and all of
//     a MountainCarContinuous step after the first, in float32. This
//     package computes them in float64, as the reference specifies and as
//     NumPy 1 does (for an action that is a float32 value).
//   - Go's math.Sin and math.Cos are not glibc's, and Python's x**2 is C
//     pow(), which glibc does not always round correctly (this package
//     squares with x*x): each agrees to within an ulp, not always bit for
//     bit. With Go's sine and cosine substituted, a float64 transcription
//     of Gymnasium's step functions in Python reproduces this package's
//     trajectories bit for bit (checked on 2,000 steps of the four tasks,
//     the wall and the goal included; one reward differed by one ulp,
//     from pow).
//   - On architectures with fused multiply-add (arm64, ppc64, s390x) the Go
//     compiler may fuse x*y+z, which rounds once instead of twice. Results
//     are bit-identical across runs on one machine, and on amd64 they are
//     the sequence of IEEE operations Gymnasium performs.
//
// Reset distributions are Gymnasium's, drawn from a math/rand/v2 PCG
// generator: Reset(envs.WithSeed(s)) reseeds it, Reset(envs.NoSeed)
// continues the stream (a new environment starts from seed 0). The draws
// are not NumPy's, so a seed does not give Gymnasium's start state.
//
// Each environment implements envs.Env and envs.Renderer. Steady-state Step
// calls allocate nothing. The environments never truncate; envs.Make wraps
// them in an envs.TimeLimit.
package classic
