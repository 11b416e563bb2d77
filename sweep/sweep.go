// Package sweep runs grids of training runs: a sweep file (YAML) names a
// base preset or config and the axes to vary (datasets, models, seeds, any
// config key), Plan expands it into runs with stable names, and each run is
// one runners.Train call into its own directory, so that a sweep started
// again skips its finished runs and resumes its interrupted ones from their
// last checkpoint. The same run (Task) is what a local worker pool
// (RunLocal), a Slurm job array (SlurmScript) or a Kubernetes Indexed Job
// executes.
//
// A sweep's directory (Sweep.Out) holds:
//
//	runs/<name>/         each run's outputs (minrl train's files)
//	configs/<name>.yaml  each run's full resolved config: minrl train --config reproduces it
//	state/<name>.json    running, failed or done, with the host, pid and Slurm job
//	logs/                per-run (local pool) and per-task (Slurm) logs
//	slurm/               the job array scripts submitted
package sweep

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/minrl/minrl/configs"
)

// Axes with a meaning of their own; every other axis is a config key.
const (
	AxisDataset = "dataset" // <env>-<kind>, e.g. pendulum-medium: the preset's first part (and the dataset key)
	AxisModel   = "model"   // a model preset, e.g. mingru or mingru-episode: the preset's last part
	AxisSeed    = "seed"    // train.seed
)

// spec is a sweep file as written.
type spec struct {
	Name   string           `mapstructure:"name"`
	Out    string           `mapstructure:"out"`
	Preset string           `mapstructure:"preset"`
	Config string           `mapstructure:"config"`
	Record string           `mapstructure:"record"`
	Set    map[string]any   `mapstructure:"set"`
	Grid   map[string][]any `mapstructure:"grid"`
	When   []rule           `mapstructure:"when"`
	Points []map[string]any `mapstructure:"points"`
}

// rule sets config keys on the runs whose axis values match.
type rule struct {
	Match map[string]any `mapstructure:"match"` // axis -> value or list of values
	Set   map[string]any `mapstructure:"set"`
}

// Sweep is a loaded sweep file.
type Sweep struct {
	File string // the sweep file, as given
	Name string
	// Out is the sweep's directory (default runs/<name>).
	Out string
	// Record, when set, is a directory that keeps each finished run's
	// summary.json, evals.jsonl, metrics.csv and eval_final.json (small enough to
	// commit); a run recorded there is done.
	Record string
	spec   spec
	dir    string // of the sweep file: config and record paths are relative to it
}

// Run is one run of a sweep.
type Run struct {
	Index  int    // in the plan: the Slurm array / Indexed Job index
	Name   string // stable: made of the run's axis values
	Preset string
	// Values are the run's axis values and rule settings, in the order
	// they were applied (printed by plan).
	Values []KV
	Config configs.Run // resolved; Config.Out is the run's directory
}

// KV is one setting.
type KV struct {
	Key   string
	Value any
}

func (kv KV) String() string { return kv.Key + "=" + formatValue(kv.Value) }

// Load reads a sweep file through viper (keys may hold dots: they are
// config keys, not nesting). out, when not empty, replaces the file's out.
func Load(file, out string) (*Sweep, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter("::"))
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", file, err)
	}
	var sp spec
	strict := func(c *mapstructure.DecoderConfig) { c.WeaklyTypedInput = false }
	if err := v.UnmarshalExact(&sp, strict); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", file, err)
	}
	s := &Sweep{File: file, Name: sp.Name, Out: cmp.Or(out, sp.Out), spec: sp, dir: filepath.Dir(file)}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if s.Out == "" {
		s.Out = filepath.Join("runs", s.Name)
	}
	if sp.Record != "" {
		s.Record = s.rel(sp.Record)
	}
	return s, nil
}

