package locomotion

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"git.sr.ht/~sbinet/gg"

	"github.com/minrl/minrl/envs"
)

// Env is a locomotion Task running on a Physics. It implements envs.Env,
// envs.StateEnv and envs.Renderer; wrap it in a TimeLimit of
// Task.MaxEpisodeSteps (envs.Make does).
type Env struct {
	Task *Task
	Phys Physics

	rng             *rand.Rand
	qpos, qvel, obs []float64
	action          []float64
	// Interfaces, boxed once: passing a Box to CheckAction would allocate.
	obsSpace, actSpc envs.Space
	info             envs.Info
	ep               envs.Episode
	geoms            []Geom
}

// New puts a task and a physics together. The env owns phys (Close closes
// it). seed seeds the reset noise until the first seeded Reset.
func New(task *Task, phys Physics, seed uint64) *Env {
	return &Env{
		Task: task, Phys: phys,
		rng:  rand.New(rand.NewPCG(seed, 0x6d696e726c)),
		qpos: make([]float64, task.NQ), qvel: make([]float64, task.NV),
		obs: make([]float64, task.ObsDim), action: make([]float64, task.ActDim),
		obsSpace: envs.NewBox(task.ObsDim, math.Inf(-1), math.Inf(1)),
		actSpc:   envs.NewBox(task.ActDim, -1, 1),
	}
}

// ObservationSpace implements envs.Env: unbounded, as Gymnasium's.
func (e *Env) ObservationSpace() envs.Space { return e.obsSpace }

// ActionSpace implements envs.Env: [-1, 1] for every actuator.
func (e *Env) ActionSpace() envs.Space { return e.actSpc }

// Reset implements envs.Env: qpos0 and zero velocity, plus the task's
// reset noise.
func (e *Env) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	if err := e.ep.Begin(); err != nil {
		return nil, nil, err
	}
	if s, ok := seed.Value(); ok {
		e.rng = rand.New(rand.NewPCG(s, 0x6d696e726c))
	}
	copy(e.qpos, e.Task.InitQPos)
	clear(e.qvel)
	if e.Task.ResetNoise != nil {
		e.Task.ResetNoise(e.rng, e.qpos, e.qvel)
	}
	if err := e.Phys.SetState(e.qpos, e.qvel); err != nil {
		return nil, nil, fmt.Errorf("%s reset: %w", e.Task.Name, err)
	}
	e.Phys.State(e.qpos, e.qvel)
	e.Task.Obs(e.obs, e.qpos, e.qvel)
	e.info.Err = nil
	clear(e.info.Values)
	e.info.Set("x_position", e.qpos[0])
	return e.obs, &e.info, nil
}

// Step implements envs.Env.
func (e *Env) Step(a []float64) (envs.StepResult, error) {
	if err := e.ep.CanStep(); err != nil {
		return envs.StepResult{}, err
	}
	if err := envs.CheckAction(e.actSpc, a); err != nil {
		return envs.StepResult{}, err
	}
	xBefore := e.qpos[0]
	var ctrlCost float64
	for i, v := range a {
		e.action[i] = v
		ctrlCost += v * v
	}
	ctrlCost *= e.Task.CtrlCost
	simErr := e.Phys.Step(e.action)
	e.Phys.State(e.qpos, e.qvel)
	dt := e.Phys.Dt()
	xVel := (e.qpos[0] - xBefore) / dt
	forward := e.Task.ForwardWeight * xVel
	healthy := e.Task.Healthy == nil || e.Task.Healthy(e.qpos, e.qvel)
	if !finite(e.qpos) || !finite(e.qvel) {
		healthy = false
		if simErr == nil {
			simErr = fmt.Errorf("%s: non-finite state", e.Task.Name)
		}
	}
	r := envs.StepResult{Obs: e.obs, Info: &e.info}
	// Healthy reward on every step, the terminal one included (v2-v4, D4RL).
	r.Reward = forward + e.Task.HealthyReward - ctrlCost
	r.Terminated = (!healthy && e.Task.TerminateWhenUnhealthy) || simErr != nil
	if simErr != nil && !finite([]float64{r.Reward}) {
		r.Reward = 0
	}
	e.Task.Obs(e.obs, e.qpos, e.qvel)
	e.info.Err = simErr
	e.info.Set("x_position", e.qpos[0])
	e.info.Set("x_velocity", xVel)
	e.info.Set("reward_forward", forward)
	e.info.Set("reward_ctrl", -ctrlCost)
	e.info.Set("reward_survive", e.Task.HealthyReward)
	e.ep.End(r)
	return r, nil
}

