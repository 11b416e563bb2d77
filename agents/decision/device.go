package decision

import (
	"errors"
	"fmt"
	"math"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/policy"
)

// onDevice is the state of a trainer whose steps run on a CUDA device.
type onDevice struct {
	c       *cuda.Ctx
	model   *policy.DecisionGPU
	optStep int  // AdamW steps taken (the host optimiser's count is stale)
	stale   bool // the host weights and moments lag the device's
}

// UseDevice moves the training step onto dev: the model's weights and the
// optimiser's moments are copied there (call it after a resume has loaded
// them), and every later TrainStep runs there. Call SyncHost before reading
// the model or the optimiser (to evaluate, to save a checkpoint), and Close
// when done. Only the Decision-minGRU/minLSTM models have device kernels.
func (t *Trainer) UseDevice(dev cuda.Device) error {
	m, ok := t.Model.(*policy.Decision)
	if !ok {
		return fmt.Errorf("decision trainer: %T has no GPU path: train it on the CPU", t.Model)
	}
	c := cuda.NewCtx(dev)
	g, err := policy.NewDecisionGPU(m, c)
	if err != nil {
		return errors.Join(err, c.Close())
	}
	c.UploadMoments(g.Params(), t.Opt)
	if err := c.Sync(); err != nil {
		return errors.Join(err, c.Close())
	}
	t.dev = &onDevice{c: c, model: g, optStep: t.Opt.StepCount()}
	return nil
}

// Device names the device the steps run on ("cpu" without UseDevice).
func (t *Trainer) Device() string {
	if t.dev == nil {
		return "cpu"
	}
	return t.dev.c.Dev.Name()
}

// SyncHost copies the device's weights and optimiser state into the host
// model and optimiser (nothing to do on the CPU).
func (t *Trainer) SyncHost() error {
	if t.dev == nil || !t.dev.stale {
		return nil
	}
	c := t.dev.c
	c.DownloadValues(t.dev.model.Params())
	c.DownloadMoments(t.dev.model.Params(), t.Opt, t.dev.optStep)
	if err := c.Sync(); err != nil {
		return fmt.Errorf("decision trainer: copying the model from the GPU: %w", err)
	}
	t.dev.stale = false
	return nil
}

// Close frees the device memory (the host model is synced first).
func (t *Trainer) Close() error {
	if t.dev == nil {
		return nil
	}
	err := errors.Join(t.SyncHost(), t.dev.c.Close())
	t.dev = nil
	return err
}

// deviceStep is TrainStep on the device: the same sampling, loss, clipping,
// schedule and AdamW arithmetic as the CPU path.
func (t *Trainer) deviceStep() (StepResult, error) {
	d := t.dev
	c, g := d.c, d.model
	p := g.Params()
	t.Model.SetTrain(true)
	t.Sampler.Sample(&t.batch, t.Cfg.Batch)
	g.Forward(&t.batch)
	loss, dPred, err := g.Loss(&t.batch)
	if err != nil {
		return StepResult{}, err
	}
	c.ZeroBuf(p.G)
	g.Backward(dPred)
	norm := math.Sqrt(c.SumSquares(p.G))
	if err := c.Sync(); err != nil {
		return StepResult{}, err
	}
	res, err := t.result(loss, norm)
	if err != nil {
		return res, err
	}
	d.optStep++
	c.AdamWStep(p, t.Opt.Config(), d.optStep, res.LR, nn.ClipScale(norm, t.Cfg.GradClip))
	d.stale = true
	t.Step++
	return res, c.Err()
}
