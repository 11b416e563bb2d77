//go:build manual

package ppo

import (
	"context"
	"os"
	"strconv"
	"testing"

	_ "github.com/minrl/minrl/envs/all"
)

func TestManualTrain(t *testing.T) {
	cfg := DefaultConfig(os.Getenv("ENV"))
	if s := os.Getenv("STEPS"); s != "" {
		cfg.TotalSteps, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("GAMMA"); s != "" {
		cfg.Gamma, _ = strconv.ParseFloat(s, 64)
	}
	_, hist, err := Train(context.Background(), cfg, func(a *Agent, u Update, r *Rollout) error {
		if (u.Step/(cfg.NumEnvs*cfg.NumSteps))%10 == 0 {
			t.Logf("step %7d return %8.1f (%d eps) pl %.3f vl %.3f kl %.4f ev %.2f sps %.0f", u.Step, u.EpisodeReturn, u.Episodes, u.PolicyLoss, u.ValueLoss, u.ApproxKL, u.ExplainedVar, u.StepsPerSec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final return %.1f", hist[len(hist)-1].EpisodeReturn)
}
