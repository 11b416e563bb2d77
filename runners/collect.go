package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minrl/minrl/agents/ppo"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/eval"
)

// Dataset kinds, as D4RL names them.
const (
	KindRandom       = "random"
	KindMedium       = "medium"
	KindMediumReplay = "medium-replay"
	KindExpert       = "expert"
	KindMediumExpert = "medium-expert"
)

// AllKinds are the datasets collect can make.
var AllKinds = []string{KindRandom, KindMedium, KindMediumReplay, KindExpert, KindMediumExpert}

// CollectConfig configures the making of an environment's datasets, the
// way D4RL made its own: train an online agent (PPO here, SAC in D4RL),
// keep snapshots, and roll out the random, medium (the first snapshot at a
// third of the expert's normalised performance) and expert policies.
type CollectConfig struct {
	Env         string
	PPO         ppo.Config
	Transitions int      // per random, medium and expert dataset (D4RL: 1e6)
	RefEpisodes int      // episodes behind each reference return (100)
	Kinds       []string // datasets to write
	Out         string   // directory for datasets, agents and reports
	Name        string   // dataset name prefix (default: from the env id, e.g. "hopper")
	Seed        uint64
	Gzip        int // deflate level of the HDF5 files (0: none)
	// MediumFraction of the way from the random to the expert return
	// defines "medium" (1/3).
	MediumFraction float64
	Command        string // recorded in the datasets' metadata
}

// CollectReport is what collect measured and wrote.
type CollectReport struct {
	Env          string  `json:"env"`
	RandomReturn float64 `json:"random_return"`
	// ExpertReturn is the expert reference of the normalised score: the
	// final PPO policy acting with its mean action, as agents are
	// evaluated. ExpertSampledReturn is the same policy with sampled
	// actions (the behaviour policy of the expert data; the expert
	// reference of files collected before expert_actions existed).
	ExpertReturn        float64            `json:"expert_return"`
	ExpertSampledReturn float64            `json:"expert_return_sampled"`
	MediumReturn        float64            `json:"medium_return"`
	RefEpisodes         int                `json:"ref_episodes"`
	MediumStep          int                `json:"medium_step"` // PPO step of the medium snapshot
	ExpertStep          int                `json:"expert_step"`
	TrainSeconds        float64            `json:"train_seconds"`
	Files               map[string]string  `json:"files"`
	Summaries           map[string]Summary `json:"summaries"`
	LearningCurve       []ppo.Update       `json:"-"`
}

// Summary describes a written dataset.
type Summary struct {
	Transitions int     `json:"transitions"`
	Episodes    int     `json:"episodes"`
	MeanReturn  float64 `json:"mean_return"`
	StdReturn   float64 `json:"std_return"`
	MinReturn   float64 `json:"min_return"`
	MaxReturn   float64 `json:"max_return"`
	MeanLength  float64 `json:"mean_length"`
}

