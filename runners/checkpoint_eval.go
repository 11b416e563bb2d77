package runners

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/policy"
)

// Evaluation defaults for checkpoints that do not record their run's
// (base.yaml's eval.episodes and eval.seed).
const (
	DefaultEvalEpisodes = 10
	DefaultEvalSeed     = 1000
)

// CheckpointEvalOptions configure EvaluateCheckpoint. Zero values take the
// settings the checkpoint's training run evaluated with, so that a
// checkpoint re-evaluates to the numbers its run reported.
type CheckpointEvalOptions struct {
	// Targets are the target returns to condition on (nil: the
	// checkpoint's). An MLP (bc) checkpoint ignores them and is evaluated
	// once.
	Targets []float64
	// Episodes per target (0: the run's eval.episodes, else 10).
	Episodes int
	// Seed of the first episode (nil: the run's eval.seed, else 1000).
	Seed *uint64
	// Env overrides the checkpoint's environment id ("": the checkpoint's).
	Env string
}

// EvaluateCheckpoint loads a checkpoint (policy.Load), builds its actor
// for every target, and plays the episodes with Evaluate, exactly as Train
// evaluates: the same actors, action mapping (the checkpoint's Bounds), episode
// seeds and summaries, so a checkpoint of a run re-evaluates to the
// numbers the run reported.
func EvaluateCheckpoint(ctx context.Context, path string, opts CheckpointEvalOptions) ([]eval.Report, error) {
	ck, err := policy.Load(path)
	if err != nil {
		return nil, err
	}
	return EvaluateLoaded(ctx, ck, path, opts)
}

// storedReferences returns the references the checkpoint's run recorded
// (from its dataset file) when env is the run's; nil otherwise (the
// environment's registered ones apply).
func storedReferences(ck *policy.Checkpoint, env string) (*eval.References, error) {
	s := ck.Meta[metaReferences]
	if s == "" || env != ck.EnvID {
		return nil, nil
	}
	var r eval.References
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", metaReferences, err)
	}
	return &r, nil
}

// EvaluateLoaded is EvaluateCheckpoint of a checkpoint already loaded from
// path.
func EvaluateLoaded(ctx context.Context, ck *policy.Checkpoint, path string, opts CheckpointEvalOptions) ([]eval.Report, error) {
	env := opts.Env
	if env == "" {
		env = ck.EnvID
	}
	if env == "" {
		return nil, fmt.Errorf("%s records no environment id: give one", path)
	}
	episodes, seed := DefaultEvalEpisodes, uint64(DefaultEvalSeed)
	if s := ck.Meta[metaRunConfig]; s != "" {
		var cfg struct {
			Eval struct {
				Episodes int             `json:"episodes"`
				Seed     json.RawMessage `json:"seed"`
			} `json:"eval"`
		}
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return nil, fmt.Errorf("%s: metadata %s: %w", path, metaRunConfig, err)
		}
		if cfg.Eval.Episodes > 0 {
			episodes = cfg.Eval.Episodes
		}
		if len(cfg.Eval.Seed) > 0 {
			var err error
			if seed, err = strconv.ParseUint(string(cfg.Eval.Seed), 10, 64); err != nil {
				return nil, fmt.Errorf("%s: metadata %s: eval.seed %s: %w", path, metaRunConfig, cfg.Eval.Seed, err)
			}
		}
	}
	if opts.Episodes < 0 {
		return nil, fmt.Errorf("evaluate: %d episodes", opts.Episodes)
	}
	if opts.Episodes > 0 {
		episodes = opts.Episodes
	}
	// Episodes run side by side, each with its env and model state: a bound
	// keeps a typo (or an edited checkpoint) from an out-of-memory crash.
	if episodes > eval.MaxEpisodes {
		return nil, fmt.Errorf("evaluate: %d episodes per target, at most %d", episodes, eval.MaxEpisodes)
	}
	if opts.Seed != nil {
		seed = *opts.Seed
	}
	targets := ck.Targets
	if opts.Targets != nil {
		targets = opts.Targets
	}
	for _, t := range targets {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("evaluate: target return %g", t)
		}
	}
	if _, ok := ck.Model.(*policy.Decision); ok && len(targets) == 0 {
		return nil, fmt.Errorf("%s records no target returns: give at least one", path)
	}
	refs, err := storedReferences(ck, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evaluateModel(ctx, ck.Model, ck.Norm, ck.Bounds, env, refs, targets, episodes, seed)
}
