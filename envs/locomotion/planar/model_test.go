package planar

import (
	"math"
	"strings"
	"testing"
)

// TestBodyMasses checks the masses against solid capsules of density
// 1000 kg/m³: m = ρ(πr²L + 4/3·πr³) for a capsule of length L and radius
// r (docs/environments.md §7). For example the Hopper's torso (L = 0.4,
// r = 0.05): 1000·(π·0.0025·0.4 + 4/3·π·0.000125) = 1000·(0.0031416 +
// 0.00052360) = 3.6652 kg. HalfCheetah's masses are rescaled to 14 kg in
// total (settotalmass); the table's rescaled values are rounded to 0.01 kg.
func TestBodyMasses(t *testing.T) {
	capsule := func(L, r float64) float64 { return 1000 * (math.Pi*r*r*L + 4.0/3.0*math.Pi*r*r*r) }
	for _, c := range []struct {
		m     *Model
		want  []float64
		tol   float64
		total float64
	}{
		{HopperModel(), []float64{capsule(0.4, 0.05), capsule(0.45, 0.05), capsule(0.5, 0.04), capsule(0.39, 0.06)}, 1e-9, 15.82},
		{Walker2dModel(), []float64{capsule(0.4, 0.05),
			capsule(0.45, 0.05), capsule(0.5, 0.04), capsule(0.2, 0.06),
			capsule(0.45, 0.05), capsule(0.5, 0.04), capsule(0.2, 0.06)}, 1e-9, 23.68},
		{HalfCheetahModel(), []float64{6.25, 1.54, 1.59, 1.10, 1.44, 1.20, 0.89}, 0.006, 14},
	} {
		ms := c.m.bodyMasses()
		total := 0.0
		for i, mp := range ms {
			total += mp.mass
			if math.Abs(mp.mass-c.want[i]) > c.tol*max(1, c.want[i]) {
				t.Errorf("%s %s: mass %.6f, want %.6f", c.m.Name, c.m.Bodies[i].Name, mp.mass, c.want[i])
			}
		}
		if math.Abs(total-c.total) > 0.01 {
			t.Errorf("%s: total mass %.4f, want %.2f", c.m.Name, total, c.total)
		}
	}
	// The Hopper's torso by the numbers of the comment above.
	if m := HopperModel().bodyMasses()[0].mass; math.Abs(m-3.6652) > 1e-4 {
		t.Errorf("Hopper torso: %.5f kg, want 3.6652", m)
	}
}

// TestCapsuleInertia integrates ρ·((x−cx)² + (z−cz)²) over a grid of
// points inside a capsule (its axis in the x-z plane, y across the plane)
// and compares the mass and the inertia about the y axis through the
// centroid with capsuleMass's closed form.
func TestCapsuleInertia(t *testing.T) {
	for _, g := range []Capsule{
		{A: Vec{0, 0}, B: Vec{0, -0.45}, R: 0.05},
		{A: Vec{-0.26, 0.1}, B: Vec{0.13, 0.1}, R: 0.06},
		{A: Vec{0.1 - 0.145*math.Sin(-3.8), -0.13 - 0.145*math.Cos(-3.8)}, B: Vec{0.1 + 0.145*math.Sin(-3.8), -0.13 + 0.145*math.Cos(-3.8)}, R: 0.046},
		{A: Vec{0, 0}, B: Vec{0, 0}, R: 0.05}, // a sphere: I = 2/5·m·r²
	} {
		got := capsuleMass(g, 1000)
		const n = 120
		lo := Vec{min(g.A.X, g.B.X) - g.R, min(g.A.Z, g.B.Z) - g.R}
		hi := Vec{max(g.A.X, g.B.X) + g.R, max(g.A.Z, g.B.Z) + g.R}
		dx, dz, dy := (hi.X-lo.X)/n, (hi.Z-lo.Z)/n, 2*g.R/n
		dV := dx * dy * dz
		cx, cz := (g.A.X+g.B.X)/2, (g.A.Z+g.B.Z)/2
		ux, uz := g.B.X-g.A.X, g.B.Z-g.A.Z
		L2 := ux*ux + uz*uz
		var mass, iyy float64
		for i := range n {
			x := lo.X + (float64(i)+0.5)*dx
			for k := range n {
				z := lo.Z + (float64(k)+0.5)*dz
				// Distance from (x, z) to the segment, then the disc slice.
				s := 0.0
				if L2 > 0 {
					s = min(max(((x-g.A.X)*ux+(z-g.A.Z)*uz)/L2, 0), 1)
				}
				px, pz := g.A.X+s*ux-x, g.A.Z+s*uz-z
				d2 := px*px + pz*pz
				for j := range n {
					y := -g.R + (float64(j)+0.5)*dy
					if d2+y*y <= g.R*g.R {
						mass += 1000 * dV
						iyy += 1000 * dV * ((x-cx)*(x-cx) + (z-cz)*(z-cz))
					}
				}
			}
		}
		if math.Abs(got.mass-mass) > 0.01*mass || math.Abs(got.iyy-iyy) > 0.01*iyy {
			t.Errorf("capsule %+v: mass %.5f I %.6f, numeric %.5f %.6f", g, got.mass, got.iyy, mass, iyy)
		}
		if L2 == 0 {
			if want := 0.4 * got.mass * g.R * g.R; math.Abs(got.iyy-want) > 1e-12 {
				t.Errorf("sphere: I %g, want 2/5·m·r² = %g", got.iyy, want)
			}
		}
	}
}

