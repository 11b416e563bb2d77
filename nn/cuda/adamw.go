package cuda

import "github.com/minrl/minrl/nn"

// UploadMoments copies the host optimiser's moments to the device (at the
// start of training, and after a resume has loaded them).
func (c *Ctx) UploadMoments(p *Params, o *nn.AdamW) {
	m, v := o.Moments()
	c.Upload(p.M, m)
	c.Upload(p.V, v)
}

// DownloadMoments copies the device moments into the host optimiser and
// sets its step count, so that its State is what the device has.
func (c *Ctx) DownloadMoments(p *Params, o *nn.AdamW, step int) {
	m, v := o.Moments()
	c.Download(m, p.M)
	c.Download(v, p.V)
	o.SetStepCount(step)
}

// AdamWStep applies the gradient clip's scale (1: no clipping, see
// nn.ClipScale) and AdamW step number step (1-based) with learning rate lr
// to every parameter, with nn.AdamW's coefficients.
func (c *Ctx) AdamWStep(p *Params, cfg nn.AdamWConfig, step int, lr float64, clip float32) {
	k := cfg.Scalars(step, lr)
	c.elems("adamw", p.n, p.W, p.M, p.V, p.G, p.noDecay, clip,
		k.Decay, k.StepSize, k.BC2Sqrt, k.Eps, k.W1, k.B2, k.W2, int64(p.n))
}
