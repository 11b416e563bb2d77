// Package configs holds minrl's run configurations: YAML presets embedded
// in the binary, merged with a user's file, command-line flags and MINRL_*
// environment variables through viper (in that order of precedence, flags
// highest). Unknown keys and bad values are errors that name the key.
//
// A preset is named <env>-<dataset>-<model>, for example
// hopper-medium-mingru or walker2d-medium-replay-dt: it merges base.yaml,
// env/<env>.yaml and model/<model>.yaml, and sets the dataset to
// <env>-<dataset>.
package configs

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

//go:embed base.yaml env/*.yaml model/*.yaml
var files embed.FS

// Run is one training-and-evaluation job.
type Run struct {
	Name    string `mapstructure:"name"`
	Env     string `mapstructure:"env"`     // environment id (minrl envs list)
	Dataset string `mapstructure:"dataset"` // dataset name (in $MINRL_DATA_DIR or shipped) or an .hdf5 path
	Out     string `mapstructure:"out"`     // output directory (default runs/<name>)
	Model   Model  `mapstructure:"model"`
	Train   Train  `mapstructure:"train"`
	Eval    Eval   `mapstructure:"eval"`
}

// Model selects and sizes the policy.
type Model struct {
	Kind       string  `mapstructure:"kind"`    // mingru | minlstm | dt | bc
	Context    string  `mapstructure:"context"` // window | episode
	K          int     `mapstructure:"k"`
	Embed      int     `mapstructure:"embed"`
	Layers     int     `mapstructure:"layers"`
	Heads      int     `mapstructure:"heads"`
	Dropout    float64 `mapstructure:"dropout"`
	Activation string  `mapstructure:"activation"`
	Expansion  float64 `mapstructure:"expansion"`
	Conv       bool    `mapstructure:"conv"`
	ConvKernel int     `mapstructure:"conv_kernel"`
	MaxEpLen   int     `mapstructure:"max_ep_len"`
	Hidden     []int   `mapstructure:"hidden"`
}

// Train configures the optimisation.
type Train struct {
	Steps           int     `mapstructure:"steps"`
	Batch           int     `mapstructure:"batch"`
	LR              float64 `mapstructure:"lr"`
	WeightDecay     float64 `mapstructure:"weight_decay"`
	Warmup          int     `mapstructure:"warmup"`
	Schedule        string  `mapstructure:"schedule"`
	GradClip        float64 `mapstructure:"grad_clip"`
	Seed            uint64  `mapstructure:"seed"`
	EvalEvery       int     `mapstructure:"eval_every"`
	CheckpointEvery int     `mapstructure:"checkpoint_every"`
	LogEvery        int     `mapstructure:"log_every"`
}

// Eval configures evaluation episodes.
type Eval struct {
	Targets  []float64 `mapstructure:"targets"`
	RTGScale float64   `mapstructure:"rtg_scale"`
	Episodes int       `mapstructure:"episodes"`
	Seed     uint64    `mapstructure:"seed"`
}

// Source says where a configuration comes from. Later sources override
// earlier ones: the preset, then File, then Env (MINRL_* variables), then
// the Flags that were set on the command line.
type Source struct {
	Preset string
	File   string
	// Flags maps config keys (e.g. "train.steps") to command-line flags.
	Flags map[string]*pflag.Flag
	// Env is the process environment (os.Environ()); MINRL_TRAIN_STEPS
	// sets train.steps. Variables listed in NonConfigEnv are ignored.
	Env []string
}

// NonConfigEnv are MINRL_* variables that are settings, not config keys.
var NonConfigEnv = []string{"MINRL_DATA_DIR"}

// Load builds and validates a Run.
func Load(src Source) (Run, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := mergeEmbedded(v, "base.yaml"); err != nil {
		return Run{}, err
	}
	if src.Preset != "" {
		if err := applyPreset(v, src.Preset); err != nil {
			return Run{}, err
		}
	}
	if src.File != "" {
		v.SetConfigFile(src.File)
		if err := v.MergeInConfig(); err != nil {
			return Run{}, fmt.Errorf("config %s: %w", src.File, err)
		}
	}
	keys := v.AllKeys()
	for _, kv := range src.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "MINRL_") || slices.Contains(NonConfigEnv, name) {
			continue
		}
		key := strings.ToLower(strings.Replace(strings.TrimPrefix(name, "MINRL_"), "_", ".", 1))
		if !slices.Contains(keys, key) {
			return Run{}, fmt.Errorf("environment variable %s: no config key %q (keys: %s)", name, key, strings.Join(keys, ", "))
		}
		v.Set(key, value)
	}
	for key, f := range src.Flags {
		if f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return Run{}, fmt.Errorf("flag --%s: %w", f.Name, err)
			}
		}
	}
	var run Run
	if err := v.UnmarshalExact(&run); err != nil {
		return Run{}, fmt.Errorf("config: %w", err)
	}
	if run.Name == "" {
		run.Name = src.Preset
	}
	if run.Out == "" && run.Name != "" {
		run.Out = path.Join("runs", run.Name)
	}
	return run, run.Validate()
}

func mergeEmbedded(v *viper.Viper, name string) error {
	data, err := files.ReadFile(name)
	if err != nil {
		return err
	}
	if err := v.MergeConfig(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("embedded config %s: %w", name, err)
	}
	return nil
}

