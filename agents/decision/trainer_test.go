package decision

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minrl/minrl/policy"
)

func TestNewRejectsNonFiniteSettings(t *testing.T) {
	m, err := policy.NewMLP(policy.DefaultMLPConfig(3, 1), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	good := Config{Steps: 10, Batch: 2, LR: 1e-3, WeightDecay: 1e-4, Schedule: "cosine", GradClip: 0.25}
	if _, err := New(m, nil, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		want string
		set  func(*Config)
	}{
		{"weight decay", func(c *Config) { c.WeightDecay = math.Inf(1) }},
		{"grad clip", func(c *Config) { c.GradClip = math.Inf(1) }},
		{"lr", func(c *Config) { c.LR = math.Inf(1) }},
		{"lr", func(c *Config) { c.LR = math.NaN() }},
	} {
		c := good
		tc.set(&c)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: New panicked: %v", tc.want, p)
				}
			}()
			if _, err := New(m, nil, c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: error %v, want it to name %s", c, err, tc.want)
			}
		}()
	}
}
