package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/runners"
)

func newRenderCmd() *cobra.Command {
	var cfg runners.RenderConfig
	var policyArg string
	var target float64
	cmd := &cobra.Command{
		Use:   "render",
		Args:  cobra.NoArgs,
		Short: "Play one episode and write it as an animated GIF (and PNG frames)",
		Example: `  minrl render --env minrl/Hopper-v0 --policy random --out hopper.gif
  minrl render --env Pendulum-v1 --policy runs/pendulum-medium-mingru/best.safetensors --target -150 --out pendulum.gif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyArg != "random" {
				cfg.Checkpoint = policyArg
				// A checkpoint knows its environment: play it there unless told.
				if !cmd.Flags().Changed("env") {
					cfg.Env = ""
				}
			}
			// Pendulum's best return is 0: only an unset flag means "the checkpoint's".
			if cmd.Flags().Changed("target") {
				cfg.Target = &target
			}
			res, err := runners.Render(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d steps, return %.1f, %d frames -> %s\n", res.Env, res.Steps, res.Return, res.Frames, cfg.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Env, "env", "minrl/Hopper-v0", "environment id (minrl envs list); with a checkpoint, the checkpoint's unless given")
	f.StringVar(&policyArg, "policy", "random", "random, or a policy checkpoint (.safetensors)")
	f.Float64Var(&target, "target", 0, "return to condition a decision policy on (default: the checkpoint's first target)")
	f.StringVar(&cfg.Out, "out", "episode.gif", "animated GIF to write")
	f.StringVar(&cfg.FramesDir, "frames", "", "also write every frame as a PNG into this directory")
	f.Uint64Var(&cfg.Seed, "seed", 0, "episode seed")
	f.IntVar(&cfg.Width, "width", 480, "frame width")
	f.IntVar(&cfg.Height, "height", 320, "frame height")
	f.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after this many steps (0: the episode's end)")
	f.IntVar(&cfg.Every, "every", 2, "render every n-th step")
	return cmd
}
