package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/runners"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure speed on this machine",
	}
	cmd.AddCommand(newBenchSpeedCmd(), newBenchScanCmd(), newBenchParamsCmd(), newBenchSelCopyCmd())
	return cmd
}

func newBenchSpeedCmd() *cobra.Command {
	cfg := runners.DefaultSpeedConfig()
	var out, device string
	var quick bool
	cmd := &cobra.Command{
		Use:   "speed",
		Args:  cobra.NoArgs,
		Short: "Training-step time of minGRU/minLSTM (parallel) vs GRU/LSTM (sequential)",
		Long: `Times one training step (forward + backward) of a single layer for each model and
sequence length, at B=64 and d=128 by default: the paper's runtime figure, measured
on this CPU. Prints a Markdown table of median step times, speed-ups and memory held
per step, and writes speed.md, speed.json and speed.png to --out.`,
		Example: `  minrl bench speed
  minrl bench speed --quick
  minrl bench speed --models mingru,gru --T 256,1024 --repeats 3
  minrl bench speed --device cuda --T 512,4096,16384   # a -tags cuda build`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if quick { // what was set explicitly stays
				if !cmd.Flags().Changed("T") {
					cfg.Ts = []int{64, 256, 1024}
				}
				if !cmd.Flags().Changed("repeats") {
					cfg.Repeats = 3
				}
			}
			dev, err := cuda.ParseDevice(device)
			if err != nil {
				return err
			}
			engine := "GEMM " + nn.CurrentGemm().Name()
			var gpu cuda.Device
			if dev == "cuda" {
				if !cmd.Flags().Changed("models") {
					cfg.Models = runners.GPUSpeedModels
				}
				if gpu, err = cuda.Open(); err != nil {
					return err
				}
				defer gpu.Close()
				engine = gpu.Name()
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "minrl bench speed: B=%d d=%d, %d repeats, %s, GOMAXPROCS %d, %s/%s\n",
				cfg.B, cfg.D, cfg.Repeats, engine, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
			bar := newProgress(cmd, len(cfg.Models)*len(cfg.Ts)*cfg.Repeats, "steps")
			var results []runners.SpeedResult
			if gpu != nil {
				results, err = runners.GPUSpeed(cmd.Context(), gpu, cfg, func() { bar.Add(1) })
			} else {
				results, err = runners.Speed(cmd.Context(), cfg, func() { bar.Add(1) })
			}
			bar.Finish()
			if err != nil {
				return err
			}
			var table strings.Builder
			if err := runners.WriteSpeedTable(&table, results); err != nil {
				return err
			}
			fmt.Fprintln(w)
			io.WriteString(w, table.String())
			if out == "" {
				return nil
			}
			header := fmt.Sprintf("Command: `%s`\n\n%s, GOMAXPROCS %d, %s, %s/%s. Median of %d timed steps after a warm-up.\n\n",
				commandLine(), engine, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, cfg.Repeats)
			if err := atomicfile.WriteFile(filepath.Join(out, "speed.md"), []byte(header+table.String())); err != nil {
				return err
			}
			js, err := json.MarshalIndent(map[string]any{
				"config": cfg, "gemm": nn.CurrentGemm().Name(), "engine": engine, "gomaxprocs": runtime.GOMAXPROCS(0),
				"go": runtime.Version(), "build": buildInfo(), "results": results,
			}, "", "  ")
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(out, "speed.json"), js); err != nil {
				return err
			}
			png := filepath.Join(out, "speed.png")
			title := fmt.Sprintf("One layer, B=%d, d=%d, %s", cfg.B, cfg.D, engine)
			if err := runners.PlotSpeed(results, title, png); err != nil {
				return err
			}
			fmt.Fprintf(w, "\nwrote %s, %s, %s\n", filepath.Join(out, "speed.md"), filepath.Join(out, "speed.json"), png)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Models, "models", cfg.Models, "models to compare (mingru, minlstm, gru, lstm, mingru-log, minlstm-log)")
	f.IntSliceVar(&cfg.Ts, "T", cfg.Ts, "sequence lengths")
	f.IntVar(&cfg.B, "batch", cfg.B, "batch size B")
	f.IntVar(&cfg.D, "dim", cfg.D, "layer width d")
	f.IntVar(&cfg.Repeats, "repeats", cfg.Repeats, "timed steps per model and length (median reported)")
	f.Float64Var(&cfg.MaxSeconds, "max-seconds", cfg.MaxSeconds, "stop repeating a model at a length after this many seconds (0: never)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for weights and inputs")
	f.StringVar(&out, "out", "out/bench", "directory for speed.md, speed.json and speed.png (empty: print only)")
	f.BoolVar(&quick, "quick", false, "a short run: T in {64, 256, 1024}, 3 repeats")
	f.StringVar(&device, "device", "cpu", "cpu, or cuda (minGRU/minLSTM on the GPU; needs a -tags cuda build)")
	return cmd
}

