package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minrl/minrl/agents/decision"
	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/data"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/internal/runlock"
	"github.com/minrl/minrl/internal/sysmem"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/policy"
)

// Files a training run writes into its output directory.
const (
	FileLast       = "last.safetensors" // weights, normaliser, optimiser and sampler state: resumes the run
	FileBest       = "best.safetensors" // weights of the best evaluation so far
	FileMetrics    = "metrics.jsonl"    // one JSON object per log interval
	FileMetricsCSV = "metrics.csv"      // the same as CSV
	FileEvals      = "evals.jsonl"      // one JSON object per evaluation
	FileLossPlot   = "loss.png"         // training loss against step
	FileEvalPlot   = "eval.png"         // evaluation score against step
	FileSummary    = "summary.json"     // the TrainResult
	FileTiming     = "timing.json"      // wall and training seconds as of last.safetensors
	PrefixFinal    = "eval_final"       // eval_final.csv/.json: per-episode results of the last evaluation
)

// Checkpoint metadata keys written by Train (besides policy's minrl.*).
// Every value is a string; numbers are decimal, floats round-trip exactly.
const (
	metaStep         = "train.step"           // gradient steps taken
	metaOptimStep    = "train.optim_step"     // AdamW's step count (bias correction)
	metaSampler      = "train.sampler_state"  // base64 of the sampler's State()
	metaBestScore    = "train.best_score"     // best score so far ("" before any evaluation)
	metaBest         = "train.best"           // the best EvalPoint as JSON
	metaRunConfig    = "train.config"         // the run config as JSON, keys as in the YAML, without out
	metaConfigSHA    = "train.config_sha256"  // SHA-256 of that JSON, "out" left out
	metaDatasetSHA   = "train.dataset_sha256" // SHA-256 of the dataset's arrays
	metaProgress     = "train.progress"       // JSON: log accumulators, last evaluated step (clocks: timing.json)
	metaCheckpointOf = "train.checkpoint"     // "last" or "best"
	metaGemm         = "train.gemm"           // the matrix-product backend (nn.Gemm's Name)
	metaReferences   = "train.references"     // JSON eval.References: what the run's scores are normalised by
)

// Score kinds: what EvalPoint.Score measures.
const (
	ScoreNormalized = "normalized" // mean normalised score over the targets (0 random, 100 expert)
	ScoreReturn     = "return"     // mean return over the targets (env without reference returns)
)

// BestRule says which evaluation best.safetensors holds.
const BestRule = "highest score: the mean over targets of the mean normalised score, or of the mean return when the environment has no reference returns; the earliest wins ties"

// TrainOptions are the settings of one Train call that are not part of the
// run config.
type TrainOptions struct {
	// Overwrite discards a previous run in the output directory (its
	// checkpoints, logs, plots and reports) and starts afresh. Without
	// it, Train resumes a run of the same config and refuses another.
	Overwrite bool
	// Progress, when set, is called after every gradient step, every
	// evaluation and every checkpoint, on Train's goroutine.
	Progress func(TrainEvent)
	// Command is recorded in the checkpoints and the summary.
	Command string
	// SkipPlots writes no PNG learning curves (metrics.csv and
	// evals.jsonl hold the same numbers), for sweeps and tests: drawing
	// and encoding the PNGs costs more than a tiny run.
	SkipPlots bool
	// MaxMemory, when positive, is the memory the run may need (the
	// estimate from its config); 0 means what the machine has available.
	MaxMemory int64
	// Device is where the gradient steps run: "cpu" (or empty) or "cuda"
	// (a binary built with -tags cuda; Decision-minGRU/minLSTM models).
	// It is not part of the run's config: it changes where a run computes,
	// not what, so a run started on a GPU resumes on a CPU and the other
	// way round (the results agree to float32 rounding, not bit for bit).
	Device string
}

// TrainEvent reports progress to TrainOptions.Progress.
type TrainEvent struct {
	Kind  string // "header", "note", "resume", "step", "eval" or "checkpoint"
	Step  int    // gradient steps taken
	Steps int    // of the run's train.steps
	// Kind "step": the step's loss, gradient norm (before clipping) and
	// learning rate.
	Loss, GradNorm, LR float64
	// Kind "eval": the evaluation, and whether it is the best so far.
	Eval *EvalPoint
	Best bool
	// Kind "checkpoint": the file written; "resume": the file resumed.
	Path string
	// Kind "header": a line of the run's header (the memory estimate);
	// "note": something the user should know (data clipped, say);
	// "resume": a caveat, or "".
	Note string
}