// TestImpedance checks MuJoCo's solimp function at hand-computed points.
// With solimp (0, 0.8, 0.01, 0.5, 2), u = x/0.01:
//
//	u = 0.25 ≤ mid: y = u²/mid = 0.125, d = 0.8·0.125 = 0.1;
//	u = 0.75 > mid: y = 1 − (1 − u)²/(1 − mid) = 0.875, d = 0.7;
//	u ≥ 1: d = dmax = 0.8; u = 0: d = 0, clamped to 1e-4.
func TestImpedance(t *testing.T) {
	c := &SoftContact{TimeConst: 0.02, DampRatio: 1, DMin: 0, DMax: 0.8, Width: 0.01, Mid: 0.5, Power: 2}
	for _, tc := range []struct{ x, want float64 }{
		{0.0025, 0.1}, {0.0075, 0.7}, {0.01, 0.8}, {0.5, 0.8}, {0, 1e-4}, {0.005, 0.4},
	} {
		if got := impedance(c, tc.x); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("d(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	// Constant impedance (the Hopper's solimp 0.8 0.8).
	if got := impedance(&HopperModel().Contact, 0.003); got != 0.8 {
		t.Errorf("Hopper d = %g, want 0.8", got)
	}
	// MuJoCo's b and k: b = 2/(dmax·tc), k/d = 1/(dmax²·tc²·ζ²).
	b, k := softConstants(&HopperModel().Contact, 0.002)
	if math.Abs(b-125) > 1e-9 || math.Abs(k-3906.25) > 1e-6 {
		t.Errorf("Hopper b, k/d = %g, %g, want 125, 3906.25", b, k)
	}
}

func TestModelValidate(t *testing.T) {
	for name, edit := range map[string]func(m *Model){
		"no children":    func(m *Model) { m.Bodies = m.Bodies[:1] },
		"timestep":       func(m *Model) { m.Timestep = 0 },
		"substeps":       func(m *Model) { m.Substeps = 0 },
		"iterations":     func(m *Model) { m.VelocityIterations = 0 },
		"density":        func(m *Model) { m.Density = -1 },
		"dmax":           func(m *Model) { m.Contact.DMax = 1 },
		"limit":          func(m *Model) { m.Limit.TimeConst = 0 },
		"parent order":   func(m *Model) { m.Bodies[1].Parent = 2 },
		"root parent":    func(m *Model) { m.Bodies[0].Parent = 0 },
		"axis":           func(m *Model) { m.Bodies[1].Joint.AxisY = 0.5 },
		"range":          func(m *Model) { m.Bodies[1].Joint.Lo, m.Bodies[1].Joint.Hi = 0.1, 0.2 },
		"radius":         func(m *Model) { m.Bodies[2].Geoms[0].R = 0 },
		"geomless body":  func(m *Model) { m.Bodies[3].Geoms = nil },
		"negative damp":  func(m *Model) { m.Bodies[1].Joint.Damping = -1 },
		"negative gear":  func(m *Model) { m.Bodies[1].Joint.Gear = -1 },
		"bad solimp mid": func(m *Model) { m.Contact.Mid = 1 },
	} {
		m := HopperModel()
		edit(m)
		if _, err := New(m); err == nil || !strings.Contains(err.Error(), "Hopper") {
			t.Errorf("%s: New gave %v, want an error naming the model", name, err)
		}
	}
	for _, m := range []*Model{HopperModel(), Walker2dModel(), HalfCheetahModel()} {
		if _, err := New(m); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}
