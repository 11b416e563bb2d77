package policy

import (
	"fmt"

	"github.com/minrl/minrl/nn"
)

// Stateful (episode-mode) inference: O(1) work per env step.

// RecurrentState is the carried state of n sequences for stateful
// inference with a recurrent Decision model: per block, the convolution's
// last ConvKernel−1 inputs and the minRNN state; and each sequence's last
// action, whose token is fed with the next step's tokens.
type RecurrentState struct {
	N    int
	conv [][]float32 // per block [N, ConvKernel−1, h]
	rnn  [][]float32 // per block [N, Inner]
	// The action of the previous step, not yet fed, per sequence.
	pending    []float32 // [N, ActDim]
	pendingT   []int32
	hasPending []bool
}

// stepScratch holds the buffers of one stateful step for n sequences.
type stepScratch struct {
	x, cur    nn.Tensor // [n, 3, h]: the step's tokens (a_{t−1}, R̂_t, s_t)
	emb       []float32 // [n, h]
	keep      []float32 // [n·3]
	tok, conv []float32 // [n, h]: one token of every sequence
	last      nn.Tensor // [n, h]: the state tokens' outputs
}

// NewRecurrentState returns fresh states for n sequences. It panics for the
// transformer, which has no recurrent form.
func (m *Decision) NewRecurrentState(n int) *RecurrentState {
	if !m.cfg.Recurrent() {
		panic("policy: NewRecurrentState: the dt model has no recurrent form")
	}
	s := &RecurrentState{N: n, pending: make([]float32, n*m.cfg.ActDim), pendingT: make([]int32, n), hasPending: make([]bool, n)}
	for _, b := range m.recurrentBlocks {
		if b.Conv != nil {
			s.conv = append(s.conv, make([]float32, n*(b.Conv.K-1)*b.h))
		} else {
			s.conv = append(s.conv, nil)
		}
		s.rnn = append(s.rnn, make([]float32, n*b.inner))
	}
	for i := 0; i < n; i++ {
		m.ResetSequence(s, i)
	}
	return s
}

// ResetSequence gives sequence i a fresh state, as at the start of an
// episode.
func (m *Decision) ResetSequence(s *RecurrentState, i int) {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("policy: ResetSequence(%d) with %d sequences", i, s.N))
	}
	for l, b := range m.recurrentBlocks {
		if c := s.conv[l]; c != nil {
			w := (b.Conv.K - 1) * b.h
			clear(c[i*w : (i+1)*w])
		}
		b.RNN.InitialState(s.rnn[l][i*b.inner : (i+1)*b.inner])
	}
	s.hasPending[i] = false
}

// StepPredict feeds the current step of every sequence — the previous
// step's action token (given to StepAction), then the return-to-go and
// state tokens (rtg [n] already divided by RTGScale, states [n·ObsDim]
// normalised, timesteps [n] in [0, MaxEpLen)) — and writes the predicted
// actions [n·ActDim]. Follow it with StepAction.
//
// The work is O(1) in the number of steps so far: each block runs the
// three new tokens from its carried state (a sequence at its first step
// has no previous action: that token is masked, the identity of the
// recurrence). Feeding a step's tokens together reads every weight once
// per env step instead of once per token. The result matches Forward over
// the whole episode so far to float32 rounding. It uses the model's
// layers, so it must not run concurrently with Forward.
func (m *Decision) StepPredict(s *RecurrentState, rtg, states []float32, timesteps []int32, actions []float32) {
	c := m.cfg
	if len(rtg) != s.N || len(states) != s.N*c.ObsDim || len(timesteps) != s.N || len(actions) != s.N*c.ActDim {
		panic(fmt.Sprintf("policy: StepPredict: %d rtg, %d state, %d timestep and %d action values for %d sequences (obs %d, act %d)",
			len(rtg), len(states), len(timesteps), len(actions), s.N, c.ObsDim, c.ActDim))
	}
	if !c.Recurrent() {
		panic("policy: the dt model has no recurrent form")
	}
	if len(s.rnn) != len(m.recurrentBlocks) {
		panic("policy: RecurrentState from another model")
	}
	for i, t := range timesteps {
		if t < 0 || int(t) >= c.MaxEpLen {
			panic(fmt.Sprintf("policy: timestep %d of sequence %d outside [0, %d)", t, i, c.MaxEpLen))
		}
	}
	n, h := s.N, c.Embed
	st := &m.step
	st.x.Resize(n, 3, h)
	st.keep = grow(st.keep, 3*n)
	st.emb = grow(st.emb, n*h)
	// Tokens (a_{t−1}, R̂_t, s_t), each embedded plus its timestep's row.
	put := func(tok int, ts []int32) {
		for i := 0; i < n; i++ {
			x, e, te := st.x.Data[(i*3+tok)*h:(i*3+tok+1)*h], st.emb[i*h:(i+1)*h], m.EmbedTime.W.Value.Data[int(ts[i])*h:(int(ts[i])+1)*h]
			for k := range x {
				x[k] = e[k] + te[k]
			}
		}
	}
	m.EmbedAction.Apply(st.emb, s.pending, n)
	put(0, s.pendingT)
	m.EmbedReturn.Apply(st.emb, m.rtgInput(rtg), n)
	put(1, timesteps)
	m.EmbedState.Apply(st.emb, states, n)
	put(2, timesteps)
	for i := 0; i < n; i++ {
		st.keep[3*i], st.keep[3*i+1], st.keep[3*i+2] = 0, 1, 1
		if s.hasPending[i] {
			st.keep[3*i] = 1
		}
	}
	u := m.EmbedLN.Forward(&st.x)
	st.cur.Resize(n, 3, h)
	copy(st.cur.Data, u.Data)
	for l, b := range m.recurrentBlocks {
		b.stepTokens(st, &st.cur, s.conv[l], s.rnn[l])
	}
	st.last.Resize(n, h)
	for i := 0; i < n; i++ {
		copy(st.last.Data[i*h:(i+1)*h], st.cur.Data[(i*3+2)*h:(i*3+3)*h])
	}
	y := m.FinalLN.Forward(&st.last)
	m.Head.Apply(actions, y.Data, n)
	nn.Tanh(actions, actions)
}

