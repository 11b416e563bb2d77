package selcopy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
)

// Config is one training run.
type Config struct {
	Task  Task
	Model ModelConfig
	// Batch is the training batch size; Steps the optimiser steps.
	Batch, Steps int
	// LR is AdamW's constant learning rate, WeightDecay its decoupled decay
	// (not applied to the recurrent input projections, embeddings, norms
	// and biases), Clip the global gradient-norm bound (0: none).
	LR, WeightDecay, Clip float64
	// EvalEvery is the number of steps between validation passes; EvalSize
	// the number of examples in each fixed set (validation and test).
	EvalEvery, EvalSize int
	// EvalBatch is the batch size of the validation and test passes.
	EvalBatch int
	Seed      uint64
	// MaxSeconds stops training early after this much wall time (0: never);
	// the checkpoint is still the best one validated. Runs that stop on time
	// are not reproducible step for step; Result says where they stopped.
	MaxSeconds float64
}

// DefaultConfig is a setting that a CPU can train at L = 256 in minutes.
func DefaultConfig() Config {
	return Config{
		Task:  Task{SeqLen: 256, Tokens: 16},
		Model: ModelConfig{Kind: ModelMinGRU, Layers: 3, Dim: 64, Expansion: 2},
		Batch: 32, Steps: 2000,
		LR: 3e-3, WeightDecay: 0.01, Clip: 1,
		EvalEvery: 100, EvalSize: 512, EvalBatch: 128,
		Seed: 1,
	}
}

