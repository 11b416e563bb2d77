// Package configs holds minrl's run configurations: YAML presets embedded
// in the binary, then a user's file, then MINRL_* environment variables,
// then command-line flags, merged through viper; each overrides the ones
// before it (flags highest). Unknown keys and bad values are errors that
// name the key, and values are never silently converted (1.7 is not an
// integer, 1 is not a boolean).
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
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/minrl/minrl/policy"
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
	Kind       policy.ModelKind `mapstructure:"kind"`    // mingru | minlstm | dt | bc
	Context    string           `mapstructure:"context"` // window | episode
	K          int              `mapstructure:"k"`
	Embed      int              `mapstructure:"embed"`
	Layers     int              `mapstructure:"layers"`
	Heads      int              `mapstructure:"heads"`
	Dropout    float64          `mapstructure:"dropout"`
	Activation string           `mapstructure:"activation"`
	Expansion  float64          `mapstructure:"expansion"`
	Conv       bool             `mapstructure:"conv"`
	ConvKernel int              `mapstructure:"conv_kernel"`
	MaxEpLen   int              `mapstructure:"max_ep_len"`
	Hidden     []int            `mapstructure:"hidden"`
	// NoRTG zeroes the return-to-go input (the return-to-go ablation).
	NoRTG bool `mapstructure:"no_rtg"`
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
	// TopFraction trains on the highest-return episodes only (%BC with
	// model.kind bc): see dataset.TopEpisodes. 1 keeps every episode.
	TopFraction float64 `mapstructure:"top_fraction"`
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
	// Env reads MINRL_* variables from the process environment:
	// MINRL_TRAIN_STEPS sets train.steps (viper's AutomaticEnv with the
	// prefix MINRL and "." spelled "_"). A MINRL_* variable that names no
	// key is an error, except those in NonConfigEnv.
	Env bool
	// Set maps config keys ("train.steps", "dataset") to values, merged
	// over File and under Env: what a sweep sets for one of its runs.
	Set map[string]any
}

// NonConfigEnv are MINRL_* variables that are settings, not config keys.
var NonConfigEnv = []string{"MINRL_DATA_DIR"}

// Load builds and validates a Run.
//
// Everything below the flags goes into viper's config layer, merged in
// order, so each source overrides the ones before it; flags are bound with
// BindPFlag, which viper ranks above that layer. (viper's Set would rank
// above the flags.)
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
		if err := mergeFile(v, src.File); err != nil {
			return Run{}, fmt.Errorf("config %s: %w", src.File, err)
		}
	}
	keys := v.AllKeys()
	slices.Sort(keys) // for the error messages that list them
	set := map[string]any{}
	for _, key := range slices.Sorted(maps.Keys(src.Set)) {
		if !slices.Contains(keys, key) {
			return Run{}, fmt.Errorf("set %s: no config key %q (keys: %s)", key, key, strings.Join(keys, ", "))
		}
		nest(set, key, src.Set[key])
	}
	if err := v.MergeConfigMap(set); err != nil {
		return Run{}, err
	}
	if src.Env {
		// viper ranks the environment above the config layer and below
		// flags; it reads only variables that name a key, so a misspelt
		// one is caught here.
		v.SetEnvPrefix(envPrefix)
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
		v.AutomaticEnv()
		if err := checkEnv(keys); err != nil {
			return Run{}, err
		}
	}
	for key, f := range src.Flags {
		if f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return Run{}, fmt.Errorf("flag --%s: %w", f.Name, err)
			}
		}
	}
	var run Run
	strict := func(c *mapstructure.DecoderConfig) { c.WeaklyTypedInput = false }
	if err := v.UnmarshalExact(&run, viper.DecodeHook(mapstructure.DecodeHookFuncType(strictHook)), strict); err != nil {
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

const envPrefix = "MINRL"

// checkEnv reports a MINRL_* variable of the process environment that
// names none of keys (and is not in NonConfigEnv).
func checkEnv(keys []string) error {
	known := map[string]bool{}
	for _, k := range keys {
		known[envPrefix+"_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && !known[name] && !slices.Contains(NonConfigEnv, name) {
			key := strings.ToLower(strings.Replace(strings.TrimPrefix(name, envPrefix+"_"), "_", ".", 1))
			return fmt.Errorf("environment variable %s: no config key %q (keys: %s)", name, key, strings.Join(keys, ", "))
		}
	}
	return nil
}

// nest puts value at a dotted key of m: train.steps=500 as {train: {steps: 500}}.
func nest(m map[string]any, key string, value any) {
	if section, leaf, ok := strings.Cut(key, "."); ok {
		sub, _ := m[section].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			m[section] = sub
		}
		sub[leaf] = value
		return
	}
	m[key] = value
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
	// Into the config layer, so a file's dataset: overrides it.
	return v.MergeConfigMap(map[string]any{"dataset": env + "-" + dataset})
}

