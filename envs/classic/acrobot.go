package classic

import (
	"image"
	"math"

	"github.com/minrl/minrl/envs"
)

// Acrobot is Gymnasium's Acrobot-v1: two links hanging from a fixed pivot,
// a torque of −1, 0 or +1 (actions 0, 1, 2) on the joint between them. The
// episode terminates when the free end rises above the pivot by more than
// one link length: −cos θ1 − cos(θ1 + θ2) > 1. Reward −1 per step, 0 on the
// terminal step.
//
// Dynamics ("book" form, τ the torque), with l1 = l2 = 1, m1 = m2 = 1,
// lc1 = lc2 = 0.5, I1 = I2 = 1, g = 9.8:
//
//	d1 = m1·lc1² + m2·(l1² + lc2² + 2·l1·lc2·cos θ2) + I1 + I2
//	d2 = m2·(lc2² + l1·lc2·cos θ2) + I2
//	φ2 = m2·lc2·g·cos(θ1 + θ2 − π/2)
//	φ1 = −m2·l1·lc2·θ̇2²·sin θ2 − 2·m2·l1·lc2·θ̇2·θ̇1·sin θ2
//	     + (m1·lc1 + m2·l1)·g·cos(θ1 − π/2) + φ2
//	θ̈2 = (τ + d2/d1·φ1 − m2·l1·lc2·θ̇1²·sin θ2 − φ2) / (m2·lc2² + I2 − d2²/d1)
//	θ̈1 = −(d2·θ̈2 + φ1) / d1
//
// One classic RK4 step over [0, 0.2] in float64, then θ1, θ2 wrapped into
// [−π, π] by repeated ±2π and θ̇1, θ̇2 clipped to ±4π, ±9π. Observation
// [cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]; reset: all four state values
// ~ U(−0.1, 0.1), rounded to float32 as Gymnasium does.
type Acrobot struct {
	core
	state [4]float64 // θ1, θ2, θ̇1, θ̇2
}

// Acrobot constants (Gymnasium's AcrobotEnv), float64 variables so that
// products of them are rounded step by step as in Python.
var (
	acDt     float64 = 0.2
	acL1     float64 = 1.0
	acM1     float64 = 1.0
	acM2     float64 = 1.0
	acLc1    float64 = 0.5
	acLc2    float64 = 0.5
	acI1     float64 = 1.0
	acI2     float64 = 1.0
	acG      float64 = 9.8
	acMaxV1          = 4 * pi
	acMaxV2          = 9 * pi
	acTorque         = [3]float64{-1, 0, 1}
)

// NewAcrobot returns Acrobot-v1 with the default "book" dynamics. The
// observation space bounds the velocities by float32(4π), float32(9π); the
// action space is Discrete(3), torques −1, 0, +1.
func NewAcrobot() *Acrobot {
	high := []float64{1, 1, 1, 1, f32(acMaxV1), f32(acMaxV2)}
	low := make([]float64, len(high))
	for i, h := range high {
		low[i] = -h
	}
	return &Acrobot{core: newCore(envs.Box{Low: low, High: high}, envs.Discrete{N: 3})}
}

// Reset implements envs.Env.
func (e *Acrobot) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	if err := e.begin(seed); err != nil {
		return nil, nil, err
	}
	for i := range e.state {
		e.state[i] = f32(e.uniform(-0.1, 0.1))
	}
	e.observe()
	return e.obs, &e.info, nil
}

// Step implements envs.Env.
func (e *Acrobot) Step(a []float64) (envs.StepResult, error) {
	if err := e.check(a); err != nil {
		return envs.StepResult{}, err
	}
	ns := acrobotRK4(e.state, acTorque[int(a[0])])
	ns[0] = wrap(ns[0], -pi, pi)
	ns[1] = wrap(ns[1], -pi, pi)
	ns[2] = min(max(ns[2], -acMaxV1), acMaxV1)
	ns[3] = min(max(ns[3], -acMaxV2), acMaxV2)
	e.state = ns
	terminated := acrobotTerminal(ns)
	reward := -1.0
	if terminated {
		reward = 0
	}
	e.observe()
	return e.finish(reward, terminated), nil
}

// acrobotTerminal reports whether the tip is more than one link length
// above the pivot: −cos θ1 − cos(θ2 + θ1) > 1.
func acrobotTerminal(s [4]float64) bool { return -math.Cos(s[0])-math.Cos(s[1]+s[0]) > 1.0 }

