package classic

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"git.sr.ht/~sbinet/gg"

	"github.com/minrl/minrl/envs"
)

func init() {
	envs.Register(envs.Spec{
		ID:          "Pendulum-v1",
		Description: "Gymnasium's Pendulum-v1: swing a pendulum up and hold it; obs [cos θ, sin θ, θ̇], torque in [−2, 2]; parameter g (gravity, default 10)",
		New: func(p *envs.Params) (envs.Env, error) {
			e, err := NewPendulum(p.Float("g", 10))
			if err != nil {
				return nil, err
			}
			return e, nil
		},
		MaxEpisodeSteps: 200,
		RewardThreshold: math.NaN(),
		// Measured by minrl collect: each the mean of 100 episodes of the
		// uniform-random policy and of the PPO expert behaviour policy.
		RandomReturn: -1265.3138439755799, ExpertReturn: -180.05565116080072,
		RefSource: "minrl collect --env Pendulum-v1 --ppo-steps 300000 --seed 1 (data/pendulum-collect.json)",
	})
	envs.Register(envs.Spec{
		ID:          "CartPole-v1",
		Description: "Gymnasium's CartPole-v1: balance a pole on a cart pushed left or right; parameter semi_implicit (0: Euler, the default; 1: semi-implicit Euler)",
		New: func(p *envs.Params) (envs.Env, error) {
			v := p.Float("semi_implicit", 0)
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("%w: semi_implicit = %g, want 0 or 1", envs.ErrBadOption, v)
			}
			return NewCartPole(v == 1), nil
		},
		MaxEpisodeSteps: 500,
		RewardThreshold: 475,
		RandomReturn:    math.NaN(), ExpertReturn: math.NaN(),
	})
	envs.Register(envs.Spec{
		ID:          "MountainCarContinuous-v0",
		Description: "Gymnasium's MountainCarContinuous-v0: drive an underpowered car up a hill; force in [−1, 1], +100 at the goal",
		New: func(*envs.Params) (envs.Env, error) {
			return NewMountainCarContinuous(), nil
		},
		MaxEpisodeSteps: 999,
		RewardThreshold: 90,
		RandomReturn:    math.NaN(), ExpertReturn: math.NaN(),
	})
	envs.Register(envs.Spec{
		ID:          "Acrobot-v1",
		Description: "Gymnasium's Acrobot-v1: swing the tip of a two-link arm above a line with torque −1, 0 or +1 on the middle joint",
		New: func(*envs.Params) (envs.Env, error) {
			return NewAcrobot(), nil
		},
		MaxEpisodeSteps: 500,
		RewardThreshold: -100,
		RandomReturn:    math.NaN(), ExpertReturn: math.NaN(),
	})
}

// seedStream is the PCG stream of every classic env ("classic").
const seedStream = 0x636c6173736963

// core is what the four environments share: the generator, the episode
// phase, the reused Info and the observation buffer.
type core struct {
	pcg  *rand.PCG
	rng  *rand.Rand
	ep   envs.Episode
	info envs.Info
	obs  []float64
	// The spaces are held as interfaces: converting a Box to a Space on
	// every Step (for CheckAction) would allocate.
	obsSpace, actSpace envs.Space
}

func newCore(obs envs.Box, act envs.Space) core {
	pcg := rand.NewPCG(0, seedStream)
	return core{pcg: pcg, rng: rand.New(pcg), obs: make([]float64, obs.Dim()), obsSpace: obs, actSpace: act}
}

// ObservationSpace implements envs.Env.
func (c *core) ObservationSpace() envs.Space { return c.obsSpace }

// ActionSpace implements envs.Env.
func (c *core) ActionSpace() envs.Space { return c.actSpace }

// Close implements envs.Env; the env is unusable after.
func (c *core) Close() error {
	c.ep.Close()
	return nil
}

