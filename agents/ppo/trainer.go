package ppo

import (
	"math"
	"math/rand/v2"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/nn"
)

// rolloutBuf holds one rollout for learning, [T, N] (time-major).
type rolloutBuf struct {
	Rollout
	obs      []float32 // normalised observations the policy saw, [T·N, obsDim]
	actions  []float32 // [T·N, actDim]
	logp     []float64 // log π_old(a|s)
	values   []float64 // V_old(s)
	rewards  []float64 // normalised rewards, truncations bootstrapped
	dones    []bool    // the transition ended an episode
	adv, ret []float64
	// Raw observation after the last step of the rollout.
	nextObsRaw []float64
}

type trainer struct {
	cfg   Config
	agent *Agent
	opt   *nn.AdamW
	rng   *rand.Rand
	roll  rolloutBuf

	retStats *envs.RunningStats // discounted-return statistics (NormReward)
	retAcc   []float64          // running discounted return per env

	act, mu []float64
	perm    []int
	mbObs   nn.Tensor
	mb      minibatch
	dMu, dV nn.Tensor
}

func newTrainer(cfg Config, a *Agent, opt *nn.AdamW, rng *rand.Rand) *trainer {
	T, N, od, ad := cfg.NumSteps, cfg.NumEnvs, a.ObsDim, a.ActDim
	t := &trainer{cfg: cfg, agent: a, opt: opt, rng: rng}
	r := &t.roll
	r.Rollout = Rollout{NumSteps: T, NumEnvs: N, ObsDim: od, ActDim: ad,
		Obs: make([]float64, T*N*od), Actions: make([]float64, T*N*ad), Rewards: make([]float64, T*N),
		Terminated: make([]bool, T*N), Truncated: make([]bool, T*N), NextObs: make([]float64, T*N*od)}
	r.obs, r.actions = make([]float32, T*N*od), make([]float32, T*N*ad)
	r.logp, r.values, r.rewards = make([]float64, T*N), make([]float64, T*N), make([]float64, T*N)
	r.dones, r.adv, r.ret = make([]bool, T*N), make([]float64, T*N), make([]float64, T*N)
	r.nextObsRaw = make([]float64, N*od)
	if cfg.NormReward {
		t.retStats = envs.NewRunningStats(1)
	}
	t.retAcc = make([]float64, N)
	t.act, t.mu = make([]float64, N*ad), make([]float64, N*ad)
	t.perm = make([]int, T*N)
	return t
}

// observe folds raw observations into the running statistics, in env order.
func (t *trainer) observe(raw []float64) {
	if t.agent.ObsStats == nil {
		return
	}
	od := t.agent.ObsDim
	for i := 0; i*od < len(raw); i++ {
		t.agent.ObsStats.Add(raw[i*od : (i+1)*od])
	}
}

// values runs the critic on rows of raw observations.
func (t *trainer) valuesOf(raw []float64, dst []float64) {
	v := t.agent.Critic.Forward(t.agent.normalize(raw, len(raw)/t.agent.ObsDim))
	for i, x := range v.Data {
		dst[i] = float64(x)
	}
}

// collect plays NumSteps steps in every env.
func (t *trainer) collect(vec *envs.Vector) (Update, error) {
	cfg, a, r := t.cfg, t.agent, &t.roll
	N, od, ad := cfg.NumEnvs, a.ObsDim, a.ActDim
	var u Update
	var retSum float64
	for s := 0; s < cfg.NumSteps; s++ {
		base := s * N
		copy(r.Obs[base*od:], r.nextObsRaw)
		in := a.normalize(r.nextObsRaw, N)
		copy(r.obs[base*od:], in.Data)
		mu := a.Actor.Forward(in)
		for i := 0; i < N; i++ {
			for j := 0; j < ad; j++ {
				m := float64(mu.Data[i*ad+j])
				act := m + math.Exp(float64(a.LogStd.Value.Data[j]))*t.rng.NormFloat64()
				t.act[i*ad+j] = act
				r.actions[(base+i)*ad+j] = float32(act)
			}
			r.logp[base+i] = logProb(r.actions[(base+i)*ad:(base+i+1)*ad], mu.Data[i*ad:(i+1)*ad], a.LogStd.Value.Data)
		}
		t.valuesOf(r.nextObsRaw, r.values[base:base+N])
		copy(r.Actions[base*ad:], t.act)
		res, err := vec.Step(t.act)
		if err != nil {
			return u, err
		}
		copy(r.nextObsRaw, res.Obs)
		for i := 0; i < N; i++ {
			k := base + i
			rew := res.Rewards[i]
			r.Rewards[k], r.Terminated[k], r.Truncated[k] = rew, res.Terminated[i], res.Truncated[i]
			next := res.Obs[i*od : (i+1)*od]
			if res.Infos[i] != nil && res.Infos[i].FinalObs != nil {
				next = res.Infos[i].FinalObs
			}
			copy(r.NextObs[k*od:], next)
			// Reward scaling by the std of the running discounted return.
			t.retAcc[i] = t.retAcc[i]*cfg.Gamma + rew
			if t.retStats != nil {
				t.retStats.Add(t.retAcc[i : i+1])
				rew /= math.Sqrt(t.retStats.Var(0) + 1e-8)
				rew = min(max(rew, -cfg.RewardClip), cfg.RewardClip)
			}
			r.rewards[k] = rew
			r.dones[k] = res.Terminated[i] || res.Truncated[i]
			if r.dones[k] {
				t.retAcc[i] = 0
				if res.Infos[i] != nil {
					if er, ok := res.Infos[i].Values["episode_return"]; ok {
						retSum += er
						u.Episodes++
					}
				}
			}
		}
		// A truncated episode still had a future: bootstrap it into the
		// reward with the critic's value of the final observation.
		for i := 0; i < N; i++ {
			k := base + i
			if res.Truncated[i] && !res.Terminated[i] {
				var v [1]float64
				t.valuesOf(r.NextObs[k*od:(k+1)*od], v[:])
				r.rewards[k] += cfg.Gamma * v[0]
			}
		}
		t.observe(res.Obs)
	}
	u.EpisodeReturn = math.NaN()
	if u.Episodes > 0 {
		u.EpisodeReturn = retSum / float64(u.Episodes)
	}
	return u, nil
}