// StepAction records the action tokens [n·ActDim] of the current step (the
// actions taken, normally StepPredict's) with their timesteps [n]; the
// next StepPredict feeds them.
func (m *Decision) StepAction(s *RecurrentState, actions []float32, timesteps []int32) {
	if len(actions) != s.N*m.cfg.ActDim || len(timesteps) != s.N {
		panic(fmt.Sprintf("policy: StepAction: %d action and %d timestep values for %d sequences (act %d)",
			len(actions), len(timesteps), s.N, m.cfg.ActDim))
	}
	copy(s.pending, actions)
	copy(s.pendingT, timesteps)
	for i := range s.hasPending {
		s.hasPending[i] = true
	}
}

// stepTokens advances the block over the tokens x [n, L, h] of every
// sequence from its carried state, updating x in place: the block's
// forward (masked tokens are the identity of the recurrence and zero into
// the convolution, as in training), with the states carried in and out.
func (b *rnnBlock) stepTokens(st *stepScratch, x *nn.Tensor, conv, state []float32) {
	n, L, h := x.Shape[0], x.Shape[1], x.Shape[2]
	u := b.LN1.Forward(x)
	src := u
	if b.Conv != nil {
		// The convolution runs token by token from its carried inputs.
		b.cin.Resize(n, L, h)
		maskRows(b.cin.Data, u.Data, st.keep, h)
		st.tok, st.conv = grow(st.tok, n*h), grow(st.conv, n*h)
		for j := 0; j < L; j++ {
			for i := 0; i < n; i++ {
				copy(st.tok[i*h:(i+1)*h], b.cin.Data[(i*L+j)*h:(i*L+j+1)*h])
			}
			b.Conv.Step(st.conv, st.tok, conv, n)
			for i := 0; i < n; i++ {
				copy(b.cin.Data[(i*L+j)*h:(i*L+j+1)*h], st.conv[i*h:(i+1)*h])
			}
		}
		src = &b.cin
	}
	y := b.RNN.ForwardMasked(src, state, st.keep)
	b.RNN.FinalState(state)
	for i, v := range y.Data {
		x.Data[i] += v
	}
	m := b.MLP.Forward(b.LN2.Forward(x))
	for i, v := range m.Data {
		x.Data[i] += v
	}
}

// FieldError is one bad field of a Config or MLPConfig; Validate joins
// them. Config layers above (configs) map Field to their own key names.
type FieldError struct {
	Type  string // "Config" or "MLPConfig"
	Field string // the Go field name, e.g. "Embed"
	Value any
	Why   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s.%s = %v: %s", e.Type, e.Field, e.Value, e.Why)
}