// TargetScore is the evaluation of one target return (bc: one row, Target 0).
type TargetScore struct {
	Target         float64 `json:"target"`
	MeanReturn     float64 `json:"mean_return"`
	StdReturn      float64 `json:"std_return"`
	MeanNormalized float64 `json:"mean_normalized"` // NaN (null in JSON) without reference returns
	StdNormalized  float64 `json:"std_normalized"`
	MeanLength     float64 `json:"mean_length"`
}

// EvalPoint is one periodic evaluation of a training run.
type EvalPoint struct {
	Step      int           `json:"step"`
	Score     float64       `json:"score"` // see BestRule
	ScoreKind string        `json:"score_kind"`
	Episodes  int           `json:"episodes"` // per target
	Targets   []TargetScore `json:"targets"`
}

// MetricRecord is one line of metrics.jsonl: the mean loss and gradient
// norm over the steps since the previous record, the learning rate of the
// last of them, and the wall-clock seconds since training began (summed
// over resumed sessions).
type MetricRecord struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	GradNorm float64 `json:"grad_norm"`
	LR       float64 `json:"lr"`
	Elapsed  float64 `json:"elapsed_s"`
}

// TrainResult is what Train did; summary.json holds it.
type TrainResult struct {
	Name    string         `json:"name"`
	Dir     string         `json:"dir"`
	Env     string         `json:"env"`
	Dataset string         `json:"dataset"` // where the data came from
	Config  map[string]any `json:"config"`  // the run config, keys as in the YAML
	Command string         `json:"command,omitempty"`
	Steps   int            `json:"steps"`
	// ResumedFrom is the step this call resumed at (0: a fresh run).
	ResumedFrom int    `json:"resumed_from"`
	BestRule    string `json:"best_rule"`
	// Last is the evaluation of the final weights (last.safetensors);
	// Best the best evaluation (best.safetensors).
	Last EvalPoint `json:"last"`
	Best EvalPoint `json:"best"`
	// DatasetSHA256 identifies the data: the SHA-256 of the dataset's
	// arrays as loaded (dataset.Dataset.SHA256), as the checkpoints record it.
	DatasetSHA256 string `json:"dataset_sha256"`
	// References normalise every score of the run: the dataset file's own
	// when it stores them, else the environment's registered ones
	// (eval.References.Source says which).
	References eval.References `json:"references"`
	// DatasetReturn is the mean return of the dataset's finished episodes
	// (the behaviour policy's level), DatasetScore its normalised score
	// (NaN without reference returns).
	DatasetReturn float64 `json:"dataset_return"`
	DatasetScore  float64 `json:"dataset_score"`
	// WallSeconds is the whole run's wall-clock time (gradient steps,
	// evaluations, checkpoints; summed over resumed sessions);
	// TrainSeconds the part spent in gradient steps, and StepsPerSecond
	// Steps / TrainSeconds.
	WallSeconds    float64 `json:"wall_seconds"`
	TrainSeconds   float64 `json:"train_seconds"`
	StepsPerSecond float64 `json:"steps_per_second"`
	// Device is where this call's gradient steps ran ("cpu", or the GPU's
	// name).
	Device string `json:"device,omitempty"`
	// Files maps roles (last, best, metrics, metrics_csv, evals,
	// loss_plot, eval_plot, eval_final_csv, eval_final_json, summary) to
	// paths.
	Files map[string]string `json:"files"`
	// Final are the full reports of the last evaluation (eval_final.*).
	Final []eval.Report `json:"-"`
}

// ErrConfigMismatch reports an output directory that holds a run of
// another config.
var ErrConfigMismatch = errors.New("the output directory holds a run of a different config")

// Train trains the policy of run on its dataset, evaluates it every
// train.eval_every steps and at the end, and writes checkpoints, logs,
// learning curves and reports into run.Out (see the File* constants).
//
// A run is resumable exactly: last.safetensors holds the weights, the
// optimiser moments, the sampler's random stream and the step, and a
// model rebuilt from the seed restores its dropout masks from the step.
// Calling Train again with the same config continues where the checkpoint
// left off and ends with the weights an uninterrupted run would have, bit
// for bit. When ctx is cancelled, Train saves last.safetensors at the
// current step before returning ctx's error. A diverged step (non-finite
// loss or gradient) returns an error wrapping decision.ErrDiverged and
// saves nothing.
func Train(ctx context.Context, run configs.Run, opts TrainOptions) (*TrainResult, error) {
	j, err := newTrainJob(run, opts)
	if err != nil {
		return nil, err
	}
	return j.train(ctx)
}