// acrobotDsdt is the time derivative of (θ1, θ2, θ̇1, θ̇2) under torque a,
// term by term as Gymnasium's _dsdt.
func acrobotDsdt(s [4]float64, a float64) [4]float64 {
	m1, m2, l1, lc1, lc2, I1, I2, g := acM1, acM2, acL1, acLc1, acLc2, acI1, acI2, acG
	theta1, theta2, dtheta1, dtheta2 := s[0], s[1], s[2], s[3]
	d1 := m1*(lc1*lc1) + m2*((l1*l1)+(lc2*lc2)+2*l1*lc2*math.Cos(theta2)) + I1 + I2
	d2 := m2*((lc2*lc2)+l1*lc2*math.Cos(theta2)) + I2
	phi2 := m2 * lc2 * g * math.Cos(theta1+theta2-pi/2.0)
	phi1 := -m2*l1*lc2*(dtheta2*dtheta2)*math.Sin(theta2) -
		2*m2*l1*lc2*dtheta2*dtheta1*math.Sin(theta2) +
		(m1*lc1+m2*l1)*g*math.Cos(theta1-pi/2) +
		phi2
	// "book" dynamics (Gymnasium's default), not the NIPS paper's.
	ddtheta2 := (a + d2/d1*phi1 - m2*l1*lc2*(dtheta1*dtheta1)*math.Sin(theta2) - phi2) /
		(m2*(lc2*lc2) + I2 - (d2*d2)/d1)
	ddtheta1 := -(d2*ddtheta2 + phi1) / d1
	return [4]float64{dtheta1, dtheta2, ddtheta1, ddtheta2}
}

// acrobotRK4 is Gymnasium's rk4 over t = [0, dt] on the state augmented
// with the torque (whose derivative is 0, so it stays a).
func acrobotRK4(y0 [4]float64, a float64) [4]float64 {
	dt := acDt - 0
	dt2 := dt / 2.0
	k1 := acrobotDsdt(y0, a)
	var y [4]float64
	for i := range y {
		y[i] = y0[i] + dt2*k1[i]
	}
	k2 := acrobotDsdt(y, a)
	for i := range y {
		y[i] = y0[i] + dt2*k2[i]
	}
	k3 := acrobotDsdt(y, a)
	for i := range y {
		y[i] = y0[i] + dt*k3[i]
	}
	k4 := acrobotDsdt(y, a)
	dt6 := dt / 6.0
	for i := range y {
		y[i] = y0[i] + dt6*(k1[i]+2*k2[i]+2*k3[i]+k4[i])
	}
	return y
}

// wrap is Gymnasium's wrap: x moved into [m, M] by repeated ±(M − m).
func wrap(x, m, M float64) float64 {
	diff := M - m
	for x > M {
		x = x - diff
	}
	for x < m {
		x = x + diff
	}
	return x
}

func (e *Acrobot) observe() {
	s := e.state
	e.obs[0], e.obs[1] = f32(math.Cos(s[0])), f32(math.Sin(s[0]))
	e.obs[2], e.obs[3] = f32(math.Cos(s[1])), f32(math.Sin(s[1]))
	e.obs[4], e.obs[5] = f32(s[2]), f32(s[3])
}

// setState places the links (for tests).
func (e *Acrobot) setState(s [4]float64) {
	e.state = s
	e.observe()
}

// Render implements envs.Renderer: the two links (teal) hanging from the
// pivot, the joints (gold), and the line the tip must rise above.
func (e *Acrobot) Render(width, height int) (*image.RGBA, error) {
	c, err := newCanvas(width, height)
	if err != nil {
		return nil, err
	}
	const bound = 2.2 // l1 + l2 + 0.2
	c.scale = float64(min(width, height)) / (2 * bound)
	c.ox, c.oy = float64(width)/2, float64(height)/2
	c.line(-bound, 1, bound, 1, 0.01, colBlack)
	s := e.state
	x1, y1 := math.Sin(s[0]), -math.Cos(s[0])
	x2, y2 := x1+math.Sin(s[0]+s[1]), y1-math.Cos(s[0]+s[1])
	c.line(0, 0, x1, y1, 0.2, colTeal)
	c.line(x1, y1, x2, y2, 0.2, colTeal)
	c.disc(0, 0, 0.1, colGold)
	c.disc(x1, y1, 0.1, colGold)
	return c.image()
}
