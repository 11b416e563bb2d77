package classic

import (
	"fmt"
	"image"
	"math"

	"github.com/minrl/minrl/envs"
)

// Pendulum is Gymnasium's Pendulum-v1: a pendulum of mass 1 and length 1
// driven by a torque in [−2, 2]; θ = 0 is upright. It never terminates.
//
//	cost = angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²,  reward = −cost
//	       (u = clip(a, −2, 2); the cost uses the state before the update)
//	θ̇'  = clip(θ̇ + (3g/(2l)·sin θ + 3/(m l²)·u)·dt, −8, 8)
//	θ'   = θ + θ̇'·dt                                   (dt = 0.05)
//
// Observation [cos θ, sin θ, θ̇] in [−1, 1]×[−1, 1]×[−8, 8]; reset
// θ ~ U(−π, π), θ̇ ~ U(−1, 1).
type Pendulum struct {
	core
	// G is the gravity (Gymnasium's constructor argument g, default 10).
	G         float64
	th, thdot float64
	lastU     float64
}

// Pendulum constants (Gymnasium's PendulumEnv).
var (
	pendMaxSpeed  float64 = 8
	pendMaxTorque float64 = 2
	pendDt        float64 = 0.05
	pendM         float64 = 1
	pendL         float64 = 1
)

// NewPendulum returns Pendulum-v1 with gravity g (Gymnasium's default is
// 10). g must be finite.
func NewPendulum(g float64) (*Pendulum, error) {
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return nil, fmt.Errorf("%w: pendulum gravity g = %g", envs.ErrBadOption, g)
	}
	obs := envs.Box{Low: []float64{-1, -1, -pendMaxSpeed}, High: []float64{1, 1, pendMaxSpeed}}
	return &Pendulum{core: newCore(obs, envs.NewBox(1, -pendMaxTorque, pendMaxTorque)), G: g}, nil
}

// Reset implements envs.Env.
func (e *Pendulum) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	if err := e.begin(seed); err != nil {
		return nil, nil, err
	}
	e.th = e.uniform(-pi, pi)
	e.thdot = e.uniform(-1, 1)
	e.lastU = 0
	e.observe()
	return e.obs, &e.info, nil
}

// Step implements envs.Env.
func (e *Pendulum) Step(a []float64) (envs.StepResult, error) {
	if err := e.check(a); err != nil {
		return envs.StepResult{}, err
	}
	g, m, l, dt := e.G, pendM, pendL, pendDt
	th, thdot := e.th, e.thdot
	u := min(max(a[0], -pendMaxTorque), pendMaxTorque)
	e.lastU = u
	an := angleNormalize(th)
	cost := an*an + 0.1*(thdot*thdot) + 0.001*(u*u)

	newthdot := thdot + (3*g/(2*l)*math.Sin(th)+3.0/(m*(l*l))*u)*dt
	newthdot = min(max(newthdot, -pendMaxSpeed), pendMaxSpeed)
	newth := th + newthdot*dt
	e.th, e.thdot = newth, newthdot
	e.observe()
	return e.finish(-cost, false), nil
}

func (e *Pendulum) observe() {
	e.obs[0] = f32(math.Cos(e.th))
	e.obs[1] = f32(math.Sin(e.th))
	e.obs[2] = f32(e.thdot)
}

// setState places the pendulum (for tests).
func (e *Pendulum) setState(th, thdot float64) {
	e.th, e.thdot = th, thdot
	e.observe()
}

// angleNormalize is Gymnasium's ((x + π) mod 2π) − π with NumPy's floored
// modulo (the result takes the sign of the divisor, +0 for an exact zero).
func angleNormalize(x float64) float64 {
	twoPi := 2 * pi
	r := math.Mod(x+pi, twoPi) // C fmod: exact, the sign of the dividend
	if r < 0 {
		r += twoPi
	} else if r == 0 {
		r = 0 // copysign(0, 2π): turns −0 into +0
	}
	return r - pi
}

// Render implements envs.Renderer: the rod (red) on its axle seen from the
// front, θ = 0 pointing up, positive θ counter-clockwise, and an arc of
// the last torque.
func (e *Pendulum) Render(width, height int) (*image.RGBA, error) {
	c, err := newCanvas(width, height)
	if err != nil {
		return nil, err
	}
	const bound = 2.2
	c.scale = float64(min(width, height)) / (2 * bound)
	c.ox, c.oy = float64(width)/2, float64(height)/2
	tipX, tipY := -math.Sin(e.th), math.Cos(e.th)
	if e.lastU != 0 {
		// The torque as an arc around the axle, its length proportional
		// to |u|, drawn in the direction it turns the rod.
		r := 0.45 * c.scale
		span := math.Abs(e.lastU) / pendMaxTorque * math.Pi * 0.75
		start := -math.Pi / 2
		c.dc.SetColor(colGrey)
		c.dc.SetLineWidth(math.Max(1, 0.04*c.scale))
		if e.lastU > 0 { // counter-clockwise on screen: decreasing pixel angle
			c.dc.DrawArc(c.ox, c.oy, r, start-span, start)
		} else {
			c.dc.DrawArc(c.ox, c.oy, r, start, start+span)
		}
		c.dc.Stroke()
	}
	c.line(0, 0, tipX, tipY, 0.2, colRed)
	c.disc(0, 0, 0.05, colBlack)
	return c.image()
}