// DatasetName derives a short name from an env id: "minrl/Hopper-v0" ->
// "hopper", "Pendulum-v1" -> "pendulum", "minrl/Hopper-mujoco-v0" ->
// "hopper-mujoco".
func DatasetName(envID string) string {
	s := envID[strings.LastIndex(envID, "/")+1:]
	if i := strings.LastIndex(s, "-v"); i > 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

func (c *CollectConfig) validate() error {
	var errs []error
	if _, err := envs.Lookup(c.Env); err != nil {
		errs = append(errs, err)
	}
	if c.Transitions < 1 {
		errs = append(errs, fmt.Errorf("transitions %d < 1", c.Transitions))
	}
	if c.RefEpisodes < 1 {
		errs = append(errs, fmt.Errorf("reference episodes %d < 1", c.RefEpisodes))
	}
	for _, k := range c.Kinds {
		if !slices.Contains(AllKinds, k) {
			errs = append(errs, fmt.Errorf("unknown dataset kind %q (want %s)", k, strings.Join(AllKinds, ", ")))
		}
	}
	if c.Out == "" {
		errs = append(errs, errors.New("no output directory"))
	}
	// Checked here, not when the files are written after hours of PPO.
	if c.Gzip < 0 || c.Gzip > 9 {
		errs = append(errs, fmt.Errorf("gzip level %d, want 0-9", c.Gzip))
	}
	if c.Name != "" && (strings.ContainsAny(c.Name, `/\`) || c.Name == "." || c.Name == "..") {
		errs = append(errs, fmt.Errorf("dataset name %q: want a file name prefix, not a path", c.Name))
	}
	if !(c.MediumFraction > 0 && c.MediumFraction < 1) {
		errs = append(errs, fmt.Errorf("medium fraction %g, want in (0, 1)", c.MediumFraction))
	}
	c.PPO.Env = c.Env
	if err := c.PPO.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// snapshot is a saved PPO agent with the mean training return of its
// update's rollout.
type snapshot struct {
	step int
	ret  float64
	path string
}

// Collect trains the behaviour policy and writes the datasets.
func Collect(ctx context.Context, cfg CollectConfig, log *slog.Logger) (*CollectReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = DatasetName(cfg.Env)
	}
	agentsDir := filepath.Join(cfg.Out, "agents", cfg.Name)
	if err := os.MkdirAll(agentsDir, 0o755); err != nil {
		return nil, err
	}
	rep := &CollectReport{Env: cfg.Env, RefEpisodes: cfg.RefEpisodes, Files: map[string]string{}, Summaries: map[string]Summary{}}

	// 1. Train, keeping a snapshot per update and every finished episode
	//    (in order of completion) for the replay dataset.
	probe, err := envs.Make(cfg.Env)
	if err != nil {
		return nil, err
	}
	replay := newEpisodeRecorder(cfg.PPO.NumEnvs, probe.ActionSpace())
	probe.Close()
	var snaps []snapshot
	start := time.Now()
	agent, hist, err := ppo.Train(ctx, cfg.PPO, func(a *ppo.Agent, u ppo.Update, r *ppo.Rollout) error {
		replay.addRollout(r, u.Step)
		p := filepath.Join(agentsDir, fmt.Sprintf("step%09d.safetensors", u.Step))
		if err := a.Save(p, cfg.Env, u.Step, u.EpisodeReturn); err != nil {
			return err
		}
		snaps = append(snaps, snapshot{step: u.Step, ret: u.EpisodeReturn, path: p})
		if log != nil && len(snaps)%20 == 0 {
			log.Info("ppo", "env", cfg.Env, "step", u.Step, "of", cfg.PPO.TotalSteps, "return", math.Round(u.EpisodeReturn*10)/10, "steps/s", math.Round(u.StepsPerSec))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collect: ppo: %w", err)
	}
	rep.TrainSeconds = time.Since(start).Seconds()
	rep.LearningCurve = hist
	rep.ExpertStep = hist[len(hist)-1].Step
	expertPath := filepath.Join(agentsDir, "expert.safetensors")
	if err := agent.Save(expertPath, cfg.Env, rep.ExpertStep, hist[len(hist)-1].EpisodeReturn); err != nil {
		return nil, err
	}

	// 2. Reference returns: the uniform-random policy, and the expert
	//    with its mean action (as agents are evaluated: the reference) and
	//    with sampled actions (the behaviour policy), each over RefEpisodes
	//    episodes. The mean-action episodes draw no random numbers, so the
	//    datasets are those collect made before it measured them.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x636f6c6c))
	randomPol := func(obs, act []float64, space envs.Space, rng *rand.Rand) { space.Sample(rng, act) }
	expertPol := agentPolicy(agent)
	refSeed := cfg.Seed + 1_000_000
	if rep.RandomReturn, err = meanReturn(ctx, cfg.Env, randomPol, cfg.RefEpisodes, refSeed, rng); err != nil {
		return nil, err
	}
	if rep.ExpertSampledReturn, err = meanReturn(ctx, cfg.Env, expertPol, cfg.RefEpisodes, refSeed, rng); err != nil {
		return nil, err
	}
	if rep.ExpertReturn, err = meanReturn(ctx, cfg.Env, agentMeanPolicy(agent), cfg.RefEpisodes, refSeed, nil); err != nil {
		return nil, err
	}

	// 3. Medium: the first snapshot whose training return (mean of three
	//    updates, to damp noise) reaches MediumFraction of the way from
	//    random to the expert's sampled-action return (training returns
	//    are of sampled actions too).
	target := rep.RandomReturn + cfg.MediumFraction*(rep.ExpertSampledReturn-rep.RandomReturn)
	med := len(snaps) - 1
	for i := range snaps {
		if smoothed(snaps, i) >= target {
			med = i
			break
		}
	}
	rep.MediumStep = snaps[med].step
	medium, _, _, err := ppo.LoadAgent(snaps[med].path)
	if err != nil {
		return nil, err
	}
	mediumPath := filepath.Join(agentsDir, "medium.safetensors")
	if err := medium.Save(mediumPath, cfg.Env, rep.MediumStep, snaps[med].ret); err != nil {
		return nil, err
	}
	mediumPol := agentPolicy(medium)
	if rep.MediumReturn, err = meanReturn(ctx, cfg.Env, mediumPol, cfg.RefEpisodes, refSeed, rng); err != nil {
		return nil, err
	}
	// Snapshots other than medium and expert are not kept.
	for _, s := range snaps {
		os.Remove(s.path)
	}

	// 4. The datasets.
	meta := func(policy string) dataset.Metadata {
		return dataset.Metadata{EnvID: cfg.Env, Policy: policy, Command: cfg.Command, Seed: &cfg.Seed,
			Extra: map[string]string{"algorithm": "PPO", MetaRandomReturn: fmt.Sprint(rep.RandomReturn),
				MetaExpertReturn: fmt.Sprint(rep.ExpertReturn), MetaExpertActions: "mean",
				MetaExpertSampled: fmt.Sprint(rep.ExpertSampledReturn)}}
	}
	made := map[string]*dataset.Dataset{}
	want := func(k string) bool { return slices.Contains(cfg.Kinds, k) }
	rollout := func(kind string, pol behaviour, policyName string, seed uint64) error {
		if made[kind] != nil {
			return nil
		}
		d, err := rolloutDataset(ctx, cfg.Env, pol, cfg.Transitions, seed, cfg.PPO.NumEnvs)
		if err != nil {
			return fmt.Errorf("%s dataset: %w", kind, err)
		}
		d.Meta = meta(policyName)
		made[kind] = d
		return nil
	}
	if want(KindRandom) {
		if err := rollout(KindRandom, randomPol, "uniform random actions", cfg.Seed+2_000_000); err != nil {
			return nil, err
		}
	}
	if want(KindMedium) || want(KindMediumExpert) {
		if err := rollout(KindMedium, mediumPol, fmt.Sprintf("PPO medium snapshot at step %d (%s)", rep.MediumStep, mediumPath), cfg.Seed+3_000_000); err != nil {
			return nil, err
		}
	}
	if want(KindExpert) || want(KindMediumExpert) {
		if err := rollout(KindExpert, expertPol, fmt.Sprintf("PPO expert at step %d (%s)", rep.ExpertStep, expertPath), cfg.Seed+4_000_000); err != nil {
			return nil, err
		}
	}
	if want(KindMediumReplay) {
		d := replay.dataset(rep.MediumStep)
		d.Meta = meta(fmt.Sprintf("every PPO rollout until the medium snapshot (step %d)", rep.MediumStep))
		made[KindMediumReplay] = d
	}
	if want(KindMediumExpert) {
		d := concat(made[KindMedium], made[KindExpert])
		d.Meta = meta("medium followed by expert")
		made[KindMediumExpert] = d
	}
	for _, k := range cfg.Kinds {
		d := made[k]
		name := cfg.Name + "-" + k
		path := filepath.Join(cfg.Out, name+".hdf5")
		if err := d4rl.Save(path, d, d4rl.SaveOptions{Gzip: cfg.Gzip}); err != nil {
			return nil, err
		}
		rep.Files[k] = path
		rep.Summaries[k] = summarizeDataset(d)
	}
	if err := writeFileAtomic(filepath.Join(cfg.Out, cfg.Name+"-collect.json"), func(w io.Writer) (int64, error) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(rep)
	}); err != nil {
		return nil, err
	}
	if err := PlotLearningCurve(hist, cfg.Env, filepath.Join(cfg.Out, cfg.Name+"-ppo.png")); err != nil {
		return nil, err
	}
	return rep, nil
}

func smoothed(s []snapshot, i int) float64 {
	var sum float64
	n := 0
	for j := max(0, i-2); j <= i; j++ {
		if !math.IsNaN(s[j].ret) {
			sum += s[j].ret
			n++
		}
	}
	if n == 0 {
		return math.Inf(-1)
	}
	return sum / float64(n)
}

// behaviour picks an action for one observation.
type behaviour func(obs, act []float64, space envs.Space, rng *rand.Rand)

// agentPolicy samples from a PPO agent's Gaussian policy (the behaviour
// policy is stochastic, as D4RL's SAC policies were).
func agentPolicy(a *ppo.Agent) behaviour {
	return func(obs, act []float64, _ envs.Space, rng *rand.Rand) { a.Act(obs, act, rng) }
}

// agentMeanPolicy acts with a PPO agent's mean action (deterministic).
func agentMeanPolicy(a *ppo.Agent) behaviour {
	return func(obs, act []float64, _ envs.Space, _ *rand.Rand) { a.Act(obs, act, nil) }
}

// meanReturn plays episodes with seeds seed, seed+1, ... and returns their
// mean return. Actions are clipped to the action space.
//
// Collection plays its episodes one at a time with one random stream
// (here and in rolloutDataset), not in eval.Evaluate's lockstep: the
// order of the random draws is what makes a collection reproduce its
// datasets byte for byte (TestCollectIsReproducible, data/SHA256SUMS).
func meanReturn(ctx context.Context, env string, pol behaviour, episodes int, seed uint64, rng *rand.Rand) (float64, error) {
	e, err := envs.Make(env)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	space := e.ActionSpace()
	act := make([]float64, space.Dim())
	var total float64
	for ep := 0; ep < episodes; ep++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		obs, _, err := e.Reset(envs.WithSeed(seed + uint64(ep)))
		if err != nil {
			return 0, err
		}
		for {
			pol(obs, act, space, rng)
			clipToSpace(space, act)
			r, err := e.Step(act)
			if err != nil {
				return 0, err
			}
			total += r.Reward
			obs = r.Obs
			if r.Done() {
				break
			}
		}
	}
	return total / float64(episodes), nil
}

func clipToSpace(space envs.Space, act []float64) {
	if b, ok := space.(envs.Box); ok {
		for i, v := range act {
			act[i] = min(max(v, b.Low[i]), b.High[i])
		}
	}
}

// rolloutDataset plays the policy until n transitions are recorded, one
// environment at a time in episode order (episodes seeded seed, seed+1,
// ...), and records qpos/qvel before each step where the env exposes its
// state. The last episode is cut at n transitions and left unfinished, as
// D4RL's fixed-size datasets are.
func rolloutDataset(ctx context.Context, env string, pol behaviour, n int, seed uint64, _ int) (*dataset.Dataset, error) {
	e, err := envs.Make(env)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	space := e.ActionSpace()
	od, ad := e.ObservationSpace().Dim(), space.Dim()
	d := dataset.New(n, od, ad)
	stateEnv, hasState := envs.As[envs.StateEnv](e)
	rng := rand.New(rand.NewPCG(seed, 0x726f6c6c))
	act := make([]float64, ad)
	i := 0
	for ep := 0; i < n; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		obs, _, err := e.Reset(envs.WithSeed(seed + uint64(ep)))
		if err != nil {
			return nil, err
		}
		for i < n {
			if hasState {
				qpos, qvel := stateEnv.State()
				if d.QPos == nil {
					d.QPosDim, d.QVelDim = len(qpos), len(qvel)
					d.QPos, d.QVel = make([]float32, n*len(qpos)), make([]float32, n*len(qvel))
				}
				put(d.QPos[i*d.QPosDim:], qpos)
				put(d.QVel[i*d.QVelDim:], qvel)
			}
			put(d.Observations[i*od:], obs)
			pol(obs, act, space, rng)
			clipToSpace(space, act)
			put(d.Actions[i*ad:], act)
			r, err := e.Step(act)
			if err != nil {
				return nil, err
			}
			d.Rewards[i] = float32(r.Reward)
			put(d.NextObservations[i*od:], r.Obs)
			d.Terminals[i], d.Timeouts[i] = r.Terminated, r.Truncated && !r.Terminated
			obs = r.Obs
			i++
			if r.Done() {
				break
			}
		}
	}
	return d, d.Check()
}

func put(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

// concat joins datasets (medium then expert).
func concat(parts ...*dataset.Dataset) *dataset.Dataset {
	n := 0
	for _, p := range parts {
		n += p.N
	}
	first := parts[0]
	d := dataset.New(n, first.ObsDim, first.ActDim)
	if first.QPos != nil {
		d.QPosDim, d.QVelDim = first.QPosDim, first.QVelDim
		d.QPos, d.QVel = make([]float32, 0, n*first.QPosDim), make([]float32, 0, n*first.QVelDim)
	}
	d.Observations, d.Actions, d.Rewards, d.NextObservations = d.Observations[:0], d.Actions[:0], d.Rewards[:0], d.NextObservations[:0]
	d.Terminals, d.Timeouts = d.Terminals[:0], d.Timeouts[:0]
	for pi, p := range parts {
		d.Observations = append(d.Observations, p.Observations...)
		d.Actions = append(d.Actions, p.Actions...)
		d.Rewards = append(d.Rewards, p.Rewards...)
		d.NextObservations = append(d.NextObservations, p.NextObservations...)
		d.Terminals = append(d.Terminals, p.Terminals...)
		timeouts := slices.Clone(p.Timeouts)
		// A part's unfinished last episode becomes a finished (timed-out)
		// one, so that the next part starts a new episode; the last part's
		// stays unfinished, as any dataset's last episode cut by its size.
		if k := p.N - 1; pi < len(parts)-1 && k >= 0 && !p.Terminals[k] && !p.Timeouts[k] {
			timeouts[k] = true
		}
		d.Timeouts = append(d.Timeouts, timeouts...)
		if d.QPos != nil {
			d.QPos = append(d.QPos, p.QPos...)
			d.QVel = append(d.QVel, p.QVel...)
		}
	}
	return d
}

func summarizeDataset(d *dataset.Dataset) Summary {
	s := Summary{Transitions: d.N}
	var rets []float64
	var length float64
	for _, e := range d.Episodes() {
		if !e.Finished {
			continue
		}
		rets = append(rets, e.Return)
		length += float64(e.Len)
	}
	s.Episodes = len(rets)
	if len(rets) > 0 {
		s.MeanReturn, s.StdReturn = eval.MeanStd(rets)
		s.MinReturn, s.MaxReturn = slices.Min(rets), slices.Max(rets)
		s.MeanLength = length / float64(len(rets))
	}
	return s
}

// episodeRecorder re-assembles PPO rollouts (time-major over parallel
// envs) into whole episodes, in the order they finish: the medium-replay
// dataset is every episode the agent played until the medium snapshot.
type episodeRecorder struct {
	pending  []*dataset.Dataset // per env, the episode in progress (grown by append)
	episodes []*dataset.Dataset
	finished []int // global PPO step at which each episode finished
	space    envs.Space
}

func newEpisodeRecorder(numEnvs int, space envs.Space) *episodeRecorder {
	return &episodeRecorder{pending: make([]*dataset.Dataset, numEnvs), space: space}
}

func (er *episodeRecorder) addRollout(r *ppo.Rollout, stepAfter int) {
	N, od, ad := r.NumEnvs, r.ObsDim, r.ActDim
	stepBefore := stepAfter - r.NumSteps*N
	act := make([]float64, ad)
	for s := 0; s < r.NumSteps; s++ {
		for i := 0; i < N; i++ {
			k := s*N + i
			p := er.pending[i]
			if p == nil {
				p = &dataset.Dataset{ObsDim: od, ActDim: ad}
				er.pending[i] = p
			}
			p.N++
			p.Observations = appendF32(p.Observations, r.Obs[k*od:(k+1)*od])
			copy(act, r.Actions[k*ad:(k+1)*ad])
			clipToSpace(er.space, act) // what the env executed

			p.Actions = appendF32(p.Actions, act)
			p.Rewards = append(p.Rewards, float32(r.Rewards[k]))
			p.NextObservations = appendF32(p.NextObservations, r.NextObs[k*od:(k+1)*od])
			p.Terminals = append(p.Terminals, r.Terminated[k])
			p.Timeouts = append(p.Timeouts, r.Truncated[k] && !r.Terminated[k])
			if r.Terminated[k] || r.Truncated[k] {
				er.episodes = append(er.episodes, p)
				er.finished = append(er.finished, stepBefore+(s+1)*N)
				er.pending[i] = nil
			}
		}
	}
}

func appendF32(dst []float32, src []float64) []float32 {
	for _, v := range src {
		dst = append(dst, float32(v))
	}
	return dst
}

// dataset joins the episodes finished by step until.
func (er *episodeRecorder) dataset(until int) *dataset.Dataset {
	var parts []*dataset.Dataset
	for i, e := range er.episodes {
		if er.finished[i] <= until {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 {
		return dataset.New(0, 1, 1)
	}
	return concat(parts...)
}