// advantages computes GAE(λ) and the returns the critic regresses on.
func (t *trainer) advantages() {
	cfg, r := t.cfg, &t.roll
	N := cfg.NumEnvs
	next := make([]float64, N) // V(s_T) for each env
	t.valuesOf(r.nextObsRaw, next)
	last := make([]float64, N)
	for s := cfg.NumSteps - 1; s >= 0; s-- {
		for i := 0; i < N; i++ {
			k := s*N + i
			nextV := next[i]
			if s+1 < cfg.NumSteps {
				nextV = r.values[k+N]
			}
			nonTerminal := 1.0
			if r.dones[k] {
				nonTerminal = 0
			}
			delta := r.rewards[k] + cfg.Gamma*nextV*nonTerminal - r.values[k]
			last[i] = delta + cfg.Gamma*cfg.Lambda*nonTerminal*last[i]
			r.adv[k] = last[i]
			r.ret[k] = last[i] + r.values[k]
		}
	}
}

// learn runs the epochs of minibatch updates and fills u's loss fields.
func (t *trainer) learn(lr float64, u *Update) {
	cfg, a, r := t.cfg, t.agent, &t.roll
	n := cfg.NumSteps * cfg.NumEnvs
	mb := n / cfg.Minibatches
	od, ad := a.ObsDim, a.ActDim
	for i := range t.perm {
		t.perm[i] = i
	}
	var pl, vl, ent, kl, cf float64
	var batches int
	params := a.Params()
epochs:
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		t.rng.Shuffle(n, func(i, j int) { t.perm[i], t.perm[j] = t.perm[j], t.perm[i] })
		for start := 0; start < n; start += mb {
			idx := t.perm[start : start+mb]
			t.mbObs.Resize(mb, od)
			var advMean, advSq float64
			for m, k := range idx {
				copy(t.mbObs.Data[m*od:(m+1)*od], r.obs[k*od:(k+1)*od])
				advMean += r.adv[k]
				advSq += r.adv[k] * r.adv[k]
			}
			advMean /= float64(mb)
			advStd := math.Sqrt(math.Max(advSq/float64(mb)-advMean*advMean, 0) * float64(mb) / float64(max(mb-1, 1)))
			nn.ZeroGrads(a.Actor, a.Critic)
			a.LogStd.Grad.Zero()
			mu := a.Actor.Forward(&t.mbObs)
			v := a.Critic.Forward(&t.mbObs)
			t.dMu.Resize(mb, ad)
			t.dV.Resize(mb, 1)
			logStd := a.LogStd.Value.Data
			t.mb.set(r, idx, advMean, advStd)
			bpl, bvl, bkl, bcf := minibatchLoss(cfg, &t.mb, mu.Data, logStd, v.Data, t.dMu.Data, a.LogStd.Grad.Data, t.dV.Data)
			a.Actor.Backward(&t.dMu)
			a.Critic.Backward(&t.dV)
			nn.ClipGradNorm(params, cfg.MaxGradNorm)
			t.opt.Step(lr)
			pl += bpl
			vl += bvl
			kl += bkl
			cf += bcf
			ent += entropy(logStd)
			batches++
			if cfg.TargetKL > 0 && bkl > cfg.TargetKL {
				break epochs
			}
		}
	}
	u.PolicyLoss, u.ValueLoss, u.Entropy = pl/float64(batches), vl/float64(batches), ent/float64(batches)
	u.ApproxKL, u.ClipFrac = kl/float64(batches), cf/float64(batches)
	// Explained variance of the value predictions made during the rollout.
	var mr, vr, md float64
	for k := range r.ret {
		mr += r.ret[k]
		md += r.ret[k] - r.values[k]
	}
	mr /= float64(n)
	md /= float64(n)
	for k := range r.ret {
		vr += (r.ret[k] - mr) * (r.ret[k] - mr)
	}
	var vd float64
	for k := range r.ret {
		d := r.ret[k] - r.values[k] - md
		vd += d * d
	}
	u.ExplainedVar = math.NaN()
	if vr > 0 {
		u.ExplainedVar = 1 - vd/vr
	}
}