// mergeFile merges a user's YAML file. viper's merge silently drops a
// scalar written over a section (train: 5), so each section must hold a
// mapping (or nothing).
func mergeFile(v *viper.Viper, name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return err
	}
	run := reflect.TypeFor[Run]()
	for i := range run.NumField() {
		f := run.Field(i)
		if f.Type.Kind() != reflect.Struct {
			continue
		}
		for k, val := range m {
			_, isMap := val.(map[string]any)
			if strings.EqualFold(k, f.Tag.Get("mapstructure")) && val != nil && !isMap {
				return fmt.Errorf("%s: %v, want a mapping of %s settings", k, val, k)
			}
		}
	}
	return v.MergeConfigMap(m)
}

// strictHook decodes values without mapstructure's weak typing (viper
// decodes through mapstructure), which truncates 1.7 to 1 and reads true
// as 1 and 1 as true; viper offers no strict mode of its own. Strings (from
// MINRL_* variables and flags) are parsed into the field's kind; numbers
// must fit it exactly; a comma-separated string fills a list, as viper's
// default hook does (MINRL_EVAL_TARGETS=3600,1800). mapstructure prefixes
// the errors with the key.
func strictHook(from, to reflect.Type, data any) (any, error) {
	in, out := reflect.ValueOf(data), reflect.New(to).Elem()
	var want string
	switch {
	case to.Kind() == reflect.Slice:
		if s, ok := data.(string); ok {
			if s == "" {
				return []string{}, nil
			}
			parts := strings.Split(s, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			return parts, nil
		}
		if from.Kind() == reflect.Slice {
			return data, nil
		}
		want = "a list"
	case to.Kind() == reflect.String:
		if from.Kind() == reflect.String {
			return data, nil
		}
		want = "a string"
	case to.Kind() == reflect.Bool:
		if from.Kind() == reflect.Bool {
			return data, nil
		}
		if s, ok := data.(string); ok {
			if b, err := strconv.ParseBool(s); err == nil {
				return b, nil
			}
		}
		want = "true or false"
	case out.CanInt():
		if i, ok := asInt(in); ok && !out.OverflowInt(i) {
			out.SetInt(i)
			return out.Interface(), nil
		}
		want = "an integer (" + to.String() + ")"
	case out.CanUint():
		if u, ok := asUint(in); ok && !out.OverflowUint(u) {
			out.SetUint(u)
			return out.Interface(), nil
		}
		want = "an integer >= 0 (" + to.String() + ")"
	case out.CanFloat():
		if f, ok := asFloat(in); ok && !out.OverflowFloat(f) {
			out.SetFloat(f)
			return out.Interface(), nil
		}
		want = "a number"
	default: // sections: mapstructure checks them
		return data, nil
	}
	if from.Kind() == reflect.String {
		return nil, fmt.Errorf("%q, want %s", data, want)
	}
	return nil, fmt.Errorf("%v, want %s", data, want)
}

// asInt returns a whole number, or a string spelling one, as an int64.
func asInt(in reflect.Value) (int64, bool) {
	switch {
	case in.Kind() == reflect.String: // "100000", or "1e5" as in a file
		if i, err := strconv.ParseInt(in.String(), 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(in.String(), 64)
		return asIntFloat(f, err == nil)
	case in.CanInt():
		return in.Int(), true
	case in.CanUint():
		return int64(in.Uint()), in.Uint() <= math.MaxInt64
	case in.CanFloat():
		return asIntFloat(in.Float(), true)
	}
	return 0, false
}

// asIntFloat returns f as an int64 if it is whole and in range.
func asIntFloat(f float64, ok bool) (int64, bool) {
	// NaN fails f == Trunc(f); ±Inf the range.
	return int64(f), ok && f == math.Trunc(f) && f >= -0x1p63 && f < 0x1p63
}

// asUint returns a whole number >= 0, or a string spelling one, as a uint64.
func asUint(in reflect.Value) (uint64, bool) {
	switch {
	case in.Kind() == reflect.String:
		if u, err := strconv.ParseUint(in.String(), 10, 64); err == nil {
			return u, true
		}
		f, err := strconv.ParseFloat(in.String(), 64)
		return asUintFloat(f, err == nil)
	case in.CanInt():
		return uint64(in.Int()), in.Int() >= 0
	case in.CanUint():
		return in.Uint(), true
	case in.CanFloat():
		return asUintFloat(in.Float(), true)
	}
	return 0, false
}

// asUintFloat returns f as a uint64 if it is whole and in range.
func asUintFloat(f float64, ok bool) (uint64, bool) {
	return uint64(f), ok && f == math.Trunc(f) && f >= 0 && f < 0x1p64
}

// asFloat returns a number, or a string spelling one, as a float64.
func asFloat(in reflect.Value) (float64, bool) {
	switch {
	case in.Kind() == reflect.String:
		f, err := strconv.ParseFloat(in.String(), 64)
		return f, err == nil
	case in.CanInt():
		return float64(in.Int()), true
	case in.CanUint():
		return float64(in.Uint()), true
	case in.CanFloat():
		return in.Float(), true
	}
	return 0, false
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
	// The name becomes a directory under runs/ when out is not set: one
	// path element, so that it cannot place a run elsewhere.
	if r.Name != "" && (r.Name != filepath.Base(r.Name) || r.Name == "." || r.Name == ".." || strings.ContainsAny(r.Name, `/\`)) {
		bad("name", strconv.Quote(r.Name), "a plain name without / or .. (set out for another directory)")
	}
	if r.Dataset == "" {
		bad("dataset", `""`, "a dataset name or file")
	}
	m := r.Model
	if !slices.Contains(policy.ModelKinds(), m.Kind) {
		bad("model.kind", m.Kind, "mingru, minlstm, dt or bc")
	} else {
		// The model's bounds are policy's: one source for configs,
		// checkpoints and library users.
		errs = append(errs, modelErrors(r)...)
	}
	// Non-finite floats are refused here, naming the key, rather than
	// failing later (summary.json cannot hold +Inf).
	finite := func(key string, x float64, min string, ok bool) {
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			bad(key, x, "finite and "+min)
		}
	}
	size := func(key string, v, most int) {
		if v < 1 || v > most {
			bad(key, v, fmt.Sprintf("in [1, %d]", most))
		}
	}
	t := r.Train
	size("train.steps", t.Steps, 1<<30)
	size("train.batch", t.Batch, 1<<16)
	finite("train.lr", t.LR, "> 0", t.LR > 0)
	finite("train.weight_decay", t.WeightDecay, ">= 0", t.WeightDecay >= 0)
	if t.Warmup < 0 {
		bad("train.warmup", t.Warmup, ">= 0")
	}
	if !slices.Contains([]string{"constant", "cosine"}, t.Schedule) {
		bad("train.schedule", t.Schedule, "constant or cosine")
	}
	finite("train.grad_clip", t.GradClip, "> 0", t.GradClip > 0)
	finite("train.top_fraction", t.TopFraction, "in (0, 1]", t.TopFraction > 0 && t.TopFraction <= 1)
	if t.EvalEvery < 0 || t.CheckpointEvery < 0 || t.LogEvery < 0 {
		bad("train.eval_every/checkpoint_every/log_every", []int{t.EvalEvery, t.CheckpointEvery, t.LogEvery}, ">= 0")
	}
	if m.NoRTG && m.Kind == policy.ModelBC {
		bad("model.no_rtg", true, "false for bc (an MLP has no return input)")
	}
	e := r.Eval
	if len(e.Targets) == 0 && m.Kind != policy.ModelBC {
		bad("eval.targets", e.Targets, "at least one return to condition on")
	}
	for _, x := range e.Targets {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			bad("eval.targets", e.Targets, "finite returns")
			break
		}
	}
	size("eval.episodes", e.Episodes, 1<<16) // eval.MaxEpisodes
	return errors.Join(errs...)
}
