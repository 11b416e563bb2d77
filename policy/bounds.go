package policy

import (
	"fmt"
	"math"
)

// ActionBounds are the bounds of an environment's actions when they are
// not [−1, 1]. Policies act in [−1, 1] (a tanh head, as the Decision
// Transformer's for D4RL's actions); for an env such as Pendulum, whose
// torque lies in [−2, 2], training maps the dataset's actions into [−1, 1]
// (ToUnit) and the actor maps its actions back (FromUnit). A checkpoint
// stores them in its Info so that every user acts in the env's units.
type ActionBounds struct {
	Low  []float64 `json:"low"`
	High []float64 `json:"high"`
}

// Check verifies the bounds against an action size: finite, Low < High.
func (b *ActionBounds) Check(actDim int) error {
	if b == nil {
		return nil
	}
	if len(b.Low) != actDim || len(b.High) != actDim {
		return fmt.Errorf("action bounds for %d and %d dimensions, the policy acts in %d", len(b.Low), len(b.High), actDim)
	}
	for i := range b.Low {
		if !(b.High[i] > b.Low[i]) || math.IsInf(b.Low[i], 0) || math.IsInf(b.High[i], 0) {
			return fmt.Errorf("action bounds [%g, %g] in dimension %d", b.Low[i], b.High[i], i)
		}
	}
	return nil
}

// ToUnit maps rows of actions from the bounds into [−1, 1] in place:
// u = 2(a − low)/(high − low) − 1, clipped.
func (b *ActionBounds) ToUnit(actions []float32) {
	d := len(b.Low)
	for i, a := range actions {
		lo, hi := b.Low[i%d], b.High[i%d]
		u := 2*(float64(a)-lo)/(hi-lo) - 1
		actions[i] = float32(max(-1, min(1, u)))
	}
}

// Outside counts the action values beyond the bounds (by more than a
// millionth of the range, float rounding) and returns the first one's
// index.
func (b *ActionBounds) Outside(actions []float32) (n, first int) {
	d := len(b.Low)
	first = -1
	for i, a := range actions {
		lo, hi := b.Low[i%d], b.High[i%d]
		tol := 1e-6 * (hi - lo)
		if float64(a) < lo-tol || float64(a) > hi+tol {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// FromUnit maps rows of actions from [−1, 1] to the bounds in place:
// a = low + (u + 1)(high − low)/2.
func (b *ActionBounds) FromUnit(actions []float64) {
	d := len(b.Low)
	for i, u := range actions {
		lo, hi := b.Low[i%d], b.High[i%d]
		actions[i] = lo + (u+1)*(hi-lo)/2
	}
}

// Bounded returns p acting in the bounds' units (p itself for nil bounds).
func (b *ActionBounds) Bounded(p Policy) Policy {
	if b == nil {
		return p
	}
	return boundedPolicy{p, b}
}

type boundedPolicy struct {
	Policy
	b *ActionBounds
}

// Act implements Policy.
func (p boundedPolicy) Act(obs, rewards, actions []float64) error {
	if err := p.Policy.Act(obs, rewards, actions); err != nil {
		return err
	}
	p.b.FromUnit(actions)
	return nil
}
