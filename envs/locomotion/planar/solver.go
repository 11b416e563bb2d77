package planar

import (
	"math"
)

// jac is one constraint row's Jacobian: blocks (vx, vz, ω) on body a and,
// when b ≥ 0, on body b. The row's velocity is J·v.
type jac struct {
	a, b   int
	ja, jb [3]float64
}

// brow is a bilateral (equality) row: J·v⁺ + c·λ = target, solved exactly.
type brow struct {
	jac
	c, target float64
	hinge     int
}

// irow is an inequality row (contact normal or friction, joint limit),
// solved by projected Gauss-Seidel with its articulated effective mass.
type irow struct {
	jac
	// minv is 1/(w + r): w is the row's inverse effective mass with the
	// bilateral rows eliminated (MuJoCo's A_ii), r = w(1 − d)/d the soft
	// constraint's regulariser.
	minv, r, target float64
	lam             float64
	friction        bool
	partner         int     // friction: index of the normal row
	mu              float64 // friction: coefficient
	slot            *float64
}

// solver holds the scratch of one solver step, allocated once.
type solver struct {
	v, v0 []float64 // velocities (3 per body), and at the start of the step
	x     []float64 // positions (3 per body), for settle
	brows []brow
	irows []irow
	amat  []float64 // bilateral matrix J M⁻¹ Jᵀ + C, then its Cholesky factor
	env   []int     // per row of amat: its first structurally nonzero column
	rhs   []float64
	u     []float64
	dv    []float64 // per irow: change of v per unit impulse (3·nb each)
	// Soft-constraint constants: MuJoCo's b = 2/(dmax·tc) and
	// k/d(r) = 1/(dmax²·tc²·ζ²), tc ≥ 2 MuJoCo timesteps (refsafe).
	contactB, contactK, limitB, limitK float64
}

func (s *solver) init(p *Physics) {
	nb, nj := p.nb, len(p.hinges)
	s.v = make([]float64, 3*nb)
	s.v0 = make([]float64, 3*nb)
	s.x = make([]float64, 3*nb)
	mb := 3 * nj
	s.brows = make([]brow, 0, mb)
	s.amat = make([]float64, mb*mb)
	s.env = make([]int, mb)
	s.rhs = make([]float64, mb)
	s.u = make([]float64, mb)
	mi := 2*len(p.circles) + 2*nj
	s.irows = make([]irow, 0, mi)
	s.dv = make([]float64, mi*3*nb)
	s.contactB, s.contactK = softConstants(&p.m.Contact, p.m.Timestep)
	s.limitB, s.limitK = softConstants(&p.m.Limit, p.m.Timestep)
}

func softConstants(c *SoftContact, timestep float64) (b, k float64) {
	tc := max(c.TimeConst, 2*timestep)
	return 2 / (c.DMax * tc), 1 / (c.DMax * c.DMax * tc * tc * c.DampRatio * c.DampRatio)
}

// impedance is MuJoCo's d(r) for a violation x ≥ 0 (solimp), clamped to
// [1e-4, 0.9999] as MuJoCo does.
func impedance(c *SoftContact, x float64) float64 {
	d := c.DMax
	if c.DMin != c.DMax && c.Width > 0 && x < c.Width {
		u := x / c.Width
		var y float64
		switch {
		case c.Power == 1:
			y = u
		case u <= c.Mid:
			y = math.Pow(u, c.Power) / math.Pow(c.Mid, c.Power-1)
		default:
			y = 1 - math.Pow(1-u, c.Power)/math.Pow(1-c.Mid, c.Power-1)
		}
		d = c.DMin + y*(c.DMax-c.DMin)
	}
	return min(max(d, 1e-4), 0.9999)
}

// dot is J·v.
func (j *jac) dot(v []float64) float64 {
	a := v[3*j.a : 3*j.a+3]
	s := j.ja[0]*a[0] + j.ja[1]*a[1] + j.ja[2]*a[2]
	if j.b >= 0 {
		b := v[3*j.b : 3*j.b+3]
		s += j.jb[0]*b[0] + j.jb[1]*b[1] + j.jb[2]*b[2]
	}
	return s
}