// trainJob is the state of one Train call.
type trainJob struct {
	run       configs.Run
	opts      TrainOptions
	notes     []string    // said once the run starts (TrainEvent "note")
	header    []string    // the memory estimate and the schedule (TrainEvent "header")
	estimated bool        // the time estimate was said this session
	dev       cuda.Device // nil on the CPU
	spec      envs.Spec
	dsPath    string
	dsSHA     string
	refs      eval.References // what scores are normalised by
	cfgJSON   string          // configs.Run.Identity: the run config as checkpoints record it
	cfgSHA    string
	norm      policy.Normalizer
	// dataReturn is the mean return of the dataset's finished episodes.
	dataReturn float64
	bounds     *policy.ActionBounds // nil: the env acts in [−1, 1] already, or is not a bounded Box
	model      policy.Model
	sampler    stateSampler
	tr         *decision.Trainer
	kind       string // score kind

	resumedFrom int
	start       time.Time // of this session
	prevWall    float64   // wall seconds of earlier sessions
	trainSec    float64   // seconds in gradient steps, all sessions
	// Log accumulators since the last metrics record.
	sumLoss, sumNorm float64
	nLog             int
	lastEval         int // last step evaluated (-1: none)
	metrics          []MetricRecord
	evals            []EvalPoint
	best             *EvalPoint
	final            []eval.Report // reports of the evaluation at lastEval, when made in this session
}

// stateSampler is a dataset sampler whose random stream can be saved.
type stateSampler interface {
	decision.Sampler
	State() ([]byte, error)
	SetState([]byte) error
}

// progressState is the metaProgress JSON.
type progressState struct {
	// Checkpoints before timing.json held the clocks here.
	WallSeconds  float64 `json:"wall_seconds,omitempty"`
	TrainSeconds float64 `json:"train_seconds,omitempty"`
	SumLoss      float64 `json:"sum_loss"`
	SumGradNorm  float64 `json:"sum_grad_norm"`
	NLog         int     `json:"n_log"`
	LastEval     int     `json:"last_eval"`
}

// timingState is timing.json: the clocks of a run's earlier sessions, as of
// its last checkpoint.
type timingState struct {
	WallSeconds  float64 `json:"wall_seconds"`
	TrainSeconds float64 `json:"train_seconds"`
}