// minibatch is the rollout data of one minibatch, gathered.
type minibatch struct {
	actions            []float32 // [M, actDim]
	oldLogp, oldV, adv []float64 // adv normalised
	ret                []float64
}

func (m *minibatch) set(r *rolloutBuf, idx []int, advMean, advStd float64) {
	ad := r.ActDim
	n := len(idx)
	m.actions = growF32(m.actions, n*ad)
	m.oldLogp, m.oldV, m.adv, m.ret = growF64(m.oldLogp, n), growF64(m.oldV, n), growF64(m.adv, n), growF64(m.ret, n)
	for i, k := range idx {
		copy(m.actions[i*ad:(i+1)*ad], r.actions[k*ad:(k+1)*ad])
		m.oldLogp[i], m.oldV[i], m.ret[i] = r.logp[k], r.values[k], r.ret[k]
		m.adv[i] = (r.adv[k] - advMean) / (advStd + 1e-8)
	}
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// minibatchLoss is PPO's loss on a minibatch of M samples,
//
//	L = mean(max(−A·ρ, −A·clip(ρ, 1±ε))) + c_v·½·mean(max((V−R)², (V_clip−R)²)) − c_e·H,
//
// with ρ = exp(log π(a|s) − log π_old(a|s)). It writes ∂L/∂μ [M, actDim],
// adds ∂L/∂log σ into dLogStd, writes ∂L/∂V [M], and returns the policy and
// value losses, the approximate KL and the clip fraction (means).
func minibatchLoss(cfg Config, b *minibatch, mu, logStd, v []float32, dMu, dLogStd, dV []float32) (pl, vl, kl, cf float64) {
	M := len(b.oldLogp)
	ad := len(logStd)
	for m := 0; m < M; m++ {
		act := b.actions[m*ad : (m+1)*ad]
		mrow := mu[m*ad : (m+1)*ad]
		logRatio := logProb(act, mrow, logStd) - b.oldLogp[m]
		ratio := math.Exp(logRatio)
		kl += (ratio - 1) - logRatio
		if math.Abs(ratio-1) > cfg.ClipCoef {
			cf++
		}
		adv := b.adv[m]
		l1 := -adv * ratio
		l2 := -adv * math.Max(math.Min(ratio, 1+cfg.ClipCoef), 1-cfg.ClipCoef)
		pl += math.Max(l1, l2)
		// ∂max(l1, l2)/∂ρ is −A where the unclipped term is the max or ρ is
		// inside the clip range, else 0.
		dRatio := 0.0
		if l1 >= l2 || math.Abs(ratio-1) <= cfg.ClipCoef {
			dRatio = -adv
		}
		dLogp := dRatio * ratio / float64(M)
		for j := 0; j < ad; j++ {
			sigma := math.Exp(float64(logStd[j]))
			z := (float64(act[j]) - float64(mrow[j])) / sigma
			dMu[m*ad+j] = float32(dLogp * z / sigma)
			dLogStd[j] += float32(dLogp * (z*z - 1))
		}
		vNew, ret := float64(v[m]), b.ret[m]
		diff := vNew - ret
		dv := diff
		loss := 0.5 * diff * diff
		if cfg.ClipVLoss {
			vClip := b.oldV[m] + math.Max(math.Min(vNew-b.oldV[m], cfg.ClipCoef), -cfg.ClipCoef)
			// The clipped term can only be the larger one where the clip is
			// active, and there it does not depend on V.
			if dc := vClip - ret; dc*dc > diff*diff {
				loss, dv = 0.5*dc*dc, 0
			}
		}
		vl += loss
		dV[m] = float32(cfg.VfCoef * dv / float64(M))
	}
	// Entropy bonus −c_e·H, with ∂H/∂log σ_j = 1.
	for j := range logStd {
		dLogStd[j] -= float32(cfg.EntCoef)
	}
	n := float64(M)
	return pl / n, vl / n, kl / n, cf / n
}