// applyImpulse adds M⁻¹Jᵀλ to v.
func (p *Physics) applyImpulse(j *jac, lam float64, v []float64) {
	a := v[3*j.a : 3*j.a+3]
	ma, ia := p.invM[j.a]*lam, p.invI[j.a]*lam
	a[0] += ma * j.ja[0]
	a[1] += ma * j.ja[1]
	a[2] += ia * j.ja[2]
	if j.b >= 0 {
		b := v[3*j.b : 3*j.b+3]
		mb, ib := p.invM[j.b]*lam, p.invI[j.b]*lam
		b[0] += mb * j.jb[0]
		b[1] += mb * j.jb[1]
		b[2] += ib * j.jb[2]
	}
}

// coupling is J₁ M⁻¹ J₂ᵀ.
func (p *Physics) coupling(j1, j2 *jac) float64 {
	s := 0.0
	blk := func(body int, x, y *[3]float64) {
		s += p.invM[body]*(x[0]*y[0]+x[1]*y[1]) + p.invI[body]*x[2]*y[2]
	}
	if j1.a == j2.a {
		blk(j1.a, &j1.ja, &j2.ja)
	}
	if j2.b >= 0 && j1.a == j2.b {
		blk(j1.a, &j1.ja, &j2.jb)
	}
	if j1.b >= 0 {
		if j1.b == j2.a {
			blk(j1.b, &j1.jb, &j2.ja)
		}
		if j2.b >= 0 && j1.b == j2.b {
			blk(j1.b, &j1.jb, &j2.jb)
		}
	}
	return s
}

// cholesky factors the SPD n×n matrix a (row-major) in place: its lower
// triangle becomes L with a = L·Lᵀ. Row i of a is zero left of column
// env[i] (its envelope), and so is row i of L: only the envelope is read
// and written.
func cholesky(a []float64, n int, env []int) {
	for j := range n {
		rj := a[j*n : j*n+j+1]
		d := rj[j]
		for _, x := range rj[env[j]:j] {
			d -= x * x
		}
		d = math.Sqrt(max(d, 1e-300))
		rj[j] = d
		inv := 1 / d
		for i := j + 1; i < n; i++ {
			if env[i] > j {
				continue
			}
			lo := max(env[i], env[j])
			ri := a[i*n : i*n+j+1]
			s := ri[j]
			for k, x := range rj[lo:j] {
				s -= ri[lo+k] * x
			}
			ri[j] = s * inv
		}
	}
}

// cholSolve solves L·Lᵀ·x = b in place (x overwrites b), L from cholesky
// with the same envelope.
func cholSolve(l []float64, n int, env []int, b []float64) {
	b = b[:n]
	for i := range n {
		ri := l[i*n : i*n+i+1]
		s := b[i]
		for k, x := range ri[env[i]:i] {
			s -= x * b[env[i]+k]
		}
		b[i] = s / ri[i]
	}
	for i := n - 1; i >= 0; i-- {
		ri := l[i*n : i*n+i+1]
		x := b[i] / ri[i]
		b[i] = x
		for k, lk := range ri[env[i]:i] {
			b[env[i]+k] -= lk * x
		}
	}
}

// factor fills the envelope of J M⁻¹ Jᵀ + C for the bilateral rows br into
// s.amat and factors it.
func (p *Physics) factor(br []brow) {
	s := &p.solver
	m := len(br)
	env := s.env[:m]
	for r := range m {
		env[r] = r
		for r2 := range r {
			if br[r2].shares(&br[r].jac) {
				env[r] = r2
				break
			}
		}
	}
	A := s.amat[:m*m]
	for r1 := range m {
		for r2 := env[r1]; r2 <= r1; r2++ {
			A[r1*m+r2] = p.coupling(&br[r1].jac, &br[r2].jac)
		}
		A[r1*m+r1] += br[r1].c
	}
	cholesky(A, m, env)
}

// shares reports whether two rows act on a common body.
func (j *jac) shares(k *jac) bool {
	return j.a == k.a || j.a == k.b || (j.b >= 0 && (j.b == k.a || j.b == k.b))
}

