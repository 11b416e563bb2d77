package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/agents/ppo"
	"github.com/minrl/minrl/data"
	"github.com/minrl/minrl/internal/sysmem"
	"github.com/minrl/minrl/runners"
)

func newCollectCmd() *cobra.Command {
	var cfg runners.CollectConfig
	var ppoSteps, numEnvs int
	var hidden []int
	cmd := &cobra.Command{
		Use:   "collect",
		Args:  cobra.NoArgs,
		Short: "Train a behaviour policy with PPO and make D4RL-style datasets",
		Long: `Makes an environment's offline datasets the way D4RL made its own: trains an online
agent (PPO), keeps a snapshot after every update, measures the reference returns of a
uniform-random and of the expert policy (each over --ref-episodes episodes), and writes:

  random         --transitions steps of uniform random actions
  medium         the first snapshot at 1/3 of the way from random to expert return
  medium-replay  every episode PPO played until that snapshot
  expert         the final policy
  medium-expert  medium followed by expert

as <name>-<kind>.hdf5 (D4RL layout) in --out, with a JSON report, the PPO learning
curve (PNG) and the medium and expert agents. Everything is seeded: the same command
on the same kind of machine writes the same bytes (in the same --out: the command
is recorded in the files).`,
		Example: `  minrl collect --env Pendulum-v1 --transitions 20000 --ppo-steps 300000 --out data --gzip 6
  minrl collect --env minrl/Hopper-v0 --ppo-steps 3000000   # into $MINRL_DATA_DIR`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.PPO = ppo.DefaultConfig(cfg.Env)
			cfg.PPO.TotalSteps, cfg.PPO.NumEnvs, cfg.PPO.Seed = ppoSteps, numEnvs, cfg.Seed
			if len(hidden) > 0 {
				cfg.PPO.Hidden = hidden
			}
			if cfg.Out == "" {
				dir, err := data.Dir()
				if err != nil {
					return err
				}
				cfg.Out = dir
			}
			cfg.Command = commandLine()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			rep, err := runners.Collect(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: PPO %d steps in %.0f s; reference returns over %d episodes: random %.1f, expert %.1f; medium (step %d) %.1f\n",
				cfg.Env, rep.ExpertStep, rep.TrainSeconds, rep.RefEpisodes, rep.RandomReturn, rep.ExpertReturn, rep.MediumStep, rep.MediumReturn)
			var total int64
			for _, k := range cfg.Kinds {
				s := rep.Summaries[k]
				size := ""
				if st, err := os.Stat(rep.Files[k]); err == nil {
					total += st.Size()
					size = " (" + sysmem.Format(st.Size()) + ")"
				}
				fmt.Fprintf(w, "  %-14s %8d transitions %5d episodes  return %9.1f ± %7.1f  -> %s%s\n", k, s.Transitions, s.Episodes, s.MeanReturn, s.StdReturn, rep.Files[k], size)
			}
			fmt.Fprintf(w, "%s on disk in %s\n", sysmem.Format(total), cfg.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Env, "env", "Pendulum-v1", "environment id")
	f.IntVar(&ppoSteps, "ppo-steps", 3_000_000, "PPO environment steps (the locomotion datasets' reference returns used 3M)")
	f.IntVar(&numEnvs, "ppo-envs", 8, "PPO parallel environments")
	f.IntSliceVar(&hidden, "ppo-hidden", nil, "PPO hidden layer sizes (default 64,64)")
	f.IntVar(&cfg.Transitions, "transitions", 1_000_000, "transitions in each random, medium and expert dataset")
	f.IntVar(&cfg.RefEpisodes, "ref-episodes", 100, "episodes behind each reference return")
	f.StringSliceVar(&cfg.Kinds, "kinds", runners.AllKinds, "datasets to write: "+strings.Join(runners.AllKinds, ", "))
	f.StringVar(&cfg.Out, "out", "", "output directory (default $MINRL_DATA_DIR, or <user cache>/minrl/datasets)")
	f.StringVar(&cfg.Name, "name", "", "dataset name prefix (default from the env id, e.g. hopper)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed for PPO and the rollouts")
	f.IntVar(&cfg.Gzip, "gzip", 4, "gzip level of the HDF5 arrays, as D4RL ships them (0: uncompressed, ~3x larger)")
	f.Float64Var(&cfg.MediumFraction, "medium-fraction", 1.0/3, "medium: this fraction of the way from random to expert return")
	return cmd
}
