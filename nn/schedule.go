package nn

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each optimiser step. Steps count from
// 0 (the first Step call); a negative step is treated as 0.
type Schedule interface {
	LR(step int) float64
}

// checkLR rejects a base rate that is not positive and finite.
func checkLR(what string, lr float64) error {
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("nn: %s: learning rate %v, want positive and finite", what, lr)
	}
	return nil
}

type constantSchedule struct{ lr float64 }

// Constant returns a schedule that is lr at every step.
func Constant(lr float64) (Schedule, error) {
	if err := checkLR("Constant", lr); err != nil {
		return nil, err
	}
	return constantSchedule{lr}, nil
}

func (s constantSchedule) LR(int) float64 { return s.lr }
func (s constantSchedule) String() string { return fmt.Sprintf("constant(%g)", s.lr) }

type linearWarmup struct {
	base   float64
	warmup int
}

// LinearWarmup returns Decision Transformer's schedule:
// base·min((step+1)/warmupSteps, 1), reaching base at step warmupSteps−1.
// warmupSteps = 0 means no warmup.
func LinearWarmup(base float64, warmupSteps int) (Schedule, error) {
	if err := checkLR("LinearWarmup", base); err != nil {
		return nil, err
	}
	if warmupSteps < 0 {
		return nil, fmt.Errorf("nn: LinearWarmup: %d warmup steps, want >= 0", warmupSteps)
	}
	return linearWarmup{base, warmupSteps}, nil
}

// warmupFactor is min((step+1)/warmup, 1) for step >= 0.
func warmupFactor(step, warmup int) float64 {
	if step+1 >= warmup {
		return 1
	}
	return float64(step+1) / float64(warmup)
}

func (s linearWarmup) LR(step int) float64 { return s.base * warmupFactor(max(step, 0), s.warmup) }
func (s linearWarmup) String() string {
	return fmt.Sprintf("linear-warmup(%g, %d)", s.base, s.warmup)
}

type warmupCosine struct {
	base, min     float64
	warmup, total int
}

// WarmupCosine returns linear warmup as LinearWarmup for steps
// 0…warmupSteps−1, then cosine decay
//
//	minLR + ½(base − minLR)(1 + cos(π·(step − warmupSteps)/(totalSteps − warmupSteps)))
//
// from base at step warmupSteps to minLR at step totalSteps, and minLR
// after. It needs base > 0, 0 <= minLR <= base, 0 <= warmupSteps <=
// totalSteps and totalSteps > 0.
func WarmupCosine(base float64, warmupSteps, totalSteps int, minLR float64) (Schedule, error) {
	if err := checkLR("WarmupCosine", base); err != nil {
		return nil, err
	}
	switch {
	case !(minLR >= 0 && minLR <= base):
		return nil, fmt.Errorf("nn: WarmupCosine: minimum rate %v, want in [0, %v]", minLR, base)
	case warmupSteps < 0:
		return nil, fmt.Errorf("nn: WarmupCosine: %d warmup steps, want >= 0", warmupSteps)
	case totalSteps <= 0:
		return nil, fmt.Errorf("nn: WarmupCosine: %d total steps, want > 0", totalSteps)
	case totalSteps < warmupSteps:
		return nil, fmt.Errorf("nn: WarmupCosine: %d total steps < %d warmup steps", totalSteps, warmupSteps)
	}
	return warmupCosine{base, minLR, warmupSteps, totalSteps}, nil
}

func (s warmupCosine) LR(step int) float64 {
	step = max(step, 0)
	switch {
	case step < s.warmup:
		return s.base * warmupFactor(step, s.warmup)
	case step >= s.total:
		return s.min
	}
	progress := float64(step-s.warmup) / float64(s.total-s.warmup)
	return s.min + 0.5*(s.base-s.min)*(1+math.Cos(math.Pi*progress))
}

func (s warmupCosine) String() string {
	return fmt.Sprintf("warmup-cosine(%g, %d, %d, %g)", s.base, s.warmup, s.total, s.min)
}