// State implements envs.StateEnv.
func (e *Env) State() (qpos, qvel []float64) {
	qpos, qvel = make([]float64, e.Task.NQ), make([]float64, e.Task.NV)
	e.Phys.State(qpos, qvel)
	return qpos, qvel
}

// SetState implements envs.StateEnv. It also starts an episode, so Step
// may follow.
func (e *Env) SetState(qpos, qvel []float64) error {
	if len(qpos) != e.Task.NQ || len(qvel) != e.Task.NV {
		return fmt.Errorf("%s: state has %d qpos and %d qvel values, want %d and %d", e.Task.Name, len(qpos), len(qvel), e.Task.NQ, e.Task.NV)
	}
	if !finite(qpos) || !finite(qvel) {
		return fmt.Errorf("%s: non-finite state", e.Task.Name)
	}
	if err := e.ep.Begin(); err != nil {
		return err
	}
	if err := e.Phys.SetState(qpos, qvel); err != nil {
		return err
	}
	e.Phys.State(e.qpos, e.qvel)
	e.Task.Obs(e.obs, e.qpos, e.qvel)
	return nil
}

// Obs returns the current observation (owned by the env).
func (e *Env) Obs() []float64 { return e.obs }

// Close implements envs.Env.
func (e *Env) Close() error {
	e.ep.Close()
	return e.Phys.Close()
}

// Render implements envs.Renderer: the robot's capsules on a checkered
// floor, the camera following the torso.
func (e *Env) Render(width, height int) (*image.RGBA, error) {
	if width < 16 || height < 16 {
		return nil, fmt.Errorf("render size %dx%d too small", width, height)
	}
	e.geoms = e.Phys.Geoms(e.geoms[:0])
	const metresHigh = 2.5
	scale := float64(height) / metresHigh
	camX := e.qpos[0]
	toPx := func(x, z float64) (float64, float64) {
		return float64(width)/2 + (x-camX)*scale, float64(height) - (z+0.3)*scale
	}
	dc := gg.NewContext(width, height)
	dc.SetColor(color.RGBA{R: 235, G: 240, B: 248, A: 255})
	dc.Clear()
	// Floor tiles every 0.5 m, so that motion is visible.
	_, floorY := toPx(0, 0)
	for k := math.Floor((camX-8)/0.5) * 0.5; k < camX+8; k += 0.5 {
		x0, _ := toPx(k, 0)
		x1, _ := toPx(k+0.5, 0)
		if int(math.Round(k/0.5))%2 == 0 {
			dc.SetColor(color.RGBA{R: 150, G: 160, B: 170, A: 255})
		} else {
			dc.SetColor(color.RGBA{R: 120, G: 130, B: 140, A: 255})
		}
		dc.DrawRectangle(x0, floorY, x1-x0, float64(height)-floorY)
		dc.Fill()
	}
	dc.SetColor(color.RGBA{R: 200, G: 90, B: 40, A: 255})
	for _, g := range e.geoms {
		x0, y0 := toPx(g.X0, g.Z0)
		x1, y1 := toPx(g.X1, g.Z1)
		dc.SetLineWidth(2 * g.Radius * scale)
		dc.SetLineCapRound()
		dc.DrawLine(x0, y0, x1, y1)
		dc.Stroke()
	}
	img, ok := dc.Image().(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("render: unexpected image type %T", dc.Image())
	}
	return img, nil
}
