package policy

import "fmt"

// NewActor builds the actor of a loaded checkpoint, in the env's action
// units: a decision model conditioned on target (its own context mode), or
// the BC MLP (target ignored).
func NewActor(ck *Checkpoint, target float64) (Policy, error) {
	return ActorOf(ck.Model, ck.Norm, ck.Bounds, target)
}

// ActorOf builds model m's actor, its states normalised by norm and its
// actions mapped to bounds (nil: left in [-1, 1]): a decision model
// conditioned on target in its own context mode, or the BC MLP (target
// ignored).
func ActorOf(m Model, norm Normalizer, bounds *ActionBounds, target float64) (Policy, error) {
	var p Policy
	var err error
	switch m := m.(type) {
	case *Decision:
		p, err = NewDecisionActor(m, norm, target, m.Config().Context)
	case *MLP:
		p, err = NewMLPActor(m, norm)
	default:
		err = fmt.Errorf("policy: no actor for a %T", m)
	}
	if err != nil {
		return nil, err
	}
	return bounds.Bounded(p), nil
}