// substep advances the state by one solver step of h seconds, with
// semi-implicit Euler integration (velocities first, then positions with
// the new velocities):
//
//  1. Rows are built from the state at the start of the step. Bilateral:
//     each hinge's point constraint (2 rows) and its joint row, which
//     carries armature J and damping c implicitly: the impulse P on the
//     relative angular velocity ω = ω_child − ω_parent is
//     P = −J(ω⁺ − ω⁻) − h·c·ω⁺, i.e. ω⁺ + γP = γ·J·ω⁻ with
//     γ = 1/(J + h·c), so that the joint's inertia is the bodies' plus J
//     (MuJoCo's armature) and damping cannot destabilise. Inequalities:
//     the floor contacts of the capsules' end discs (normal and friction)
//     and the violated joint limits, as MuJoCo soft constraints.
//  2. Gravity, the motor torques and the joint springs (−k·q, explicit as
//     in MuJoCo's Euler integrator) change the velocities.
//  3. The bilateral rows are solved exactly (dense Cholesky of
//     J M⁻¹ Jᵀ + C, at most 18×18); each inequality row's response is
//     precomputed with the bilateral rows eliminated, so that projected
//     Gauss-Seidel over the inequality rows keeps the bilateral rows
//     satisfied and uses MuJoCo's articulated effective mass A_ii.
//  4. Positions are integrated and Box2D's joints correct the hinges'
//     position error (nonlinear Gauss-Seidel).
func (p *Physics) substep() {
	h := p.h
	nb := p.nb
	s := &p.solver
	pos := p.pos
	v := s.v
	for i := range nb {
		p.sinA[i], p.cosA[i] = math.Sincos(pos[i].A)
		v[3*i], v[3*i+1], v[3*i+2] = p.vel[i].V.X, p.vel[i].V.Y, p.vel[i].W
	}
	copy(s.v0, v)

	// Bilateral rows.
	br := p.hingeRows(s.brows[:0], s.v0)
	s.brows = br
	m := len(br)
	A := s.amat[:m*m]
	env := s.env[:m]
	p.factor(br)

	// Inequality rows.
	ir := s.irows[:0]
	cs := &p.m.Contact
	for k := range p.circles {
		c := &p.circles[k]
		i := c.body
		cw := rot(p.sinA[i], p.cosA[i], c.c)
		dist := pos[i].C.Y + cw.Z - c.r
		if dist >= cs.Margin {
			c.lamN, c.lamT = 0, 0
			continue
		}
		r := dist - cs.Margin
		d := impedance(cs, -r)
		rx, rz := cw.X, cw.Z-c.r // contact point − centre of mass
		n := irow{jac: jac{a: i, b: -1, ja: [3]float64{0, 1, rx}}, slot: &c.lamN}
		vn0 := n.dot(s.v0)
		n.target = vn0 - h*(s.contactB*vn0+d*s.contactK*r)
		n.r = d // provisional: d, replaced by the regulariser below
		t := irow{jac: jac{a: i, b: -1, ja: [3]float64{1, 0, -rz}}, slot: &c.lamT,
			friction: true, partner: len(ir), mu: c.mu}
		vt0 := t.dot(s.v0)
		t.target = vt0 - h*s.contactB*vt0
		t.r = d
		ir = append(ir, n, t)
	}
	ls := &p.m.Limit
	for j := range p.hinges {
		hg := &p.hinges[j]
		q := hg.s * (pos[hg.b].A - pos[hg.a].A)
		for side := range 2 {
			// Lower: r = q − lo; upper: r = hi − q; dr/dt = ±s(ω_b − ω_a).
			r, sg, slot := q-hg.lo, hg.s, &hg.lamLo
			if side == 1 {
				r, sg, slot = hg.hi-q, -hg.s, &hg.lamHi
			}
			if r >= ls.Margin {
				*slot = 0
				continue
			}
			r -= ls.Margin
			d := impedance(ls, -r)
			row := irow{jac: jac{a: hg.a, b: hg.b, ja: [3]float64{0, 0, -sg}, jb: [3]float64{0, 0, sg}}, slot: slot}
			v0 := row.dot(s.v0)
			row.target = v0 - h*(s.limitB*v0+d*s.limitK*r)
			row.r = d
			ir = append(ir, row)
		}
	}
	s.irows = ir
	n3 := 3 * nb
	for k := range ir {
		row := &ir[k]
		// u = (J_b M⁻¹ J_b ᵀ + C)⁻¹ J_b M⁻¹ J_kᵀ; Δv_k = M⁻¹(J_kᵀ − J_bᵀ u).
		u := s.u[:m]
		for r := range m {
			u[r] = p.coupling(&br[r].jac, &row.jac)
		}
		cholSolve(A, m, env, u)
		dv := s.dv[k*n3 : (k+1)*n3]
		clear(dv)
		p.applyImpulse(&row.jac, 1, dv)
		for r := range m {
			if u[r] != 0 {
				p.applyImpulse(&br[r].jac, -u[r], dv)
			}
		}
		w := row.dot(dv)
		d := row.r
		row.r = w * (1 - d) / d
		row.minv = 1 / (w + row.r)
		row.lam = *row.slot
	}

	// Gravity, motors and joint springs (explicit, as in MuJoCo's Euler).
	gh := h * p.m.Gravity
	for i := range nb {
		v[3*i+1] -= gh
		v[3*i+2] += h * p.invI[i] * p.torque[i]
	}
	for j := range p.hinges {
		hg := &p.hinges[j]
		if hg.stiff != 0 {
			// −k·q on q is −k·θ on Box2D's relative angle θ = s·q.
			t := -h * hg.stiff * (pos[hg.b].A - pos[hg.a].A)
			v[3*hg.b+2] += p.invI[hg.b] * t
			v[3*hg.a+2] -= p.invI[hg.a] * t
		}
	}

	// Bilateral rows, exactly: Δλ = (J M⁻¹ Jᵀ + C)⁻¹(target − J·v).
	rhs := s.rhs[:m]
	for r := range m {
		rhs[r] = br[r].target - br[r].dot(v)
	}
	cholSolve(A, m, env, rhs)
	for r := range m {
		p.applyImpulse(&br[r].jac, rhs[r], v)
	}

	// Inequality rows: warm start, then projected Gauss-Seidel.
	for k := range ir {
		if l := ir[k].lam; l != 0 {
			addScaled(v, s.dv[k*n3:(k+1)*n3], l)
		}
	}
	if len(ir) > 0 {
		for range p.m.VelocityIterations {
			for k := range ir {
				row := &ir[k]
				l := row.lam - row.minv*(row.dot(v)+row.r*row.lam-row.target)
				if row.friction {
					lim := row.mu * ir[row.partner].lam
					l = min(max(l, -lim), lim)
				} else {
					l = max(l, 0)
				}
				if dl := l - row.lam; dl != 0 {
					addScaled(v, s.dv[k*n3:(k+1)*n3], dl)
					row.lam = l
				}
			}
		}
		for k := range ir {
			*ir[k].slot = ir[k].lam
		}

	}

	for i := range nb {
		p.vel[i].V.X, p.vel[i].V.Y, p.vel[i].W = v[3*i], v[3*i+1], v[3*i+2]
		pos[i].C.X += h * v[3*i]
		pos[i].C.Y += h * v[3*i+1]
		pos[i].A += h * v[3*i+2]
	}
	for range p.m.PositionIterations {
		ok := true
		for _, j := range p.joints {
			ok = j.SolvePositionConstraints(p.data) && ok
		}
		if ok {
			break
		}
	}
}