// rel resolves a path of the sweep file relative to the file's directory.
func (s *Sweep) rel(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// Paths of a run's files in the sweep's directory.
func (s *Sweep) RunDir(name string) string     { return filepath.Join(s.Out, "runs", name) }
func (s *Sweep) ConfigPath(name string) string { return filepath.Join(s.Out, "configs", name+".yaml") }
func (s *Sweep) StatePath(name string) string  { return filepath.Join(s.Out, "state", name+".json") }
func (s *Sweep) LogDir() string                { return filepath.Join(s.Out, "logs") }

// axisOrder is the grid's order, the first axis varying slowest: seed
// first, so that a partly finished sweep has covered every dataset and
// model once before it starts on a second seed; then dataset and model;
// then config keys alphabetically.
func axisOrder(grid map[string][]any) []string {
	rank := func(k string) int {
		switch k {
		case AxisSeed, "train.seed":
			return 0
		case AxisDataset:
			return 1
		case AxisModel:
			return 2
		}
		return 3
	}
	keys := slices.Collect(maps.Keys(grid))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b)) })
	return keys
}

// Plan expands the grid (and the explicit points after it) into runs, each
// loaded and validated through configs.Load: the preset, then the sweep's
// config file, then its set, then the axis values and matching rules.
// MINRL_* variables play no part: a sweep's runs are what its file says.
func (s *Sweep) Plan() ([]Run, error) {
	sp := s.spec
	var points []map[string]any
	if len(sp.Grid) > 0 {
		order := axisOrder(sp.Grid)
		for _, k := range order {
			if len(sp.Grid[k]) == 0 {
				return nil, fmt.Errorf("sweep %s: grid axis %s has no values", s.File, k)
			}
		}
		points = []map[string]any{{}}
		for _, k := range order {
			var next []map[string]any
			for _, p := range points {
				for _, val := range sp.Grid[k] {
					q := maps.Clone(p)
					q[k] = val
					next = append(next, q)
				}
			}
			points = next
		}
	}
	for i, p := range sp.Points {
		if len(p) == 0 {
			return nil, fmt.Errorf("sweep %s: points[%d] is empty", s.File, i)
		}
		points = append(points, p)
	}
	if len(points) == 0 {
		if sp.Preset == "" && sp.Config == "" {
			return nil, fmt.Errorf("sweep %s: no runs: give a grid, points, or at least a preset", s.File)
		}
		points = []map[string]any{{}}
	}
	runs := make([]Run, 0, len(points))
	seen := map[string]int{}
	for i, p := range points {
		r, err := s.resolve(i, flatKeys(p))
		if err != nil {
			return nil, fmt.Errorf("sweep %s: run %d (%s): %w", s.File, i, describe(p), err)
		}
		if j, dup := seen[r.Name]; dup {
			return nil, fmt.Errorf("sweep %s: runs %d and %d are both named %s (the same point twice?)", s.File, j, i, r.Name)
		}
		seen[r.Name] = i
		runs = append(runs, r)
	}
	return runs, nil
}

func describe(p map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, KV{k, p[k]}.String())
	}
	return strings.Join(parts, " ")
}