func newTrainJob(run configs.Run, opts TrainOptions) (*trainJob, error) {
	if err := run.Validate(); err != nil {
		return nil, err
	}
	// A device this binary cannot open is refused before anything is
	// written; the device itself is opened once a resume has loaded the
	// weights.
	if dev, err := cuda.ParseDevice(opts.Device); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	} else if dev == "cuda" && !cuda.Available() {
		return nil, fmt.Errorf("train --device cuda: %w", cuda.ErrNotBuilt)
	}
	if run.Out == "" {
		return nil, errors.New("train: no output directory (config key out)")
	}
	spec, err := envs.Lookup(run.Env)
	if err != nil {
		return nil, err
	}
	env, err := envs.Make(run.Env)
	if err != nil {
		return nil, err
	}
	obsDim, actDim := env.ObservationSpace().Dim(), env.ActionSpace().Dim()
	bounds := actionBoundsOf(env.ActionSpace())
	env.Close()
	d, where, err := data.Open(run.Dataset)
	if errors.Is(err, data.ErrNotFound) {
		if kind, ok := strings.CutPrefix(run.Dataset, DatasetName(run.Env)+"-"); ok && slices.Contains(AllKinds, kind) {
			err = fmt.Errorf("%w\nmake it (with the other kinds of %s) by running: minrl collect --env %s --ppo-steps 3000000", err, run.Env, run.Env)
		} else if ok {
			// A typo in the kind: no collect makes it.
			err = fmt.Errorf("dataset %q: %q is not a dataset kind (%s): did you mean %s-%s?",
				run.Dataset, kind, strings.Join(AllKinds, ", "), DatasetName(run.Env), closest(kind, AllKinds))
		}
	}
	if err != nil {
		return nil, err
	}
	if err := d.Validate(obsDim, actDim); err != nil {
		return nil, fmt.Errorf("dataset %s does not fit %s: %w", run.Dataset, run.Env, err)
	}
	dn := d.Norm
	if dn == nil {
		if dn, err = d.FitNormalizer(); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", run.Dataset, err)
		}
	}
	dsSHA := d.SHA256() // of the file as it is, before the repairs below
	var notes []string
	if d.TimeoutsMissing {
		n, rule, err := d.RecoverTimeouts(spec.MaxEpisodeSteps)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", run.Dataset, err)
		}
		notes = append(notes, fmt.Sprintf("dataset %s has no timeouts array (a v0-era D4RL file): %d episode ends recovered %s", run.Dataset, n, rule))
	}
	dataReturn := d.Summarize().Returns.Mean
	if bounds != nil {
		// ToUnit clips: say so when the data go beyond the action space.
		if n, i := bounds.Outside(d.Actions); n > 0 {
			r, c := i/actDim, i%actDim
			notes = append(notes, fmt.Sprintf("dataset %s: %d of %d action values lie outside %s's action space (first: actions row %d column %d = %g, bounds [%g, %g]); they are clipped to it",
				run.Dataset, n, len(d.Actions), run.Env, r, c, d.Actions[i], bounds.Low[c], bounds.High[c]))
		}
		bounds.ToUnit(d.Actions)
	}
	refs, warns := DatasetReferences(d, where, spec)
	notes = append(notes, warns...)
	j := &trainJob{run: run, opts: opts, spec: spec, dsPath: where, dsSHA: dsSHA, refs: refs, bounds: bounds, dataReturn: dataReturn, notes: notes,
		norm: dataset.Normalizer{Mean: slices.Clone(dn.Mean), Std: slices.Clone(dn.Std)}, lastEval: -1, kind: ScoreNormalized}
	if !refs.Valid() {
		j.kind = ScoreReturn
	}
	if err := j.norm.Validate(obsDim); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", run.Dataset, err)
	}
	// The config as checkpoints record it: without where the run is
	// written, so that two identical runs write byte-identical checkpoints.
	if j.cfgJSON, err = run.Identity(); err != nil {
		return nil, err
	}
	j.cfgSHA = configs.SHA256(j.cfgJSON)
	mem, err := checkMemory(run, opts, obsDim, actDim)
	if err != nil {
		return nil, err
	}
	j.header = append(j.header, mem)
	if j.model, err = buildModel(run, obsDim, actDim); err != nil {
		return nil, err
	}
	if j.sampler, err = buildSampler(run, d, dn); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", run.Dataset, err)
	}
	if f := run.Train.TopFraction; f < 1 {
		j.notes = append(j.notes, topNote(j.sampler, d, f))
	}
	t := run.Train
	j.tr, err = decision.New(j.model, j.sampler, decision.Config{Steps: t.Steps, Batch: t.Batch, LR: t.LR,
		WeightDecay: t.WeightDecay, Warmup: t.Warmup, Schedule: t.Schedule, GradClip: t.GradClip})
	if err != nil {
		return nil, err
	}
	j.header = append(j.header, fmt.Sprintf("schedule: learning rate %g after a %d-step linear warm-up, then %s", t.LR, t.Warmup, t.Schedule))
	// A run shorter than its warm-up never trains at its learning rate:
	// say so (the presets' 10,000 steps of warm-up and --steps 200, say).
	if t.Warmup >= t.Steps {
		j.notes = append(j.notes, fmt.Sprintf("the warm-up (%d steps) is not shorter than the run (%d steps): the learning rate only reaches %.3g of its %g peak; set train.warmup lower (MINRL_TRAIN_WARMUP=%d, or in --config)",
			t.Warmup, t.Steps, j.tr.Sched.LR(t.Steps-1), t.LR, max(1, t.Steps/10)))
	}
	return j, nil
}

// topNote says which episodes a train.top_fraction run trains on.
func topNote(s stateSampler, d *dataset.Dataset, f float64) string {
	eps := s.(interface{ Episodes() []dataset.Episode }).Episodes()
	steps, lo := 0, math.Inf(1)
	for _, e := range eps {
		steps += e.Len
		lo = min(lo, e.Return)
	}
	return fmt.Sprintf("train.top_fraction %g: training on the %d highest-return episodes (%d of %d steps; returns from %.1f)", f, len(eps), steps, d.N, lo)
}