// hingeRows appends the hinges' rows for the current pose (sinA, cosA):
// each hinge's point constraint (2 rows: the velocity of the hinge point on
// the child minus on the parent, with ω × r = (−ω·r_z, ω·r_x)) and, when
// v0 is not nil, its joint row (armature and damping, see substep), with
// v0 the velocities at the start of the solver step. The hinges go from
// the leaves to the root (children have larger indices than their
// parents), so that J M⁻¹ Jᵀ has a narrow envelope.
func (p *Physics) hingeRows(br []brow, v0 []float64) []brow {
	h := p.h
	for j := len(p.hinges) - 1; j >= 0; j-- {
		hg := &p.hinges[j]
		a, b := hg.a, hg.b
		rA := rot(p.sinA[a], p.cosA[a], hg.la)
		rB := rot(p.sinA[b], p.cosA[b], hg.lb)
		br = append(br,
			brow{jac: jac{a: a, b: b, ja: [3]float64{-1, 0, rA.Z}, jb: [3]float64{1, 0, -rB.Z}}, hinge: j},
			brow{jac: jac{a: a, b: b, ja: [3]float64{0, -1, -rA.X}, jb: [3]float64{0, 1, rB.X}}, hinge: j})
		if ctot := hg.arm + h*hg.damp; v0 != nil && ctot > 0 {
			g := 1 / ctot
			w0 := v0[3*b+2] - v0[3*a+2]
			br = append(br, brow{
				jac: jac{a: a, b: b, ja: [3]float64{0, 0, -1}, jb: [3]float64{0, 0, 1}},
				c:   g, target: hg.arm * w0 * g, hinge: j,
			})
		}
	}
	return br
}