// begin starts an episode: reseeds when asked and clears the info.
func (c *core) begin(seed envs.Seed) error {
	if err := c.ep.Begin(); err != nil {
		return err
	}
	if s, ok := seed.Value(); ok {
		c.pcg.Seed(s, seedStream)
	}
	c.info.Err = nil
	clear(c.info.Values)
	return nil
}

// check returns the error a Step with action a must return, or nil.
func (c *core) check(a []float64) error {
	if err := c.ep.CanStep(); err != nil {
		return err
	}
	return envs.CheckAction(c.actSpace, a)
}

// uniform draws from U(lo, hi) as NumPy's Generator.uniform does:
// lo + (hi − lo)·U[0, 1).
func (c *core) uniform(lo, hi float64) float64 { return lo + (hi-lo)*c.rng.Float64() }

// finish completes a step result and records the end of the episode.
func (c *core) finish(reward float64, terminated bool) envs.StepResult {
	r := envs.StepResult{Obs: c.obs, Reward: reward, Terminated: terminated, Info: &c.info}
	c.ep.End(r)
	return r
}

// f32 rounds x to float32, as np.array(..., dtype=np.float32) does.
func f32(x float64) float64 { return float64(float32(x)) }

// pi is math.Pi as a float64 variable, so that expressions with it are
// evaluated in float64 step by step as in Python (a Go constant expression
// would be evaluated exactly and rounded once).
var pi float64 = math.Pi

// canvas maps world coordinates (y up) to pixels (y down).
type canvas struct {
	dc     *gg.Context
	scale  float64
	ox, oy float64 // pixel position of the world origin
}

func newCanvas(width, height int) (*canvas, error) {
	if width < 16 || height < 16 {
		return nil, fmt.Errorf("%w: render size %dx%d, want at least 16x16", envs.ErrBadOption, width, height)
	}
	dc := gg.NewContext(width, height)
	dc.SetColor(color.White)
	dc.Clear()
	return &canvas{dc: dc}, nil
}

func (c *canvas) px(x, y float64) (float64, float64) { return c.ox + x*c.scale, c.oy - y*c.scale }

// line strokes a segment of world width w with round caps.
func (c *canvas) line(x0, y0, x1, y1, w float64, col color.Color) {
	c.dc.SetColor(col)
	c.dc.SetLineWidth(math.Max(1, w*c.scale))
	c.dc.SetLineCapRound()
	a, b := c.px(x0, y0)
	p, q := c.px(x1, y1)
	c.dc.DrawLine(a, b, p, q)
	c.dc.Stroke()
}

// disc fills a circle of world radius r.
func (c *canvas) disc(x, y, r float64, col color.Color) {
	c.dc.SetColor(col)
	a, b := c.px(x, y)
	c.dc.DrawCircle(a, b, math.Max(1, r*c.scale))
	c.dc.Fill()
}

// poly fills a polygon given in world coordinates.
func (c *canvas) poly(col color.Color, pts ...[2]float64) {
	c.dc.SetColor(col)
	for i, p := range pts {
		a, b := c.px(p[0], p[1])
		if i == 0 {
			c.dc.MoveTo(a, b)
		} else {
			c.dc.LineTo(a, b)
		}
	}
	c.dc.ClosePath()
	c.dc.Fill()
}

func (c *canvas) image() (*image.RGBA, error) {
	img, ok := c.dc.Image().(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("render: unexpected image type %T", c.dc.Image())
	}
	return img, nil
}

// Colours of Gymnasium's drawings.
var (
	colBlack = color.RGBA{A: 255}
	colRed   = color.RGBA{R: 204, G: 77, B: 77, A: 255}
	colBrown = color.RGBA{R: 202, G: 152, B: 101, A: 255}
	colBlue  = color.RGBA{R: 129, G: 132, B: 203, A: 255}
	colTeal  = color.RGBA{G: 204, B: 204, A: 255}
	colGold  = color.RGBA{R: 204, G: 204, A: 255}
	colGrey  = color.RGBA{R: 128, G: 128, B: 128, A: 255}
)
