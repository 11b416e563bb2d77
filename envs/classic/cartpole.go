package classic

import (
	"image"
	"math"

	"github.com/minrl/minrl/envs"
)

// CartPole is Gymnasium's CartPole-v1: a pole hinged on a cart that is
// pushed with −10 (action 0) or +10 (action 1) newtons. The episode
// terminates when |x| > 2.4 or |θ| > 12°; the reward is 1 on every step,
// the terminating one included.
//
//	temp = (F + pml·θ̇²·sin θ) / total_mass
//	θ̈   = (g·sin θ − cos θ·temp) / (length·(4/3 − masspole·cos²θ / total_mass))
//	ẍ   = temp − pml·θ̈·cos θ / total_mass
//	euler:          x += τ·ẋ; ẋ += τ·ẍ; θ += τ·θ̇; θ̇ += τ·θ̈
//	semi-implicit:  ẋ += τ·ẍ; x += τ·ẋ; θ̇ += τ·θ̈; θ += τ·θ̇
//
// with g = 9.8, masscart 1, masspole 0.1, length 0.5 (half the pole),
// pml = masspole·length, τ = 0.02. Observation [x, ẋ, θ, θ̇]; reset: all
// four ~ U(−0.05, 0.05).
type CartPole struct {
	core
	// SemiImplicit selects the semi-implicit Euler integrator (Gymnasium's
	// kinematics_integrator other than "euler").
	SemiImplicit bool
	state        [4]float64 // x, ẋ, θ, θ̇
}

// CartPole constants (Gymnasium's CartPoleEnv), float64 variables so that
// the derived ones are computed in float64 as in Python.
var (
	cpGravity     float64 = 9.8
	cpMassCart    float64 = 1.0
	cpMassPole    float64 = 0.1
	cpTotalMass           = cpMassPole + cpMassCart
	cpLength      float64 = 0.5
	cpPoleMassLen         = cpMassPole * cpLength
	cpForceMag    float64 = 10.0
	cpTau         float64 = 0.02
	cpThetaThresh         = 12 * 2 * pi / 360
	cpXThresh     float64 = 2.4
	cpFourThirds  float64 = 4.0 / 3.0
)

// NewCartPole returns CartPole-v1, integrated with explicit Euler
// (Gymnasium's default) or, with semiImplicit, semi-implicit Euler. The
// observation space is ±4.8 for x, ±24° for θ (float32 values), unbounded
// velocities; the action space Discrete(2).
func NewCartPole(semiImplicit bool) *CartPole {
	inf := math.Inf(1)
	high := []float64{f32(cpXThresh * 2), inf, f32(cpThetaThresh * 2), inf}
	low := make([]float64, 4)
	for i, h := range high {
		low[i] = -h
	}
	return &CartPole{
		core:         newCore(envs.Box{Low: low, High: high}, envs.Discrete{N: 2}),
		SemiImplicit: semiImplicit,
	}
}

// Reset implements envs.Env.
func (e *CartPole) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	if err := e.begin(seed); err != nil {
		return nil, nil, err
	}
	for i := range e.state {
		e.state[i] = e.uniform(-0.05, 0.05)
	}
	e.observe()
	return e.obs, &e.info, nil
}

// Step implements envs.Env.
func (e *CartPole) Step(a []float64) (envs.StepResult, error) {
	if err := e.check(a); err != nil {
		return envs.StepResult{}, err
	}
	x, xDot, theta, thetaDot := e.state[0], e.state[1], e.state[2], e.state[3]
	force := -cpForceMag
	if a[0] == 1 {
		force = cpForceMag
	}
	cosT, sinT := math.Cos(theta), math.Sin(theta)
	temp := (force + cpPoleMassLen*(thetaDot*thetaDot)*sinT) / cpTotalMass
	thetaAcc := (cpGravity*sinT - cosT*temp) /
		(cpLength * (cpFourThirds - cpMassPole*(cosT*cosT)/cpTotalMass))
	xAcc := temp - cpPoleMassLen*thetaAcc*cosT/cpTotalMass
	tau := cpTau
	if !e.SemiImplicit {
		x = x + tau*xDot
		xDot = xDot + tau*xAcc
		theta = theta + tau*thetaDot
		thetaDot = thetaDot + tau*thetaAcc
	} else {
		xDot = xDot + tau*xAcc
		x = x + tau*xDot
		thetaDot = thetaDot + tau*thetaAcc
		theta = theta + tau*thetaDot
	}
	e.state = [4]float64{x, xDot, theta, thetaDot}
	terminated := x < -cpXThresh || x > cpXThresh || theta < -cpThetaThresh || theta > cpThetaThresh
	e.observe()
	// Reward 1 on every step, the terminating one included (a further
	// Step is an error, so Gymnasium's reward 0 after termination never
	// arises).
	return e.finish(1, terminated), nil
}

func (e *CartPole) observe() {
	for i, v := range e.state {
		e.obs[i] = f32(v)
	}
}

// setState places the cart and pole (for tests).
func (e *CartPole) setState(s [4]float64) {
	e.state = s
	e.observe()
}

// Render implements envs.Renderer: the track, the cart (black), the pole
// (brown) on its axle (blue), as Gymnasium draws them: the 4.8 m between
// the walls fill the width.
func (e *CartPole) Render(width, height int) (*image.RGBA, error) {
	c, err := newCanvas(width, height)
	if err != nil {
		return nil, err
	}
	// Gymnasium: 600x400 pixels, 125 px per metre, the track 100 px above
	// the bottom; cart 0.4 x 0.24 m, pole 1 m long and 0.08 m wide.
	c.scale = math.Min(float64(width)/(2*cpXThresh), float64(height)/3.2)
	c.ox, c.oy = float64(width)/2, float64(height)-0.8*c.scale
	c.line(-2*cpXThresh, 0, 2*cpXThresh, 0, 0.01, colBlack)
	x, theta := e.state[0], e.state[2]
	const cartW, cartH = 0.4, 0.24
	c.poly(colBlack, [2]float64{x - cartW/2, -cartH / 2}, [2]float64{x - cartW/2, cartH / 2},
		[2]float64{x + cartW/2, cartH / 2}, [2]float64{x + cartW/2, -cartH / 2})
	axleY := cartH / 4
	poleLen := 2 * cpLength
	c.line(x, axleY, x+poleLen*math.Sin(theta), axleY+poleLen*math.Cos(theta), 0.08, colBrown)
	c.disc(x, axleY, 0.04, colBlue)
	return c.image()
}
