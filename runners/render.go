package runners

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/policy"
)

// RenderConfig configures Render: one episode, played by a checkpoint's
// policy or by uniformly random actions, drawn every Every steps.
type RenderConfig struct {
	// Env is the environment id; "" plays a checkpoint's own.
	Env string
	// Checkpoint is a policy checkpoint; "" plays random actions.
	Checkpoint string
	// Target is the return a decision policy is conditioned on; nil means
	// the checkpoint's first target.
	Target *float64
	Seed   uint64
	// Width and Height are the frame size in pixels (16 to 4096).
	Width, Height int
	// Every draws every Every-th step (and the last).
	Every int
	// MaxSteps ends the episode after this many steps (0: its own end).
	MaxSteps int
	// Out is the animated GIF to write; FramesDir, when set, also gets
	// every frame as a PNG.
	Out, FramesDir string
}

// RenderResult says what Render played and wrote.
type RenderResult struct {
	Env    string
	Steps  int
	Return float64
	Frames int
}

// Render plays one episode with eval.Evaluate, drawing frames as it goes,
// and writes them as an animated GIF with the step and the return so far
// in a corner of each.
func Render(ctx context.Context, cfg RenderConfig) (*RenderResult, error) {
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > 4096 || cfg.Height > 4096 || cfg.Every < 1 {
		return nil, fmt.Errorf("render: frames %dx%d, every %d: want 16 to 4096 pixels a side and every >= 1", cfg.Width, cfg.Height, cfg.Every)
	}
	if cfg.MaxSteps < 0 {
		return nil, fmt.Errorf("render: max steps %d: want 0 (the episode's end) or more", cfg.MaxSteps)
	}
	env := cfg.Env
	var ck *policy.Checkpoint
	if cfg.Checkpoint != "" {
		var err error
		if ck, err = policy.Load(cfg.Checkpoint); err != nil {
			return nil, err
		}
		if env == "" {
			env = ck.EnvID // a checkpoint knows its environment
		}
		if ck.EnvID != "" && ck.EnvID != env {
			return nil, fmt.Errorf("%s was trained on %s, not %s", cfg.Checkpoint, ck.EnvID, env)
		}
	}
	e, err := envs.Make(env)
	if err != nil {
		return nil, err
	}
	od, space := e.ObservationSpace().Dim(), e.ActionSpace()
	_, canRender := envs.As[envs.Renderer](e)
	e.Close()
	if !canRender {
		return nil, fmt.Errorf("%s cannot render", env)
	}
	var pol eval.Policy = randomPolicy{od: od, space: space, rng: rand.New(rand.NewPCG(cfg.Seed, 1))}
	if ck != nil {
		if pol, err = renderActor(ck, cfg.Checkpoint, cfg.Target); err != nil {
			return nil, err
		}
	}
	// --max-steps shortens an episode, never lengthens it past the
	// environment's own time limit.
	maxSteps := cfg.MaxSteps
	if spec, err := envs.Lookup(env); err == nil && spec.MaxEpisodeSteps > 0 && (maxSteps == 0 || maxSteps > spec.MaxEpisodeSteps) {
		maxSteps = spec.MaxEpisodeSteps
	}
	var frames []*image.RGBA
	var ret float64
	frame := func(ep, step int, e envs.Env, r envs.StepResult) error {
		ret += r.Reward
		if step%cfg.Every != 0 && !r.Done() {
			return nil
		}
		rd, _ := envs.As[envs.Renderer](e)
		f, err := rd.Render(cfg.Width, cfg.Height)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("step %d  return %.1f", step, ret)
		if r.Done() {
			text += "  (end)"
		}
		overlay(f, text)
		frames = append(frames, f)
		return nil
	}
	rep, err := eval.Evaluate(ctx, pol, eval.Config{Env: env, Episodes: 1, Seed: cfg.Seed, MaxSteps: maxSteps, Observe: frame})
	if err != nil {
		return nil, err
	}
	if err := envs.WriteGIF(cfg.Out, frames, 4*cfg.Every); err != nil {
		return nil, err
	}
	if cfg.FramesDir != "" {
		if err := writeFrames(cfg.FramesDir, frames); err != nil {
			return nil, err
		}
	}
	return &RenderResult{Env: env, Steps: rep.Results[0].Length, Return: rep.Results[0].Return, Frames: len(frames)}, nil
}

// randomPolicy acts uniformly at random in the action space.
type randomPolicy struct {
	od    int
	space envs.Space
	rng   *rand.Rand
}

func (p randomPolicy) ObsDim() int { return p.od }
func (p randomPolicy) ActDim() int { return p.space.Dim() }
func (p randomPolicy) Reset(int)   {}
func (p randomPolicy) Act(_, _, actions []float64) error {
	d := p.space.Dim()
	for i := 0; i < len(actions); i += d {
		p.space.Sample(p.rng, actions[i:i+d])
	}
	return nil
}

// renderActor is checkpoint ck's actor: a decision model conditioned on
// *target (nil: the checkpoint's first target), or a BC MLP.
func renderActor(ck *policy.Checkpoint, path string, target *float64) (eval.Policy, error) {
	var cond float64
	if target != nil {
		cond = *target
	} else if _, ok := ck.Model.(*policy.Decision); ok {
		if len(ck.Targets) == 0 {
			return nil, fmt.Errorf("%s stores no target return: give one (--target)", path)
		}
		cond = ck.Targets[0]
	}
	return policy.NewActor(ck, cond)
}

// overlay writes text in the frame's top-left corner, white on a dark
// band, so that a GIF shows the step and the return so far.
func overlay(img *image.RGBA, text string) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, text).Ceil() + 8
	band := image.Rect(0, 0, min(w, img.Bounds().Dx()), 18).Add(img.Bounds().Min)
	draw.Draw(img, band, &image.Uniform{color.RGBA{0, 0, 0, 160}}, image.Point{}, draw.Over)
	d := font.Drawer{Dst: img, Src: image.White, Face: face,
		Dot: fixed.P(img.Bounds().Min.X+4, img.Bounds().Min.Y+13)}
	d.DrawString(text)
}

func writeFrames(dir string, frames []*image.RGBA) error {
	for i, fr := range frames {
		path := filepath.Join(dir, fmt.Sprintf("frame%05d.png", i))
		if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, fr) }); err != nil {
			return err
		}
	}
	return nil
}
