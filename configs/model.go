package configs

import (
	"errors"
	"fmt"
	"slices"

	"github.com/minrl/minrl/policy"
)

// Decision returns the run's Decision model config for a task with the
// given state and action sizes (model.kind mingru, minlstm or dt).
func (r Run) Decision(obsDim, actDim int) policy.Config {
	m := r.Model
	return policy.Config{Model: m.Kind, ObsDim: obsDim, ActDim: actDim, Embed: m.Embed,
		Layers: m.Layers, Heads: m.Heads, Dropout: m.Dropout, Act: m.Activation, Expansion: m.Expansion,
		Conv: m.Conv, ConvKernel: m.ConvKernel, MaxEpLen: m.MaxEpLen, K: m.K, RTGScale: r.Eval.RTGScale,
		Context: m.Context, NoRTG: m.NoRTG}
}

// MLP returns the run's MLP config (model.kind bc).
func (r Run) MLP(obsDim, actDim int) policy.MLPConfig {
	m := r.Model
	return policy.MLPConfig{ObsDim: obsDim, ActDim: actDim, Hidden: slices.Clone(m.Hidden),
		Act: m.Activation, Dropout: m.Dropout}
}

// modelKeys maps policy's config fields to the run config's keys.
var modelKeys = map[string]string{
	"Model": "model.kind", "Embed": "model.embed", "Layers": "model.layers", "Heads": "model.heads",
	"Dropout": "model.dropout", "Act": "model.activation", "Expansion": "model.expansion",
	"Conv": "model.conv", "ConvKernel": "model.conv_kernel", "MaxEpLen": "model.max_ep_len",
	"K": "model.k", "RTGScale": "eval.rtg_scale", "Context": "model.context", "Hidden": "model.hidden", "NoRTG": "model.no_rtg",
}

// modelErrors validates the run's model through policy's Validate (the
// state and action sizes come from the environment later; 1 stands in)
// and names each bad field by its config key.
func modelErrors(r Run) []error {
	var err error
	if r.Model.Kind == policy.ModelBC {
		err = r.MLP(1, 1).Validate()
	} else {
		err = r.Decision(1, 1).Validate()
	}
	var out []error
	for _, e := range leaves(err) {
		var fe *policy.FieldError
		if errors.As(e, &fe) {
			if key, ok := modelKeys[fe.Field]; ok {
				out = append(out, fmt.Errorf("%s: %v, %s", key, fe.Value, fe.Why))
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// leaves flattens joined and wrapped errors into the errors they join.
func leaves(err error) []error {
	for err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, leaves(e)...)
			}
			return out
		}
		next := errors.Unwrap(err)
		if _, ok := err.(*policy.FieldError); ok || next == nil {
			return []error{err}
		}
		err = next
	}
	return nil
}
