package cuda

import (
	"math"

	"github.com/minrl/minrl/nn"
)

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

// AdamWStep applies the gradient clip's scale (1: no clipping) and AdamW
// step number step (1-based) with learning rate lr to every parameter, with
// the scalars rounded as nn.AdamW rounds them.
func (c *Ctx) AdamWStep(p *Params, cfg nn.AdamWConfig, step int, lr float64, clip float32) {
	t := float64(step)
	bc1 := 1 - math.Pow(cfg.Beta1, t)
	bc2 := 1 - math.Pow(cfg.Beta2, t)
	c.elems("adamw", p.n, p.W, p.M, p.V, p.G, p.noDecay, clip,
		float32(1-lr*cfg.WeightDecay), float32(lr/bc1), float32(math.Sqrt(bc2)), float32(cfg.Eps),
		float32(1-cfg.Beta1), float32(cfg.Beta2), float32(1-cfg.Beta2), int64(p.n))
}

// ClipScale is torch.nn.utils.clip_grad_norm_'s factor for a gradient of
// norm ‖g‖: maxNorm/(‖g‖ + 1e-6) when that is below 1, else 1 (as
// nn.ClipGradNorm, which also leaves non-finite gradients unscaled).
func ClipScale(norm, maxNorm float64) float32 {
	if s := maxNorm / (norm + 1e-6); s < 1 && !math.IsNaN(norm) && !math.IsInf(norm, 0) {
		return float32(s)
	}
	return 1
}
