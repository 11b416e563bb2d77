package cuda

// Kernels of the Decision model's token plumbing. Steps i in [0, n), token
// width h; tokens are interleaved (R̂_i, s_i, a_i).

// TokensStack sets x0[3i+j] = e_j[i] + E[idx[i]] for the return, state and
// action embeddings e_j [n, h]; E is the timestep table, idx (int32 words)
// its rows.
func (c *Ctx) TokensStack(x0, eR, eS, eA, E, idx Buf, n, h int) {
	c.elems("tokens_stack", n*h, x0, eR, eS, eA, E, idx, n, h)
}

// TokensUnstack splits dx0 into the three token gradients and their sum
// (the timestep embedding's).
func (c *Ctx) TokensUnstack(dR, dS, dA, dT, dx0 Buf, n, h int) {
	c.elems("tokens_unstack", n*h, dR, dS, dA, dT, dx0, n, h)
}

// StateTokensGather sets hs[i] = y[3i+1].
func (c *Ctx) StateTokensGather(hs, y Buf, n, h int) {
	c.elems("state_tokens_gather", n*h, hs, y, n, h)
}

// StateTokensScatter sets dy[3i+1] = dhs[i] and the other tokens' rows to 0.
func (c *Ctx) StateTokensScatter(dy, dhs Buf, n, h int) {
	c.elems("state_tokens_scatter", 3*n*h, dy, dhs, n, h)
}

// MaskedMSE writes dpred = 2·inv·(pred − act) on real steps (0 on padded)
// and rowsq[i] = Σ_j (pred − act)² (doubles, 0 on padded steps).
func (c *Ctx) MaskedMSE(dpred, rowsq, pred, act, mask Buf, n, actDim int, inv float64) {
	c.elems("masked_mse", n, dpred, rowsq, pred, act, mask, n, actDim, inv)
}