// closest returns the word of words nearest to w in edit distance.
func closest(w string, words []string) string {
	best, bestD := "", -1
	for _, c := range words {
		if d := editDistance(w, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// modelConfig is the run's model: a Decision config, or for bc an MLP's.
func modelConfig(run configs.Run, obsDim, actDim int) (*policy.Config, *policy.MLPConfig) {
	if run.Model.Kind == policy.ModelBC {
		m := run.MLP(obsDim, actDim)
		return nil, &m
	}
	d := run.Decision(obsDim, actDim)
	return &d, nil
}

// buildModel makes the run's model, its initial weights and dropout seeds
// drawn from train.seed.
func buildModel(run configs.Run, obsDim, actDim int) (policy.Model, error) {
	rng := nn.NewRNG(run.Train.Seed)
	dec, mlp := modelConfig(run, obsDim, actDim)
	if mlp != nil {
		return policy.NewMLP(*mlp, rng)
	}
	return policy.NewDecision(*dec, rng)
}

// memoryNeed estimates, from the config alone, the memory of training
// (weights, optimiser state, one step) and of one evaluation (acting in
// eval.episodes episodes at once).
func memoryNeed(run configs.Run, obsDim, actDim int) (train, eval int64) {
	dec, mlp := modelConfig(run, obsDim, actDim)
	if mlp != nil {
		return mlp.TrainBytes(run.Train.Batch * max(1, run.Model.K)), mlp.ActBytes(run.Eval.Episodes)
	}
	return dec.TrainBytes(run.Train.Batch), dec.ActBytes(run.Eval.Episodes)
}

// ErrTooLarge reports a run whose estimated memory exceeds what the
// machine has (or TrainOptions.MaxMemory).
var ErrTooLarge = errors.New("run too large for the memory")

// checkMemory estimates the run's memory and returns the run header's
// line for it, or ErrTooLarge.
func checkMemory(run configs.Run, opts TrainOptions, obsDim, actDim int) (string, error) {
	train, eval := memoryNeed(run, obsDim, actDim)
	need := train + eval
	limit, what := opts.MaxMemory, "the --max-memory limit"
	if limit <= 0 {
		avail, ok := sysmem.Available()
		if !ok {
			return fmt.Sprintf("memory: about %s (training %s, evaluation %s)", sysmem.Format(need), sysmem.Format(train), sysmem.Format(eval)), nil
		}
		limit, what = avail, "available"
	}
	line := fmt.Sprintf("memory: about %s (training %s, evaluating %d episodes %s), %s %s",
		sysmem.Format(need), sysmem.Format(train), run.Eval.Episodes, sysmem.Format(eval), sysmem.Format(limit), what)
	if need > limit {
		return "", fmt.Errorf("%w: this run needs about %s (training %s, evaluating %d episodes at once %s) and %s is %s: lower model.embed, model.layers, model.k, train.batch or eval.episodes",
			ErrTooLarge, sysmem.Format(need), sysmem.Format(train), run.Eval.Episodes, sysmem.Format(eval), sysmem.Format(limit), what)
	}
	return line, nil
}

// buildSampler makes the window sampler (window context, and bc) or the
// episode sampler, seeded from train.seed by a fixed derivation.
func buildSampler(run configs.Run, d *dataset.Dataset, norm *dataset.Normalizer) (stateSampler, error) {
	m, seed := run.Model, deriveSeed(run.Train.Seed, 0x5a4d_504c_4552) // "SAMPLER"
	if m.Context == policy.ContextEpisode && m.Kind != policy.ModelBC {
		return dataset.NewEpisodeSampler(d, norm, dataset.EpisodeConfig{RTGScale: run.Eval.RTGScale, MaxEpLen: m.MaxEpLen, TopFraction: run.Train.TopFraction, Seed: seed})
	}
	return dataset.NewWindowSampler(d, norm, dataset.WindowConfig{K: m.K, RTGScale: run.Eval.RTGScale, MaxEpLen: m.MaxEpLen, TopFraction: run.Train.TopFraction, Seed: seed})
}

// deriveSeed mixes a tag into a seed (splitmix64), so the model and the
// sampler draw from unrelated streams of one train.seed.
func deriveSeed(seed, tag uint64) uint64 {
	z := seed + tag*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (j *trainJob) path(name string) string { return filepath.Join(j.run.Out, name) }

// name is the run's name, or its directory's.
func (j *trainJob) name() string {
	if j.run.Name != "" {
		return j.run.Name
	}
	return filepath.Base(j.run.Out)
}

func (j *trainJob) emit(ev TrainEvent) {
	if j.opts.Progress != nil {
		ev.Steps = j.run.Train.Steps
		j.opts.Progress(ev)
	}
}

func (j *trainJob) train(ctx context.Context) (*TrainResult, error) {
	if err := os.MkdirAll(j.run.Out, 0o755); err != nil {
		return nil, err
	}
	j.start = time.Now()
	for _, h := range j.header {
		j.emit(TrainEvent{Kind: "header", Note: h})
	}
	for _, n := range j.notes {
		j.emit(TrainEvent{Kind: "note", Note: n})
	}
	// One run at a time in a directory: a second would sweep away the
	// first's checkpoints.
	lock, err := runlock.Acquire(j.run.Out)
	if err != nil {
		return nil, fmt.Errorf("train: %w; wait for that run or use another --out", err)
	}
	defer lock.Release()
	if lock.StalePID != 0 {
		slog.Info("a run in this directory ended without releasing it (killed?); taking it over", "dir", j.run.Out, "pid", lock.StalePID)
	}
	if err := j.prepareDir(); err != nil {
		return nil, err
	}
	// The device gets the weights and optimiser state after a resume has
	// loaded them; from here on the host copies are synced before every
	// evaluation and checkpoint.
	if err := j.useDevice(); err != nil {
		return nil, err
	}
	defer j.closeDevice()
	steps := j.run.Train.Steps
	// An evaluation that an interruption cut short is made now.
	if err := j.evalIfDue(ctx); err != nil {
		return nil, j.interrupted(err)
	}
	for j.tr.Step < steps {
		if err := ctx.Err(); err != nil {
			return nil, j.interrupted(err)
		}
		t0 := time.Now()
		res, err := j.tr.TrainStep()
		if err != nil {
			return nil, fmt.Errorf("train %s: %w (nothing saved; last.safetensors, if any, is from an earlier step)", j.name(), err)
		}
		j.trainSec += time.Since(t0).Seconds()
		j.sumLoss += res.Loss
		j.sumNorm += res.GradNorm
		j.nLog++
		step := j.tr.Step
		if le := j.run.Train.LogEvery; (le > 0 && step%le == 0) || step == steps {
			if err := j.logMetrics(res.LR); err != nil {
				return nil, err
			}
		}
		j.emit(TrainEvent{Kind: "step", Step: step, Loss: res.Loss, GradNorm: res.GradNorm, LR: res.LR})
		j.estimateTime(step, steps)
		if err := j.evalIfDue(ctx); err != nil {
			return nil, j.interrupted(err)
		}
		if ce := j.run.Train.CheckpointEvery; ce > 0 && step%ce == 0 && step < steps {
			if err := j.saveLast(); err != nil {
				return nil, err
			}
		}
	}
	if err := j.saveLast(); err != nil {
		return nil, err
	}
	return j.finish(ctx)
}

// useDevice moves the gradient steps to the device TrainOptions names.
func (j *trainJob) useDevice() error {
	dev, err := cuda.ParseDevice(j.opts.Device)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if dev == "cpu" {
		return nil
	}
	d, err := cuda.Open()
	if err != nil {
		return fmt.Errorf("train --device cuda: %w", err)
	}
	if err := j.tr.UseDevice(d); err != nil {
		return errors.Join(fmt.Errorf("train --device cuda: %w", err), d.Close())
	}
	j.dev = d
	return nil
}

// closeDevice frees the device (the host model is synced first).
func (j *trainJob) closeDevice() {
	if j.dev == nil {
		return
	}
	if err := errors.Join(j.tr.Close(), j.dev.Close()); err != nil {
		slog.Warn("closing the GPU", "err", err)
	}
	j.dev = nil
}

// estimateAfter is how much of a session is timed before the run says how
// long the rest will take (a variable for the tests).
var estimateAfter = 5 * time.Second

// estimateTime says, once a session, how long the remaining steps will
// take at the rate measured so far, when that is more than a minute.
func (j *trainJob) estimateTime(step, steps int) {
	if j.estimated {
		return
	}
	sessionSteps, sessionSec := step-j.resumedFrom, time.Since(j.start).Seconds()
	if sessionSec < estimateAfter.Seconds() || sessionSteps < 1 {
		return
	}
	j.estimated = true
	rate := float64(sessionSteps) / sessionSec // evaluations so far included
	left := time.Duration(float64(steps-step) / rate * float64(time.Second))
	if left < time.Minute {
		return
	}
	j.emit(TrainEvent{Kind: "note", Note: fmt.Sprintf("about %s left for the remaining %d steps at %.1f steps/s (evaluations included so far); Ctrl-C stops and the same command resumes",
		roughDuration(left), steps-step, rate)})
}

// roughDuration writes d as "7 min" or "3 h 20 min".
func roughDuration(d time.Duration) string {
	m := int(d.Round(time.Minute).Minutes())
	if m < 60 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}

// interrupted saves the last checkpoint when ctx ended the run, and
// returns err explained.
func (j *trainJob) interrupted(err error) error {
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if serr := j.saveLast(); serr != nil {
		return errors.Join(err, serr)
	}
	return fmt.Errorf("train %s interrupted at step %d of %d; saved %s (run the same command again to resume): %w",
		j.name(), j.tr.Step, j.run.Train.Steps, j.path(FileLast), err)
}

// evalIfDue evaluates when the current step is an evaluation step that
// has not been evaluated.
func (j *trainJob) evalIfDue(ctx context.Context) error {
	step, steps, every := j.tr.Step, j.run.Train.Steps, j.run.Train.EvalEvery
	if step == 0 || step <= j.lastEval || !((every > 0 && step%every == 0) || step == steps) {
		return nil
	}
	if err := j.tr.SyncHost(); err != nil {
		return err
	}
	reps, err := evaluateModel(ctx, j.model, j.norm, j.bounds, j.run.Env, &j.refs, j.run.Eval.Targets, j.run.Eval.Episodes, j.run.Eval.Seed)
	j.model.SetTrain(true) // the actors left it in evaluation mode
	if err != nil {
		return err
	}
	pt := evalPoint(step, j.kind, j.run.Eval.Episodes, reps)
	j.lastEval, j.final = step, reps
	j.evals = append(j.evals, pt)
	isBest := j.best == nil || pt.Score > j.best.Score
	if isBest {
		b := pt
		j.best = &b
		if err := j.saveCheckpoint(FileBest, "best", false); err != nil {
			return err
		}
	}
	if err := appendJSONL(j.path(FileEvals), pt); err != nil {
		return err
	}
	if step < j.run.Train.Steps { // the end of the run plots anyway
		if err := j.plots(); err != nil {
			return err
		}
	}
	j.emit(TrainEvent{Kind: "eval", Step: step, Eval: &pt, Best: isBest})
	return nil
}

// evaluateModel plays the model's actor once per target (once for an
// MLP, with Target 0), every target on the same episode seeds, its actions
// mapped to the bounds when given, scored by refs (nil: the environment's).
func evaluateModel(ctx context.Context, m policy.Model, norm policy.Normalizer, bounds *policy.ActionBounds, env string, refs *eval.References, targets []float64, episodes int, seed uint64) ([]eval.Report, error) {
	cfg := eval.Config{Env: env, Episodes: episodes, Seed: seed, References: refs}
	_, isMLP := m.(*policy.MLP)
	if isMLP {
		targets = []float64{0} // not conditioned on a return
	} else if len(targets) == 0 {
		return nil, errors.New("evaluate: a decision model needs at least one target return")
	}
	var reps []eval.Report
	for _, tg := range targets {
		a, err := policy.ActorOf(m, norm, bounds, tg)
		if err != nil {
			return nil, err
		}
		rep, err := eval.Evaluate(ctx, a, cfg)
		if err != nil && !isMLP {
			err = fmt.Errorf("target %g: %w", tg, err)
		}
		if err != nil {
			return nil, err
		}
		rep.Target = tg
		reps = append(reps, rep)
	}
	return reps, nil
}

// evalPoint summarises reports; Score follows BestRule.
func evalPoint(step int, kind string, episodes int, reps []eval.Report) EvalPoint {
	pt := EvalPoint{Step: step, ScoreKind: kind, Episodes: episodes}
	for _, r := range reps {
		pt.Targets = append(pt.Targets, TargetScore{Target: r.Target, MeanReturn: r.MeanReturn, StdReturn: r.StdReturn,
			MeanNormalized: r.MeanNormalized, StdNormalized: r.StdNormalized, MeanLength: r.MeanLength})
		if kind == ScoreNormalized {
			pt.Score += r.MeanNormalized
		} else {
			pt.Score += r.MeanReturn
		}
	}
	pt.Score /= float64(len(reps))
	return pt
}

func (j *trainJob) wall() float64 { return j.prevWall + time.Since(j.start).Seconds() }

func (j *trainJob) logMetrics(lr float64) error {
	rec := MetricRecord{Step: j.tr.Step, Loss: j.sumLoss / float64(j.nLog), GradNorm: j.sumNorm / float64(j.nLog), LR: lr, Elapsed: j.wall()}
	j.sumLoss, j.sumNorm, j.nLog = 0, 0, 0
	j.metrics = append(j.metrics, rec)
	if err := appendJSONL(j.path(FileMetrics), rec); err != nil {
		return err
	}
	return appendFile(j.path(FileMetricsCSV), []byte(metricCSVRow(rec)))
}

func metricCSVRow(r MetricRecord) string {
	return strings.Join([]string{strconv.Itoa(r.Step), fmtF(r.Loss), fmtF(r.GradNorm), fmtF(r.LR), fmtF(r.Elapsed)}, ",") + "\n"
}

const metricCSVHeader = "step,loss,grad_norm,lr,elapsed_s\n"

func (j *trainJob) finish(ctx context.Context) (*TrainResult, error) {
	steps := j.run.Train.Steps
	if err := j.tr.SyncHost(); err != nil {
		return nil, err
	}
	if j.final == nil || j.lastEval != steps {
		// A resumed, already finished run: its last evaluation again (the
		// same numbers: evaluation is deterministic).
		reps, err := evaluateModel(ctx, j.model, j.norm, j.bounds, j.run.Env, &j.refs, j.run.Eval.Targets, j.run.Eval.Episodes, j.run.Eval.Seed)
		if err != nil {
			return nil, err
		}
		j.final = reps
	}
	if err := eval.WriteFiles(j.run.Out, PrefixFinal, j.final); err != nil {
		return nil, err
	}
	if err := j.plots(); err != nil {
		return nil, err
	}
	res := &TrainResult{Name: j.run.Name, Dir: j.run.Out, Env: j.run.Env, Dataset: j.dsPath, Config: j.run.Tree(),
		Command: j.opts.Command, Steps: j.tr.Step, ResumedFrom: j.resumedFrom, BestRule: BestRule,
		Last: evalPoint(steps, j.kind, j.run.Eval.Episodes, j.final), DatasetSHA256: j.dsSHA, References: j.refs, DatasetReturn: j.dataReturn, WallSeconds: j.wall(), TrainSeconds: j.trainSec,
		Final: j.final, Files: map[string]string{}, Device: j.tr.Device()}
	if j.best != nil {
		res.Best = *j.best
	}
	res.DatasetScore = j.refs.Score(j.dataReturn)
	if j.trainSec > 0 {
		res.StepsPerSecond = float64(j.tr.Step) / j.trainSec
	}
	for role, f := range map[string]string{"last": FileLast, "best": FileBest, "metrics": FileMetrics,
		"metrics_csv": FileMetricsCSV, "evals": FileEvals, "loss_plot": FileLossPlot, "eval_plot": FileEvalPlot,
		"eval_final_csv": PrefixFinal + ".csv", "eval_final_json": PrefixFinal + ".json", "summary": FileSummary} {
		res.Files[role] = j.path(f)
	}
	err := writeFileAtomic(j.path(FileSummary), func(w io.Writer) (int64, error) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// actionBoundsOf returns the bounds of a bounded Box that is not [−1, 1] in
// every dimension, else nil (the policy's actions are then the env's).
func actionBoundsOf(s envs.Space) *policy.ActionBounds {
	b, ok := s.(envs.Box)
	if !ok || !b.Bounded() {
		return nil
	}
	unit := true
	for i := range b.Low {
		unit = unit && b.Low[i] == -1 && b.High[i] == 1
	}
	if unit {
		return nil
	}
	return &policy.ActionBounds{Low: slices.Clone(b.Low), High: slices.Clone(b.High)}
}