func newBenchParamsCmd() *cobra.Command {
	var dx int
	var alphas []int
	cmd := &cobra.Command{
		Use:   "params",
		Args:  cobra.NoArgs,
		Short: "Parameter counts of GRU, LSTM, minGRU, minLSTM against the paper's formulas",
		Long: `Prints the paper's parameter counts (weights only: GRU 3·d_h(d_x+d_h), LSTM
4·d_h(d_x+d_h), minGRU 2·d_h·d_x, minLSTM 3·d_h·d_x) for state expansions α = d_h/d_x,
their ratios beside the paper's 2/(3(1+α)) and 3/(4(1+α)), the counts of minrl's
layers (biases and the projection back to d_x included), and the Decision models'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := runners.ParamCounts(dx, alphas)
			if err != nil {
				return err
			}
			return runners.WriteParamTable(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().IntVar(&dx, "dim", 128, "input width d_x")
	cmd.Flags().IntSliceVar(&alphas, "alpha", []int{1, 2, 3, 4}, "state expansions α = d_h/d_x")
	return cmd
}

// maxBenchElems bounds the scan benchmark: its buffers hold ~10 floats an
// element (5 GiB at the bound).
const maxBenchElems = 1 << 27

func newBenchScanCmd() *cobra.Command {
	var elems, repeats int
	var device string
	cmd := &cobra.Command{
		Use:   "scan",
		Args:  cobra.NoArgs,
		Short: "Memory bandwidth of the linear scan vs a copy of as many bytes",
		RunE: func(cmd *cobra.Command, args []string) error {
			if elems < 64*128 || elems > maxBenchElems || repeats < 1 || repeats > 1000 {
				return fmt.Errorf("--elems %d --repeats %d: want --elems in [%d, %d] and --repeats in [1, 1000]", elems, repeats, 64*128, maxBenchElems)
			}
			dev, err := cuda.ParseDevice(device)
			if err != nil {
				return err
			}
			if dev == "cuda" {
				gpu, err := cuda.Open()
				if err != nil {
					return err
				}
				defer gpu.Close()
				for _, lb := range []bool{true, false} {
					f, b, c, err := runners.GPUScanBandwidth(gpu, elems, repeats, lb)
					if err != nil {
						return err
					}
					algo := "single-pass look-back scan"
					if !lb {
						algo = "three-pass chunked scan"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s, %s: forward %.0f GB/s (%.0f%% of copy), backward %.0f GB/s (%.0f%%), device-to-device copy %.0f GB/s (%d elements, median of %d)\n",
						gpu.Name(), algo, f/1e9, 100*f/c, b/1e9, 100*b/c, c/1e9, elems, repeats)
				}
				return nil
			}
			s, c := runners.ScanBandwidth(elems, repeats)
			fmt.Fprintf(cmd.OutOrStdout(), "scan forward %.1f GB/s, copy %.1f GB/s: the scan runs at %.0f%% of copy bandwidth (%d elements, median of %d)\n",
				s/1e9, c/1e9, 100*s/c, elems, repeats)
			return nil
		},
	}
	cmd.Flags().IntVar(&elems, "elems", 16<<20, "scan elements (B·T·D, B=64, D=128); 16M moves 192 MB, far beyond the caches")
	cmd.Flags().IntVar(&repeats, "repeats", 15, "rounds (median reported)")
	cmd.Flags().StringVar(&device, "device", "cpu", "cpu, or cuda (needs a -tags cuda build)")
	return cmd
}

// newProgress returns a progress bar on stderr, drawn only when stderr is a
// terminal (logs and CI output stay clean).
func newProgress(cmd *cobra.Command, total int, what string) *progressbar.ProgressBar {
	visible := false
	if f, ok := cmd.ErrOrStderr().(*os.File); ok {
		visible = term.IsTerminal(int(f.Fd()))
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
		progressbar.OptionSetDescription(what), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetVisibility(visible))
}

// commandLine is how this run was invoked, with the binary named minrl, the
// build tags shown and any MINRL_* config overrides from the environment in front
// (they change the config), so that a result file says how to reproduce it.
func commandLine() string {
	return formatCommand(os.Args[1:], os.Environ(), buildInfo()["-tags"])
}

func formatCommand(args, environ []string, tags string) string {
	var parts []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MINRL_") && !slices.Contains(configs.NonConfigEnv, name) {
			parts = append(parts, shellQuote(kv))
		}
	}
	sort.Strings(parts)
	if tags != "" {
		parts = append(parts, "go", "run", "-tags", tags, "./cmd/minrl")
	} else {
		parts = append(parts, "minrl")
	}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote leaves plain words alone and single-quotes anything a shell
// would split or expand.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func buildInfo() map[string]string {
	info := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "-tags", "vcs.revision", "vcs.modified", "CGO_ENABLED":
				info[s.Key] = s.Value
			}
		}
	}
	return info
}