// gap is the largest distance between the two anchor points of a hinge in
// the solver state; it refreshes sinA and cosA.
func (p *Physics) gap() float64 {
	for i := range p.pos {
		p.sinA[i], p.cosA[i] = math.Sincos(p.pos[i].A)
	}
	d := 0.0
	for j := range p.hinges {
		hg := &p.hinges[j]
		rA := rot(p.sinA[hg.a], p.cosA[hg.a], hg.la)
		rB := rot(p.sinA[hg.b], p.cosA[hg.b], hg.lb)
		ca, cb := p.pos[hg.a].C, p.pos[hg.b].C
		d = max(d, math.Hypot(cb.X+rB.X-ca.X-rA.X, cb.Y+rB.Z-ca.Y-rA.Z))
	}
	return d
}

// settleTol is how close settle brings the hinges' anchor points (m).
const settleTol = 1e-12

// settle ends a control step by projecting the bodies onto the hinge
// constraints, mass-weighted (by internal impulses, so the centre of mass
// and the momentum stay): positions by Newton steps on the constraint
// C(x) = 0 (ΔX = −M⁻¹Jᵀ(J M⁻¹ Jᵀ)⁻¹C, at most 4, each reducing the error
// quadratically), then velocities onto J·v = 0 at the final pose. The
// bodies are then where the generalised coordinates read from them put
// them, up to rounding.
func (p *Physics) settle() {
	s := &p.solver
	nb := p.nb
	x, v := s.x, s.v
	for i := range nb {
		x[3*i], x[3*i+1], x[3*i+2] = p.pos[i].C.X, p.pos[i].C.Y, p.pos[i].A
		v[3*i], v[3*i+1], v[3*i+2] = p.vel[i].V.X, p.vel[i].V.Y, p.vel[i].W
	}
	for it := 0; ; it++ {
		for i := range p.pos {
			p.sinA[i], p.cosA[i] = math.Sincos(p.pos[i].A)
		}
		br := p.hingeRows(s.brows[:0], nil)
		s.brows = br
		m := len(br)
		p.factor(br)
		env := s.env[:m]
		rhs := s.rhs[:m]
		worst := 0.0
		for r := 0; r < m; r += 2 {
			hg := &p.hinges[br[r].hinge]
			rA := rot(p.sinA[hg.a], p.cosA[hg.a], hg.la)
			rB := rot(p.sinA[hg.b], p.cosA[hg.b], hg.lb)
			cx := x[3*hg.b] + rB.X - x[3*hg.a] - rA.X
			cz := x[3*hg.b+1] + rB.Z - x[3*hg.a+1] - rA.Z
			rhs[r], rhs[r+1] = -cx, -cz
			worst = max(worst, math.Abs(cx), math.Abs(cz))
		}
		if worst <= settleTol || it == 4 {
			// Velocities at the final pose (the rows and factor are current).
			for r := range m {
				rhs[r] = -br[r].dot(v)
			}
			cholSolve(s.amat[:m*m], m, env, rhs)
			for r := range m {
				p.applyImpulse(&br[r].jac, rhs[r], v)
			}
			break
		}
		cholSolve(s.amat[:m*m], m, env, rhs)
		for r := range m {
			p.applyImpulse(&br[r].jac, rhs[r], x)
		}
		for i := range nb {
			p.pos[i].A = x[3*i+2]
		}
	}
	for i := range nb {
		p.pos[i].C.X, p.pos[i].C.Y, p.pos[i].A = x[3*i], x[3*i+1], x[3*i+2]
		p.vel[i].V.X, p.vel[i].V.Y, p.vel[i].W = v[3*i], v[3*i+1], v[3*i+2]
	}
}

// addScaled is v += a·x.
func addScaled(v, x []float64, a float64) {
	x = x[:len(v)]
	for i := range v {
		v[i] += a * x[i]
	}
}
