// Package decision trains decision-style sequence policies (Decision
// Transformer, Decision-minGRU, Decision-minLSTM) and behaviour cloning on
// offline data: sample a batch of context windows (or whole episodes), run
// the model, take the masked MSE between predicted and dataset actions,
// back-propagate, clip the global gradient norm, and step AdamW on a
// warm-up schedule (Chen et al. 2021's recipe). The same trainer trains
// the BC MLP on the same batches.
package decision

import (
	"errors"
	"fmt"
	"math"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// Config holds the optimisation settings (Decision Transformer defaults
// where not noted).
type Config struct {
	Steps       int     // gradient steps (100k)
	Batch       int     // sequences per batch (64)
	LR          float64 // peak learning rate (1e-4 DT, 1e-3 Decision Mamba)
	WeightDecay float64 // AdamW decoupled decay (1e-4), not on biases, norms and embeddings
	Warmup      int     // linear warm-up steps (10k)
	Schedule    string  // "constant" (DT) or "cosine" after the warm-up
	GradClip    float64 // global gradient-norm clip (0.25)
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	if c.Steps < 1 {
		errs = append(errs, fmt.Errorf("steps %d < 1", c.Steps))
	}
	if c.Batch < 1 {
		errs = append(errs, fmt.Errorf("batch %d < 1", c.Batch))
	}
	// Every float is checked finite here: nn.NewAdamW panics on a
	// non-finite weight decay, and New should return an error instead.
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		errs = append(errs, fmt.Errorf("lr %g, want finite and > 0", c.LR))
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		errs = append(errs, fmt.Errorf("weight decay %g, want finite and >= 0", c.WeightDecay))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup %d < 0", c.Warmup))
	}
	if c.Schedule != "constant" && c.Schedule != "cosine" {
		errs = append(errs, fmt.Errorf("schedule %q, want constant or cosine", c.Schedule))
	}
	if !(c.GradClip > 0) || math.IsInf(c.GradClip, 0) {
		errs = append(errs, fmt.Errorf("grad clip %g, want finite and > 0", c.GradClip))
	}
	return errors.Join(errs...)
}

// Sampler fills training batches (dataset.WindowSampler or
// dataset.EpisodeSampler).
type Sampler interface {
	Sample(b *dataset.Batch, B int)
}

// Trainer runs gradient steps.
type Trainer struct {
	Cfg     Config
	Model   policy.Model
	Opt     *nn.AdamW
	Sched   nn.Schedule
	Sampler Sampler
	// Step counts the gradient steps taken.
	Step int

	batch  dataset.Batch
	dPred  nn.Tensor
	params []*nn.Param
	dev    *onDevice // nil: the steps run on the CPU
}

// ErrDiverged reports a non-finite loss or gradient: training cannot go on.
var ErrDiverged = errors.New("training diverged")

// New returns a trainer at step 0.
func New(m policy.Model, s Sampler, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("decision trainer: %w", err)
	}
	var sched nn.Schedule
	var err error
	if cfg.Schedule == "cosine" {
		sched, err = nn.WarmupCosine(cfg.LR, cfg.Warmup, max(cfg.Steps, cfg.Warmup), cfg.LR/10)
	} else {
		sched, err = nn.LinearWarmup(cfg.LR, cfg.Warmup)
	}
	if err != nil {
		return nil, err
	}
	params := m.Params()
	opt := nn.NewAdamW(params, nn.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay})
	return &Trainer{Cfg: cfg, Model: m, Opt: opt, Sched: sched, Sampler: s, params: params}, nil
}

// StepResult reports one gradient step.
type StepResult struct {
	Loss     float64 // masked MSE before the update
	GradNorm float64 // global norm before clipping
	LR       float64
}

// TrainStep samples a batch and takes one gradient step. A non-finite loss
// or gradient returns ErrDiverged and leaves the weights unchanged.
func (t *Trainer) TrainStep() (StepResult, error) {
	if t.dev != nil {
		return t.deviceStep()
	}
	t.Model.SetTrain(true)
	t.Sampler.Sample(&t.batch, t.Cfg.Batch)
	pred := t.Model.Forward(&t.batch)
	loss := policy.MaskedMSE(pred, &t.batch, &t.dPred)
	nn.ZeroGrads(t.Model)
	t.Model.Backward(&t.dPred)
	norm := nn.ClipGradNorm(t.params, t.Cfg.GradClip)
	res, err := t.result(loss, norm)
	if err != nil {
		return res, err
	}
	t.Opt.Step(res.LR)
	t.Step++
	return res, nil
}

// result is the step's report, or ErrDiverged for a non-finite loss or
// gradient (then no update may be applied).
func (t *Trainer) result(loss, norm float64) (StepResult, error) {
	res := StepResult{Loss: loss, GradNorm: norm, LR: t.Sched.LR(t.Step)}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return res, fmt.Errorf("%w at step %d: loss %g, gradient norm %g", ErrDiverged, t.Step, loss, norm)
	}
	return res, nil
}

// Resume sets the trainer to continue from a saved step: the optimiser
// state must already be loaded; this restores the step counter and every
// dropout's call counter, so later masks match an uninterrupted run. The
// sampler's generator is restored by the caller.
func (t *Trainer) Resume(step int) {
	t.Step = step
	if d, ok := t.Model.(policy.DropoutResumer); ok {
		d.SetDropoutCalls(uint64(step))
	}
}
