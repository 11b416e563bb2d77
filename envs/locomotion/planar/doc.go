// Package planar is minrl's pure-Go physics for the planar locomotion tasks
// (Hopper, Walker2d, HalfCheetah). It implements locomotion.Physics, so the
// task code (observations, reward, health, reset noise) is the one in
// envs/locomotion, and it registers
//
//	minrl/Hopper-v0, minrl/Walker2d-v0, minrl/HalfCheetah-v0
//
// with envs.Make (time limit 1000 steps; reference returns measured by
// minrl collect). These tasks are a benchmark of their own: their dynamics
// are not MuJoCo's (docs/environments.md compares them with MuJoCo 2.2.2:
// close for random and zero actions, not for a trained policy), so never
// report D4RL-normalised scores from them.
//
// # Model
//
// HopperModel, Walker2dModel and HalfCheetahModel transcribe Gymnasium's
// v4 XML models (docs/environments.md §2-§7): the body tree, every capsule
// (end points and radius in its body's frame), the hinge points, axes,
// ranges, gears, armature, damping and stiffness, the geom and floor
// frictions, solref/solimp, the margin, the timestep and frame_skip.
//   - Masses and inertias are those of solid capsules (cylinder plus two
//     hemispheres) of density 1000 kg/m³, as MuJoCo's inertiafromgeom
//     computes them; a body's capsules are combined by the parallel-axis
//     theorem; HalfCheetah's are rescaled to 14 kg in total (settotalmass).
//     Only the inertia about the y axis matters in the plane.
//   - Gravity 9.81 m/s². Timestep and frame_skip: Hopper and Walker2d
//     0.002 s × 4, HalfCheetah 0.01 s × 5 (Dt 0.008 s and 0.05 s).
//   - Motors: torque = gear · clamp(ctrl, −1, 1) on the joint's coordinate.
//   - Contact friction is the larger of the floor's and the geom's
//     (MuJoCo's mixing rule): Hopper 1.0 (foot 2.0), Walker2d 0.9 (left foot
//     1.9, the v2-v4 values), HalfCheetah 0.4.
//
// # Coordinates
//
// The plane is MuJoCo's x-z plane seen from its camera: x forward (right),
// z up; the y axis points into the screen, so a positive turn about +y is
// clockwise on screen. Box2D's plane is x-y with counter-clockwise angles:
// MuJoCo (x, z) is Box2D (x, y), and a Box2D angle is minus a turn about
// +y. qpos and qvel follow MuJoCo exactly:
//   - qpos = (rootx, rootz, rooty, hinge angles in the model's order), qvel
//     their time derivatives; rootx and rootz are the torso frame's origin
//     and its velocity, rooty the turn about +y (Box2D angle −rooty).
//   - qpos[1] is the torso's absolute height for Hopper and Walker2d
//     (rootz has ref 1.25: 1.25 at qpos0) and the change of height for
//     HalfCheetah (no ref; the torso starts at z 0.7; 0 at qpos0).
//   - A hinge with axis (0, −1, 0) (Hopper, Walker2d) turns its child
//     counter-clockwise for a positive angle, one with axis (0, 1, 0)
//     (HalfCheetah) clockwise: Box2D's relative angle is s·q with s = −axis_y.
//
// The generalised coordinates are the state between steps: SetState stores
// qpos and qvel (State returns them unchanged) and places every body by
// forward kinematics; Step simulates the bodies, then reads qpos and qvel
// back from them (torso frame; hinge angles and velocities from relative
// angles and angular velocities) and places the bodies on them again.
// Forward then inverse kinematics round-trips to 4e-15 (Box2D's Go port
// is float64 throughout).
//
// # Method
//
// Box2D (github.com/ByteArena/box2d, a Go port of Box2D 2.3) holds one
// dynamic body per MuJoCo body (mass, centre of mass, rotational inertia,
// transform) and one revolute joint per hinge, whose position correction
// (nonlinear Gauss-Seidel, b2RevoluteJoint::SolvePositionConstraints)
// keeps the hinges together. The step itself is the package's own
// (solver.go), not b2World.Step, because Box2D has no joint armature,
// damping or stiffness and no soft constraints, and its world step
// allocates every time. One solver step of h (the MuJoCo timestep divided
// by Model.Substeps) is semi-implicit Euler:
//  1. Gravity, the motor torques and the joint springs (−k·q, explicit as
//     in MuJoCo's Euler integrator) change the velocities.
//  2. The hinges are solved exactly: each hinge's point constraint (two
//     rows) and a joint row carrying armature J and damping c implicitly,
//     ω⁺ + γP = γJω⁻ with γ = 1/(J + h·c) on the relative angular velocity
//     ω: the impulse P = −J(ω⁺ − ω⁻) − h·c·ω⁺ makes the joint's inertia the
//     bodies' plus J (MuJoCo's armature) and the damping unconditionally
//     stable. The rows of all hinges form one system, J M⁻¹ Jᵀ + C, at most
//     18×18, factored by Cholesky each solver step (rows ordered from the
//     leaves to the root, so that the factor stays within a narrow
//     envelope).
//  3. Floor contacts and joint limits are MuJoCo's soft constraints. Each
//     row (contact normal, contact friction, violated joint limit) aims at
//     MuJoCo's reference acceleration a_ref = −b·v − k·r with
//     b = 2/(dmax·tc), k = d(r)/(dmax²·tc²·ζ²) from solref (tc, ζ) and the
//     impedance d(r) from solimp, mixed with the unconstrained acceleration
//     as MuJoCo does (a = (1 − d)·a₀ + d·a_ref, the regulariser
//     R = A_ii(1 − d)/d). A_ii is the row's inverse effective mass with the
//     hinges eliminated (the articulated response, as in MuJoCo's
//     joint-space A), and each row's impulse moves all bodies by that
//     response, so the hinges stay exactly satisfied while projected
//     Gauss-Seidel (Model.VelocityIterations sweeps) solves the rows;
//     friction is bounded by μ times the normal impulse.
//  4. Positions are integrated with the new velocities; Box2D's joints
//     correct the hinges' position error (Model.PositionIterations passes).
//
// After the last solver step of a control step, Newton steps on the hinge
// constraints (mass-weighted, so momentum is kept) close the hinges to
// 1e-12 m and the velocities are projected onto them; JointDrift reports
// how far apart the hinges were before that (TestStableUnderRandomActions
// logs it: over 10 episodes of 1000 random-action steps per robot at most
// 0.04 mm for the Hopper, 0.75 mm for the Walker2d, 1.5 mm for the
// HalfCheetah; up to 2.6 mm under bang-bang actions; a drift over
// MaxJointDrift, or a non-finite state, is an ErrUnstable error). Warm starts (the impulses
// carried from one solver step to the next) are cleared at the start of
// each control step, so a step is a function of (qpos, qvel, ctrl) alone:
// same inputs, bit-identical results, and SetState of a recorded state
// replays the rest of a trajectory exactly.
//
// # Differences from MuJoCo
//
//   - Integrator: semi-implicit Euler with implicit armature and damping,
//     solver step 0.002 s (Hopper, Walker2d; MuJoCo uses RK4) and 0.005 s
//     (HalfCheetah: two solver steps per MuJoCo timestep; MuJoCo uses Euler
//     at 0.01 s). The error is first order in the step.
//   - Coordinates: maximal (one body each, hinges as constraints) instead
//     of MuJoCo's reduced ones. Solved exactly, the hinges give the same
//     equations of motion; within a control step they drift apart by at
//     most a few millimetres, which the end-of-step projection removes.
//   - Contacts: only robot against floor, no self-collision (MuJoCo's
//     Walker2d and HalfCheetah have none either; its Hopper could collide
//     non-adjacent bodies, e.g. foot and thigh). Each capsule touches the
//     floor with its two end discs, which is exact against a plane: a
//     capsule's deepest point is always on an end disc. (No Box2D fixture,
//     broad phase or contact object is used: a capsule would have been a
//     box plus two circles, whose box never reaches the plane first.)
//   - Friction: a Coulomb box |λ_t| ≤ μλ_n on the one tangent direction of
//     the plane, regularised like the normal row with a_ref = −b·v; MuJoCo
//     uses a pyramidal cone with the same softness. No torsional or
//     rolling friction (they act about axes that do not exist in 2-D).
//   - Solver: MuJoCo minimises its convex constraint problem with Newton's
//     method; here projected Gauss-Seidel over the contact and limit rows
//     (8 sweeps) may leave some residual when several of them interact.
//   - Warm starts are cleared every control step (MuJoCo keeps
//     qacc_warmstart, which makes its step depend slightly on history).
//
// # Checked against
//
// An independent reduced-coordinate model of the same robots (refModel in
// the tests: MuJoCo's equations of motion integrated by RK4) and MuJoCo
// 2.2.2 itself (envs/locomotion/mujoco, build tag mujoco, mujoco_test.go);
// the measurements, stability checks, learnability and speed are in
// docs/environments.md. A steady-state Step allocates nothing.
//
// Concurrency: a Physics (and an env) is not safe for concurrent use, but
// separate ones may step in parallel: the package never touches Box2D's
// package-level state (its contact registry and counters), since it
// creates no fixture or contact and never calls b2World.Step.
package planar