// Validate reports an unusable configuration.
func (c Config) Validate() error {
	if err := c.Task.Validate(); err != nil {
		return err
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	switch {
	case c.Batch < 1 || c.Batch > 1<<16:
		return fmt.Errorf("selective copying: batch %d, want 1 to 65536", c.Batch)
	case c.Steps < 1:
		return fmt.Errorf("selective copying: %d steps, want at least 1", c.Steps)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("selective copying: learning rate %v, want finite and > 0", c.LR)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("selective copying: weight decay %v, want finite and >= 0", c.WeightDecay)
	case !(c.Clip >= 0) || math.IsInf(c.Clip, 0):
		return fmt.Errorf("selective copying: clip %v, want finite and >= 0 (0: none)", c.Clip)
	case c.EvalEvery < 1:
		return fmt.Errorf("selective copying: eval every %d steps, want at least 1", c.EvalEvery)
	case c.EvalSize < 1 || c.EvalBatch < 1:
		return fmt.Errorf("selective copying: eval size %d, eval batch %d, want both at least 1", c.EvalSize, c.EvalBatch)
	case !(c.MaxSeconds >= 0) || math.IsInf(c.MaxSeconds, 0):
		return fmt.Errorf("selective copying: max seconds %v, want finite and >= 0 (0: none)", c.MaxSeconds)
	}
	return nil
}

// Point is one validation pass: the training loss and accuracy averaged
// over the steps since the previous point, and the validation set's.
type Point struct {
	Step      int     `json:"step"`
	Seconds   float64 `json:"seconds"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_acc"`
}

// Result is a finished run: its learning curve and the test score of the
// checkpoint with the best validation accuracy (later steps win ties, as
// the official script's >=).
type Result struct {
	Config     Config  `json:"config"`
	Params     int     `json:"params"`
	Device     string  `json:"device,omitempty"` // "cpu" or the GPU's name
	Curve      []Point `json:"curve"`
	StepsDone  int     `json:"steps_done"`
	StoppedBy  string  `json:"stopped_by,omitempty"` // "time" or "interrupt" when short of Steps
	Seconds    float64 `json:"seconds"`
	StepMillis float64 `json:"step_ms"` // mean wall time of a training step (validation excluded)
	BestStep   int     `json:"best_step"`
	BestValAcc float64 `json:"best_val_acc"`
	TestLoss   float64 `json:"test_loss"`
	TestAcc    float64 `json:"test_acc"`
}

// Train runs cfg on the CPU. onPoint, if not nil, sees each validation
// point as it is made. A cancelled ctx stops training like MaxSeconds does:
// the result is that of the best checkpoint so far, with StoppedBy
// "interrupt".
func Train(ctx context.Context, cfg Config, onPoint func(Point)) (*Result, error) {
	return TrainOn(ctx, cfg, nil, onPoint)
}

// TrainOn is Train with the training steps and the evaluation passes on dev
// (a CUDA device; nil: the CPU). The run is the same function of cfg on
// either: the same weights at the start, batches, loss, clip and AdamW
// arithmetic; the two engines agree to float32 rounding, not bit for bit.
// Only minGRU and minLSTM run on a device. The device's evaluation batches
// are at most cfg.Batch examples (the sets are the same whatever the batch
// size), so that evaluation needs no more device memory than training.
func TrainOn(ctx context.Context, cfg Config, dev cuda.Device, onPoint func(Point)) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	model, err := NewModel(cfg.Model, nn.NewRNG(cfg.Seed))
	if err != nil {
		return nil, err
	}
	params := model.Params()
	adam := nn.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay}
	task := cfg.Task
	evalBatch := cfg.EvalBatch
	ev := &evaluator{model: model, task: task}
	res := &Result{Config: cfg, Params: nn.NumParams(model), Device: "cpu"}
	var opt *nn.AdamW
	var gpu *gpuTrainer
	if dev != nil {
		if gpu, err = newGPUTrainer(dev, model, adam); err != nil {
			return nil, err
		}
		defer gpu.close()
		ev.gpu = gpu.g
		evalBatch = min(evalBatch, cfg.Batch)
		res.Device = dev.Name()
	} else {
		opt = nn.NewAdamW(params, adam)
	}
	val := FixedSet(task, ValSeed, cfg.EvalSize, evalBatch)
	train := NewTrainSampler(task, cfg.Seed)

	best := make([][]float32, len(params))
	snapshot := func() error {
		if gpu != nil {
			if err := gpu.g.CopyWeightsToHost(); err != nil {
				return err
			}
		}
		for i, p := range params {
			best[i] = append(best[i][:0], p.Value.Data...)
		}
		return nil
	}
	start := time.Now()
	var trainTime time.Duration
	var sumLoss float64
	var sumCorrect, sumCount int
	point := func(step int) error {
		vl, va, err := ev.run(val)
		if err != nil {
			return fmt.Errorf("step %d: validation: %w", step, err)
		}
		p := Point{Step: step, Seconds: time.Since(start).Seconds(), ValLoss: vl, ValAcc: va, TrainLoss: math.NaN(), TrainAcc: math.NaN()}
		if sumCount > 0 {
			p.TrainLoss = sumLoss / float64(sumCount/task.Tokens)
			p.TrainAcc = float64(sumCorrect) / float64(sumCount)
		}
		sumLoss, sumCorrect, sumCount = 0, 0, 0
		res.Curve = append(res.Curve, p)
		if len(res.Curve) == 1 || va >= res.BestValAcc {
			res.BestStep, res.BestValAcc = step, va
			if err := snapshot(); err != nil {
				return fmt.Errorf("step %d: copying the weights from the GPU: %w", step, err)
			}
		}
		if onPoint != nil {
			onPoint(p)
		}
		return nil
	}
	if err := point(0); err != nil {
		return nil, err
	}
	var batch Batch
	var dlogits nn.Tensor
	T, K := task.Steps(), task.Tokens
	step := 0
	for step < cfg.Steps {
		if ctx.Err() != nil {
			res.StoppedBy = "interrupt"
			break
		}
		if cfg.MaxSeconds > 0 && time.Since(start).Seconds() >= cfg.MaxSeconds {
			res.StoppedBy = "time"
			break
		}
		t0 := time.Now()
		train.Sample(&batch, cfg.Batch)
		var loss float64
		var correct int
		if gpu != nil {
			if loss, correct, err = gpu.step(&batch, T, K, cfg.LR, cfg.Clip); err != nil {
				return nil, fmt.Errorf("step %d on the GPU: %w", step+1, err)
			}
		} else {
			logits := model.Forward(batch.X, cfg.Batch, T, K)
			dlogits.Resize(logits.Shape...)
			if loss, correct, err = CrossEntropy(dlogits.Data, logits.Data, batch.Y, Vocab); err != nil {
				return nil, fmt.Errorf("step %d: %w (training diverged; try a lower --lr)", step+1, err)
			}
			nn.ZeroGrads(model)
			model.Backward(&dlogits)
			if cfg.Clip > 0 {
				if n := nn.ClipGradNorm(params, cfg.Clip); math.IsNaN(n) || math.IsInf(n, 0) {
					return nil, fmt.Errorf("step %d: gradient norm %v (training diverged; try a lower --lr)", step+1, n)
				}
			}
			opt.Step(cfg.LR)
		}
		trainTime += time.Since(t0)
		step++
		sumLoss += loss * float64(cfg.Batch)
		sumCorrect += correct
		sumCount += cfg.Batch * K
		if step%cfg.EvalEvery == 0 || step == cfg.Steps {
			if err := point(step); err != nil {
				return nil, err
			}
		}
	}
	if last := res.Curve[len(res.Curve)-1]; last.Step != step {
		if err := point(step); err != nil {
			return nil, err
		}
	}
	res.StepsDone = step
	if step > 0 {
		res.StepMillis = 1000 * trainTime.Seconds() / float64(step)
	}
	for i, p := range params {
		copy(p.Value.Data, best[i])
	}
	if gpu != nil {
		if err := gpu.g.CopyWeightsToDevice(); err != nil {
			return nil, fmt.Errorf("test: copying the best weights to the GPU: %w", err)
		}
	}
	test := FixedSet(task, TestSeed, cfg.EvalSize, evalBatch)
	if res.TestLoss, res.TestAcc, err = ev.run(test); err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// evaluator scores a fixed set: mean loss per token and per-token accuracy.
type evaluator struct {
	model *Model
	gpu   *ModelGPU // when not nil, the forward passes run there
	task  Task
	d     []float32
}

func (e *evaluator) run(set []*Batch) (loss, acc float64, err error) {
	var n, correct int
	for _, b := range set {
		var logits []float32
		if e.gpu != nil {
			if logits, err = e.gpu.Forward(b.X, b.B, e.task.Steps(), e.task.Tokens); err != nil {
				return 0, 0, err
			}
		} else {
			logits = e.model.Forward(b.X, b.B, e.task.Steps(), e.task.Tokens).Data
		}
		e.d = slices.Grow(e.d[:0], len(logits))[:len(logits)]
		l, c, err := CrossEntropy(e.d, logits, b.Y, Vocab)
		if err != nil {
			return 0, 0, err
		}
		loss += l * float64(len(b.Y))
		correct += c
		n += len(b.Y)
	}
	if n == 0 {
		return 0, 0, errors.New("empty evaluation set")
	}
	return loss / float64(n), float64(correct) / float64(n), nil
}
