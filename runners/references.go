package runners

import (
	"fmt"
	"math"
	"strconv"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/eval"
)

// Dataset metadata keys (metadata/* of the HDF5 file) that collect writes:
// the reference returns measured when the data were made.
const (
	MetaRandomReturn = "random_return"
	MetaExpertReturn = "expert_return"
	// MetaExpertActions says how the expert reference was measured: "mean"
	// (the mean action, as agents are evaluated). Files without it were
	// measured with sampled actions (the behaviour policy).
	MetaExpertActions = "expert_actions"
	// MetaExpertSampled is the expert behaviour policy's own mean return
	// (sampled actions), the level of the expert data.
	MetaExpertSampled = "expert_return_sampled"
)

// DatasetReferences returns the reference returns that normalise scores of
// runs on d in env: those stored in the file's metadata when it has them
// (and was made in env), else the environment's registered ones. The
// warnings say when the two disagree, or when stored ones cannot be used.
func DatasetReferences(d *dataset.Dataset, where string, spec envs.Spec) (eval.References, []string) {
	reg := eval.Of(spec)
	x := d.Meta.Extra
	rs, es := x[MetaRandomReturn], x[MetaExpertReturn]
	if rs == "" && es == "" {
		return reg, nil
	}
	if d.Meta.EnvID != "" && d.Meta.EnvID != spec.ID {
		return reg, []string{fmt.Sprintf("dataset %s was made in %s, not %s: its reference returns are not used; scores use %s's registered ones", where, d.Meta.EnvID, spec.ID, spec.ID)}
	}
	r, err1 := strconv.ParseFloat(rs, 64)
	e, err2 := strconv.ParseFloat(es, 64)
	stored := eval.References{Random: r, Expert: e, Source: "the dataset's metadata (" + where + "; expert with " + expertActions(x) + " actions)"}
	if err1 != nil || err2 != nil || !stored.Valid() {
		return reg, []string{fmt.Sprintf("dataset %s: metadata random_return %q, expert_return %q are not two distinct finite numbers: scores use %s's registered references", where, rs, es, spec.ID)}
	}
	var warn []string
	if reg.Valid() && (!close9(reg.Random, r) || !close9(reg.Expert, e)) {
		warn = append(warn, fmt.Sprintf("dataset %s stores reference returns random %.1f, expert %.1f; the registry has %.1f, %.1f for %s (%s): scores use the dataset's, so they are not comparable with scores normalised by the registry's",
			where, r, e, reg.Random, reg.Expert, spec.ID, reg.Source))
	}
	return stored, warn
}

// expertActions says how a file's expert reference was measured.
func expertActions(extra map[string]string) string {
	if a := extra[MetaExpertActions]; a != "" {
		return a
	}
	return "sampled"
}

// close9 compares reference returns to a relative 1e-9 (they are written
// with %v, which round-trips, but a file may come from elsewhere).
func close9(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