// applyPreset merges env/<env>.yaml and model/<model>.yaml for a preset
// name <env>-<dataset>-<model>.
func applyPreset(v *viper.Viper, name string) error {
	env, dataset, model, err := ParsePreset(name)
	if err != nil {
		return err
	}
	if err := mergeEmbedded(v, "env/"+env+".yaml"); err != nil {
		return err
	}
	if err := mergeEmbedded(v, "model/"+model+".yaml"); err != nil {
		return err
	}
	v.Set("dataset", env+"-"+dataset)
	return nil
}

// ParsePreset splits a preset name into its env, dataset kind and model.
func ParsePreset(name string) (env, dataset, model string, err error) {
	envs, models := names("env"), names("model")
	for _, e := range envs {
		if !strings.HasPrefix(name, e+"-") {
			continue
		}
		rest := strings.TrimPrefix(name, e+"-")
		// The longest model suffix wins (mingru-episode before mingru).
		sort.Slice(models, func(i, j int) bool { return len(models[i]) > len(models[j]) })
		for _, m := range models {
			if d, ok := strings.CutSuffix(rest, "-"+m); ok && d != "" {
				return e, d, m, nil
			}
		}
	}
	return "", "", "", fmt.Errorf("unknown preset %q: want <env>-<dataset>-<model> with env one of %s and model one of %s (e.g. hopper-medium-mingru)",
		name, strings.Join(envs, ", "), strings.Join(names("model"), ", "))
}

func names(dir string) []string {
	entries, _ := files.ReadDir(dir)
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// Presets lists example preset names: every env with the medium dataset
// and every model.
func Presets() []string {
	var out []string
	for _, e := range names("env") {
		for _, m := range names("model") {
			out = append(out, e+"-medium-"+m)
		}
	}
	return out
}

// Validate reports every bad value, each naming its key.
func (r Run) Validate() error {
	var errs []error
	bad := func(key string, got any, want string) {
		errs = append(errs, fmt.Errorf("%s: %v, want %s", key, got, want))
	}
	if r.Env == "" {
		bad("env", `""`, "an environment id (minrl envs list)")
	}
	if r.Dataset == "" {
		bad("dataset", `""`, "a dataset name or file")
	}
	m := r.Model
	if !slices.Contains([]string{"mingru", "minlstm", "dt", "bc"}, m.Kind) {
		bad("model.kind", m.Kind, "mingru, minlstm, dt or bc")
	}
	switch m.Context {
	case "window":
	case "episode":
		if m.Kind != "mingru" && m.Kind != "minlstm" {
			bad("model.context", m.Context, "window for "+m.Kind+" (episode mode needs a recurrent model)")
		}
	default:
		bad("model.context", m.Context, "window or episode")
	}
	positive := func(key string, v int) {
		if v < 1 {
			bad(key, v, ">= 1")
		}
	}
	positive("model.k", m.K)
	positive("model.embed", m.Embed)
	positive("model.layers", m.Layers)
	positive("model.heads", m.Heads)
	positive("model.max_ep_len", m.MaxEpLen)
	positive("model.conv_kernel", m.ConvKernel)
	if m.Kind == "dt" && m.Heads > 0 && m.Embed%m.Heads != 0 {
		bad("model.heads", m.Heads, fmt.Sprintf("a divisor of model.embed (%d)", m.Embed))
	}
	if !(m.Dropout >= 0 && m.Dropout < 1) {
		bad("model.dropout", m.Dropout, "in [0, 1)")
	}
	if !slices.Contains([]string{"relu", "gelu", "tanh"}, m.Activation) {
		bad("model.activation", m.Activation, "relu, gelu or tanh")
	}
	if !(m.Expansion > 0) || math.IsInf(m.Expansion, 0) {
		bad("model.expansion", m.Expansion, "> 0")
	}
	for _, h := range m.Hidden {
		if h < 1 {
			bad("model.hidden", m.Hidden, "positive sizes")
			break
		}
	}
	t := r.Train
	positive("train.steps", t.Steps)
	positive("train.batch", t.Batch)
	if !(t.LR > 0) || math.IsInf(t.LR, 0) {
		bad("train.lr", t.LR, "> 0")
	}
	if !(t.WeightDecay >= 0) {
		bad("train.weight_decay", t.WeightDecay, ">= 0")
	}
	if t.Warmup < 0 {
		bad("train.warmup", t.Warmup, ">= 0")
	}
	if !slices.Contains([]string{"constant", "cosine"}, t.Schedule) {
		bad("train.schedule", t.Schedule, "constant or cosine")
	}
	if !(t.GradClip > 0) {
		bad("train.grad_clip", t.GradClip, "> 0")
	}
	if t.EvalEvery < 0 || t.CheckpointEvery < 0 || t.LogEvery < 0 {
		bad("train.eval_every/checkpoint_every/log_every", []int{t.EvalEvery, t.CheckpointEvery, t.LogEvery}, ">= 0")
	}
	e := r.Eval
	if len(e.Targets) == 0 && m.Kind != "bc" {
		bad("eval.targets", e.Targets, "at least one return to condition on")
	}
	for _, x := range e.Targets {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			bad("eval.targets", e.Targets, "finite returns")
			break
		}
	}
	if !(e.RTGScale > 0) {
		bad("eval.rtg_scale", e.RTGScale, "> 0")
	}
	positive("eval.episodes", e.Episodes)
	return errors.Join(errs...)
}
