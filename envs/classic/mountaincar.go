package classic

import (
	"image"
	"math"

	"github.com/minrl/minrl/envs"
)

// MountainCarContinuous is Gymnasium's MountainCarContinuous-v0: a car in a
// valley, too weak to climb the right hill directly, drives with a force
// a ∈ [−1, 1]. The episode terminates at the goal (x ≥ 0.45 and v ≥ 0).
//
//	F  = clip(a, −1, 1)
//	v ← clip(v + F·0.0015 − 0.0025·cos(3x), −0.07, 0.07)
//	x ← clip(x + v, −1.2, 0.6);  if x = −1.2 and v < 0: v ← 0
//	reward = 100·[goal] − 0.1·a²   (the raw, unclipped action)
//
// The state is rounded to float32 after every step, so the next step
// starts from the rounded values. Observation [x, v]; reset
// x ~ U(−0.6, −0.4), v = 0.
type MountainCarContinuous struct {
	core
	x, v float64
}

// Mountain car constants (Gymnasium's Continuous_MountainCarEnv).
var (
	mcMinAction   float64 = -1.0
	mcMaxAction   float64 = 1.0
	mcMinPosition float64 = -1.2
	mcMaxPosition float64 = 0.6
	mcMaxSpeed    float64 = 0.07
	mcGoalPos     float64 = 0.45
	mcGoalVel     float64 = 0
	mcPower       float64 = 0.0015
)

// NewMountainCarContinuous returns MountainCarContinuous-v0: observations
// in [−1.2, 0.6]×[−0.07, 0.07] (float32 bounds), actions Box(−1, 1, (1,)).
func NewMountainCarContinuous() *MountainCarContinuous {
	obs := envs.Box{
		Low:  []float64{f32(mcMinPosition), f32(-mcMaxSpeed)},
		High: []float64{f32(mcMaxPosition), f32(mcMaxSpeed)},
	}
	return &MountainCarContinuous{core: newCore(obs, envs.NewBox(1, mcMinAction, mcMaxAction))}
}

// Reset implements envs.Env. As in Gymnasium, the reset position is kept
// in float64 (only the observation is rounded); every step stores float32.
func (e *MountainCarContinuous) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	if err := e.begin(seed); err != nil {
		return nil, nil, err
	}
	e.x = e.uniform(-0.6, -0.4)
	e.v = 0
	e.observe()
	return e.obs, &e.info, nil
}

// Step implements envs.Env.
func (e *MountainCarContinuous) Step(a []float64) (envs.StepResult, error) {
	if err := e.check(a); err != nil {
		return envs.StepResult{}, err
	}
	position, velocity := e.x, e.v
	force := min(max(a[0], mcMinAction), mcMaxAction)
	velocity += force*mcPower - 0.0025*math.Cos(3*position)
	if velocity > mcMaxSpeed {
		velocity = mcMaxSpeed
	}
	if velocity < -mcMaxSpeed {
		velocity = -mcMaxSpeed
	}
	position += velocity
	if position > mcMaxPosition {
		position = mcMaxPosition
	}
	if position < mcMinPosition {
		position = mcMinPosition
	}
	if position == mcMinPosition && velocity < 0 {
		velocity = 0
	}
	terminated := position >= mcGoalPos && velocity >= mcGoalVel
	var reward float64
	if terminated {
		reward = 100
	}
	reward -= a[0] * a[0] * 0.1 // the raw action, not the clipped force
	e.x, e.v = f32(position), f32(velocity)
	e.observe()
	return e.finish(reward, terminated), nil
}

func (e *MountainCarContinuous) observe() {
	e.obs[0], e.obs[1] = f32(e.x), f32(e.v)
}

// setState places the car (for tests); the values are used unrounded.
func (e *MountainCarContinuous) setState(x, v float64) {
	e.x, e.v = x, v
	e.observe()
}

// mcHeight is the track: y = 0.45·sin(3x) + 0.55.
func mcHeight(x float64) float64 { return math.Sin(3*x)*0.45 + 0.55 }

// Render implements envs.Renderer: the track, the goal flag (gold) and the
// car (black, grey wheels) tilted along the slope.
func (e *MountainCarContinuous) Render(width, height int) (*image.RGBA, error) {
	c, err := newCanvas(width, height)
	if err != nil {
		return nil, err
	}
	// Gymnasium: 600x400 pixels for the 1.8 units of track (333 px per
	// unit); the car is 0.12 x 0.06 units, 0.03 above the track.
	world := mcMaxPosition - mcMinPosition
	c.scale = math.Min(float64(width)/world, float64(height)/1.2)
	c.ox = float64(width)/2 - (mcMinPosition+world/2)*c.scale
	c.oy = float64(height) - (float64(height)-1.2*c.scale)/2 // y = 0 at the bottom
	const n = 64
	for i := range n {
		x0 := mcMinPosition + world*float64(i)/n
		x1 := mcMinPosition + world*float64(i+1)/n
		c.line(x0, mcHeight(x0), x1, mcHeight(x1), 0.008, colBlack)
	}
	// Flag at the goal.
	fx, fy := mcGoalPos, mcHeight(mcGoalPos)
	c.line(fx, fy, fx, fy+0.15, 0.006, colBlack)
	c.poly(colGold, [2]float64{fx, fy + 0.15}, [2]float64{fx, fy + 0.12}, [2]float64{fx + 0.075, fy + 0.135})
	// The car, rotated to the slope.
	x := e.x
	ang := math.Atan(1.35 * math.Cos(3*x)) // d/dx of the track
	ca, sa := math.Cos(ang), math.Sin(ang)
	bx, by := x, mcHeight(x)
	const clearance, w, h, r = 0.03, 0.12, 0.06, 0.024
	at := func(u, v float64) [2]float64 { // car frame to world
		v += clearance
		return [2]float64{bx + u*ca - v*sa, by + u*sa + v*ca}
	}
	c.poly(colBlack, at(-w/2, 0), at(-w/2, h), at(w/2, h), at(w/2, 0))
	for _, u := range []float64{-w / 4, w / 4} {
		p := at(u, 0)
		c.disc(p[0], p[1], r, colGrey)
	}
	return c.image()
}