// resolve loads the config of one point (its keys flattened).
func (s *Sweep) resolve(index int, p map[string]any) (Run, error) {
	sp := s.spec
	preset := sp.Preset
	str := func(k string) (string, bool, error) {
		v, ok := p[k]
		if !ok {
			return "", false, nil
		}
		x, isStr := v.(string)
		if !isStr || x == "" {
			return "", false, fmt.Errorf("%s: %v, want a name", k, v)
		}
		return x, true, nil
	}
	ds, hasDS, err := str(AxisDataset)
	if err != nil {
		return Run{}, err
	}
	model, hasModel, err := str(AxisModel)
	if err != nil {
		return Run{}, err
	}
	if hasDS || hasModel {
		var baseDS, baseModel string
		if preset != "" {
			env, kind, m, err := configs.ParsePreset(preset)
			if err != nil {
				return Run{}, err
			}
			baseDS, baseModel = env+"-"+kind, m
		}
		ds, model = cmp.Or(ds, baseDS), cmp.Or(model, baseModel)
		if ds == "" || model == "" {
			return Run{}, errors.New("a dataset axis needs a model (axis or preset) and a model axis a dataset")
		}
		preset = ds + "-" + model
	}
	set := map[string]any{}
	var values []KV
	apply := func(m map[string]any, what string) error {
		for _, k := range slices.Sorted(maps.Keys(flatKeys(m))) {
			v := flatKeys(m)[k]
			if k == "name" || k == "out" {
				return fmt.Errorf("%s: %s is set by the sweep (its run names and out)", what, k)
			}
			set[k] = v
		}
		return nil
	}
	if err := apply(sp.Set, "set"); err != nil {
		return Run{}, err
	}
	// Rules before the point's own values: a value the point names wins.
	for i, r := range sp.When {
		if len(r.Match) == 0 {
			return Run{}, fmt.Errorf("when[%d]: no match", i)
		}
		if !matches(r.Match, p, ds, model) {
			continue
		}
		rs := flatKeys(r.Set)
		for _, k := range slices.Sorted(maps.Keys(rs)) {
			set[k] = rs[k]
			values = append(values, KV{k, rs[k]})
		}
	}
	var named []string // config-key axes: part of the name
	for _, k := range slices.Sorted(maps.Keys(p)) {
		v := p[k]
		switch k {
		case AxisDataset, AxisModel:
		case AxisSeed, "train.seed":
			set["train.seed"] = v
			k = "train.seed"
		default:
			if k == "name" || k == "out" {
				return Run{}, fmt.Errorf("%s is set by the sweep (its run names and directories)", k)
			}
			set[k] = v
			named = append(named, k)
		}
		values = append(values, KV{k, v})
	}
	src := configs.Source{Preset: preset, Set: set}
	if sp.Config != "" {
		src.File = s.rel(sp.Config)
	}
	run, err := configs.Load(src)
	if err != nil {
		return Run{}, err
	}
	// The name: the preset (or the sweep's name), the seed, then the
	// point's config keys and values. It depends on the run's own values
	// only, not on its place in the grid, so adding a value to an axis
	// leaves the other runs' names (and directories) as they were.
	name := cmp.Or(preset, s.Name) + "-s" + strconv.FormatUint(run.Train.Seed, 10)
	for _, k := range named {
		name += "-" + k + "=" + formatValue(p[k])
	}
	name = safeName(name)
	run.Name = name
	run.Out = s.RunDir(name)
	if err := run.Validate(); err != nil {
		return Run{}, err
	}
	return Run{Index: index, Name: name, Preset: preset, Values: values, Config: run}, nil
}

// matches reports whether a point has every value a rule asks for (a
// list: any of them).
func matches(match, p map[string]any, ds, model string) bool {
	for k, want := range match {
		var got any
		switch k {
		case AxisDataset:
			got = ds
		case AxisModel:
			got = model
		case AxisSeed:
			got = cmp.Or(p[AxisSeed], p["train.seed"])
		default:
			got = p[k]
		}
		wants, isList := want.([]any)
		if !isList {
			wants = []any{want}
		}
		if !slices.ContainsFunc(wants, func(w any) bool { return formatValue(w) == formatValue(got) }) {
			return false
		}
	}
	return true
}

// flatKeys flattens nested mappings to dotted keys ({train: {lr: 1}} and
// {train.lr: 1} alike).
func flatKeys(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for sk, sv := range flatKeys(sub) {
				out[k+"."+sk] = sv
			}
			continue
		}
		out[k] = v
	}
	return out
}

// formatValue writes an axis value for a name or a listing: numbers as
// Go writes them, lists joined by commas.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// safeName keeps a run name to one portable path element.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.=,+", r) {
			return r
		}
		return '_'
	}, s)
}

// ConfigYAML is a run's full config as YAML: every key, so that
// minrl train --config FILE reproduces the run whatever the presets'
// defaults become.
func ConfigYAML(run configs.Run) ([]byte, error) {
	m := run.Tree()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// PlanID identifies a plan: the SHA-256 of its runs' names and configs in
// order. A Slurm task refuses to run when the sweep file has changed since
// the array was submitted (its index would name another run).
func PlanID(runs []Run) (string, error) {
	h := sha256.New()
	for _, r := range runs {
		b, err := json.Marshal(r.Config.Tree())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%d %s %s\n", r.Index, r.Name, b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Find returns the run at index, checking the plan.
func Find(runs []Run, index int, planID string) (Run, error) {
	if planID != "" {
		got, err := PlanID(runs)
		if err != nil {
			return Run{}, err
		}
		if got != planID {
			return Run{}, fmt.Errorf("the sweep's plan is %s, not %s: the sweep file (or a config it names) changed since this task was submitted; submit the sweep again", got, planID)
		}
	}
	if index < 0 || index >= len(runs) {
		return Run{}, fmt.Errorf("index %d: the sweep has runs 0 to %d", index, len(runs)-1)
	}
	return runs[index], nil
}

// exists reports whether a file exists.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
