package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/policy"
)

// actor chooses actions for one env when rendering an episode.
type actor interface {
	act(obs []float64, reward float64, action []float64) error
}

type randomActor struct {
	space envs.Space
	rng   *rand.Rand
}

func (r randomActor) act(_ []float64, _ float64, a []float64) error {
	r.space.Sample(r.rng, a)
	return nil
}

func newRenderCmd() *cobra.Command {
	var env, policyArg, out, framesDir string
	var seed uint64
	var width, height, maxSteps, every int
	var target float64
	cmd := &cobra.Command{
		Use:   "render",
		Args:  cobra.NoArgs,
		Short: "Play one episode and write it as an animated GIF (and PNG frames)",
		Example: `  minrl render --env minrl/Hopper-v0 --policy random --out hopper.gif
  minrl render --env Pendulum-v1 --policy runs/pendulum-medium-mingru/best.safetensors --target -150 --out pendulum.gif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if width < 16 || height < 16 || width > 4096 || height > 4096 || every < 1 {
				return fmt.Errorf("--width %d --height %d --every %d: want frames of 16 to 4096 pixels a side and --every >= 1", width, height, every)
			}
			if maxSteps < 0 {
				return fmt.Errorf("--max-steps %d: want 0 (the episode's end) or more", maxSteps)
			}
			var ck *policy.Checkpoint
			if policyArg != "random" {
				var err error
				if ck, err = policy.Load(policyArg); err != nil {
					return err
				}
				// A checkpoint knows its environment: play it there unless told.
				if ck.EnvID != "" && !cmd.Flags().Changed("env") {
					env = ck.EnvID
				}
			}
			e, err := envs.Make(env)
			if err != nil {
				return err
			}
			defer e.Close()
			r, ok := envs.As[envs.Renderer](e)
			if !ok {
				return fmt.Errorf("%s cannot render", env)
			}
			var a actor
			if policyArg == "random" {
				a = randomActor{space: e.ActionSpace(), rng: rand.New(rand.NewPCG(seed, 1))}
			} else {
				var cond *float64 // Pendulum's best return is 0: only an unset flag means "the checkpoint's"
				if cmd.Flags().Changed("target") {
					cond = &target
				}
				if a, err = checkpointActor(ck, policyArg, env, cond); err != nil {
					return err
				}
			}
			obs, _, err := e.Reset(envs.WithSeed(seed))
			if err != nil {
				return err
			}
			action := make([]float64, e.ActionSpace().Dim())
			var frames []*image.RGBA
			var ret, reward float64
			steps := 0
			for {
				if steps%every == 0 {
					f, err := r.Render(width, height)
					if err != nil {
						return err
					}
					overlay(f, fmt.Sprintf("step %d  return %.1f", steps, ret))
					frames = append(frames, f)
				}
				if maxSteps > 0 && steps >= maxSteps {
					break
				}
				if err := a.act(obs, reward, action); err != nil {
					return err
				}
				res, err := e.Step(action)
				if err != nil {
					return err
				}
				obs, reward = res.Obs, res.Reward
				ret += res.Reward
				steps++
				if res.Done() {
					f, err := r.Render(width, height)
					if err != nil {
						return err
					}
					overlay(f, fmt.Sprintf("step %d  return %.1f  (end)", steps, ret))
					frames = append(frames, f)
					break
				}
			}
			if err := envs.WriteGIF(out, frames, 4*every); err != nil {
				return err
			}
			if framesDir != "" {
				if err := writeFrames(framesDir, frames); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d steps, return %.1f, %d frames -> %s\n", env, steps, ret, len(frames), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "minrl/Hopper-v0", "environment id (minrl envs list); with a checkpoint, the checkpoint's unless given")
	f.StringVar(&policyArg, "policy", "random", "random, or a policy checkpoint (.safetensors)")
	f.Float64Var(&target, "target", 0, "return to condition a decision policy on (default: the checkpoint's first target)")
	f.StringVar(&out, "out", "episode.gif", "animated GIF to write")
	f.StringVar(&framesDir, "frames", "", "also write every frame as a PNG into this directory")
	f.Uint64Var(&seed, "seed", 0, "episode seed")
	f.IntVar(&width, "width", 480, "frame width")
	f.IntVar(&height, "height", 320, "frame height")
	f.IntVar(&maxSteps, "max-steps", 0, "stop after this many steps (0: the episode's end)")
	f.IntVar(&every, "every", 2, "render every n-th step")
	return cmd
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

// policyActor plays one episode with a trained policy.
type policyActor struct {
	p       policy.Policy
	rewards []float64
	started bool
}

func (a *policyActor) act(obs []float64, reward float64, action []float64) error {
	if !a.started {
		a.p.Reset(1)
		a.started = true
	}
	a.rewards[0] = reward
	return a.p.Act(obs, a.rewards, action)
}

// checkpointActor acts with checkpoint ck (loaded from path) for
// rendering: a decision model conditioned on *target (nil: the
// checkpoint's first target), or a BC MLP.
func checkpointActor(ck *policy.Checkpoint, path, env string, target *float64) (actor, error) {
	if ck.EnvID != "" && ck.EnvID != env {
		return nil, fmt.Errorf("%s was trained on %s, not %s", path, ck.EnvID, env)
	}
	var cond float64
	if target != nil {
		cond = *target
	} else if _, ok := ck.Model.(*policy.Decision); ok {
		if len(ck.Targets) == 0 {
			return nil, fmt.Errorf("%s stores no target return: give --target", path)
		}
		cond = ck.Targets[0]
	}
	p, err := policy.NewActor(ck, cond)
	if err != nil {
		return nil, err
	}
	return &policyActor{p: p, rewards: make([]float64, 1)}, nil
}
