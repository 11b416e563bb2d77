package locomotion

// Physics simulates one planar robot with MuJoCo's generalised
// coordinates: qpos = (rootx, rootz, rooty, joint angles...), qvel their
// time derivatives, in the order of the task's model (see Task).
type Physics interface {
	// SetState places the robot at qpos with velocities qvel.
	SetState(qpos, qvel []float64) error
	// State copies the current state into qpos (len NQ) and qvel (len NV).
	State(qpos, qvel []float64)
	// Step holds the actuator controls ctrl (each clamped to [-1, 1], as
	// MuJoCo's ctrllimited motors) for one control interval of Dt seconds
	// (frame_skip simulator substeps). An error means the simulation broke
	// down (non-finite state, instability); the episode then ends.
	Step(ctrl []float64) error
	// Dt is the control interval: simulator timestep × frame_skip.
	Dt() float64
	// Geoms appends the robot's shapes, for rendering, to dst.
	Geoms(dst []Geom) []Geom
	Close() error
}

// Geom is a capsule in the x-z plane: the segment (X0, Z0)-(X1, Z1) swept by
// a disc of Radius. World coordinates, z up.
type Geom struct {
	X0, Z0, X1, Z1, Radius float64
}
