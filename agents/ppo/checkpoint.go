package ppo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/safefile"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/safetensors"
)

// maxFileBytes bounds the agent files Load reads (far above any agent).
const maxFileBytes = 8 << 30

// checkpointFormat names the layout of a PPO agent file.
const checkpointFormat = "minrl.ppo.v1"

// agentMeta is the metadata of a saved agent.
type agentMeta struct {
	Format  string  `json:"format"`
	Env     string  `json:"env"`
	ObsDim  int     `json:"obs_dim"`
	ActDim  int     `json:"act_dim"`
	Hidden  []int   `json:"hidden"`
	ObsClip float64 `json:"obs_clip"`
	Step    int     `json:"step"`
	Return  float64 `json:"return"` // NaN-free: the caller's measured return, if any
}

// Save writes the agent (networks, log-std, observation statistics) as a
// safetensors file, atomically. step and ret are recorded for the reader
// (ret may be NaN, stored as 0 with a flag).
func (a *Agent) Save(path, env string, step int, ret float64) error {
	tensors := []nn.NamedTensor{}
	for _, p := range a.Params() {
		tensors = append(tensors, nn.NamedTensor{Name: p.Name, Tensor: &p.Value})
	}
	meta := agentMeta{Format: checkpointFormat, Env: env, ObsDim: a.ObsDim, ActDim: a.ActDim,
		Hidden: a.hidden(), ObsClip: a.ObsClip, Step: step, Return: ret}
	if math.IsNaN(ret) || math.IsInf(ret, 0) {
		meta.Return = 0
	}
	if a.ObsStats != nil {
		mean, m2 := make([]float32, a.ObsDim), make([]float32, a.ObsDim)
		for i := range mean {
			mean[i], m2[i] = float32(a.ObsStats.Mean[i]), float32(a.ObsStats.Var(i))
		}
		tensors = append(tensors,
			nn.NamedTensor{Name: "obs_stats.mean", Tensor: nn.FromData(mean, a.ObsDim)},
			nn.NamedTensor{Name: "obs_stats.var", Tensor: nn.FromData(m2, a.ObsDim)},
			nn.NamedTensor{Name: "obs_stats.count", Tensor: nn.FromData([]float32{float32(a.ObsStats.Count)}, 1)})
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors, map[string]string{"minrl.ppo": string(js)}); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

func (a *Agent) hidden() []int {
	var h []int
	for _, l := range a.Actor.Layers[:len(a.Actor.Layers)-1] {
		h = append(h, l.Out)
	}
	return h
}

// LoadAgent reads an agent saved by Save; it returns the agent, the env id
// it was trained on and the step it was saved at.
func LoadAgent(path string) (*Agent, string, int, error) {
	raw, err := safefile.ReadFile(path, maxFileBytes)
	if err != nil {
		return nil, "", 0, err
	}
	tensors, meta, err := safetensors.Read(raw)
	if err != nil {
		return nil, "", 0, fmt.Errorf("ppo agent %s: %w", path, err)
	}
	var m agentMeta
	if err := json.Unmarshal([]byte(meta["minrl.ppo"]), &m); err != nil || m.Format != checkpointFormat {
		return nil, "", 0, fmt.Errorf("ppo agent %s: not a PPO agent file (metadata %q)", path, meta["minrl.ppo"])
	}
	if m.ObsDim < 1 || m.ActDim < 1 || len(m.Hidden) == 0 || m.ObsDim > 1<<16 || m.ActDim > 1<<16 {
		return nil, "", 0, fmt.Errorf("ppo agent %s: bad sizes %+v", path, m)
	}
	for _, h := range m.Hidden {
		if h < 1 || h > 1<<16 {
			return nil, "", 0, fmt.Errorf("ppo agent %s: bad hidden sizes %v", path, m.Hidden)
		}
	}
	byName := map[string]*nn.Tensor{}
	for _, t := range tensors {
		byName[t.Name] = t.Tensor
	}
	mean, vr, count := byName["obs_stats.mean"], byName["obs_stats.var"], byName["obs_stats.count"]
	// An agent trained without observation normalisation has no statistics.
	normObs := mean != nil || vr != nil || count != nil
	cfg := Config{Hidden: m.Hidden, ObsClip: m.ObsClip, NormObs: normObs}
	a := newAgent(cfg, m.ObsDim, m.ActDim, nn.NewRNG(0))
	for _, p := range a.Params() {
		t, ok := byName[p.Name]
		if !ok || t.Len() != p.Value.Len() {
			return nil, "", 0, fmt.Errorf("ppo agent %s: tensor %s missing or of the wrong size", path, p.Name)
		}
		copy(p.Value.Data, t.Data)
	}
	if !normObs {
		return a, m.Env, m.Step, nil
	}
	if mean == nil || vr == nil || count == nil || mean.Len() != m.ObsDim || vr.Len() != m.ObsDim || count.Len() != 1 {
		return nil, "", 0, fmt.Errorf("ppo agent %s: observation statistics incomplete or of the wrong size", path)
	}
	a.ObsStats = envs.NewRunningStats(m.ObsDim)
	a.ObsStats.Count = float64(count.Data[0])
	for i := range a.ObsStats.Mean {
		a.ObsStats.Mean[i] = float64(mean.Data[i])
		a.ObsStats.M2[i] = float64(vr.Data[i]) * a.ObsStats.Count
	}
	return a, m.Env, m.Step, nil
}
