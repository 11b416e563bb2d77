package planar

import (
	"math"
)

// refModel is an independent reduced-coordinate model of the same robot,
// written from MuJoCo's definitions, to check the Box2D engine against:
// forward kinematics composes MuJoCo's rotations about the y axis, the
// mass matrix comes from the bodies' Jacobians (finite differences of the
// kinematics) plus the armature on each hinge, the Coriolis and centrifugal
// forces from the Christoffel symbols of that matrix, and passive forces
// are −damping·q̇ − stiffness·q. No contacts: use it in the air.
type refModel struct {
	m      *Model
	masses []massProps
	n      int
}

func newRefModel(m *Model) *refModel {
	return &refModel{m: m, masses: m.bodyMasses(), n: 3 + len(m.Bodies) - 1}
}

// rotY is MuJoCo's rotation about +y by θ applied to (x, z):
// (x cos θ + z sin θ, −x sin θ + z cos θ).
func rotY(th float64, v Vec) Vec {
	s, c := math.Sincos(th)
	return Vec{v.X*c + v.Z*s, -v.X*s + v.Z*c}
}

// fk returns each body's centre of mass and its MuJoCo angle about +y.
func (r *refModel) fk(q []float64, com []Vec, th []float64) {
	n := len(r.m.Bodies)
	origin := make([]Vec, n)
	for i, b := range r.m.Bodies {
		if i == 0 {
			origin[0] = Vec{q[0], r.m.RootZ0 + q[1]}
			th[0] = q[2]
		} else {
			p := b.Parent
			th[i] = th[p] + b.Joint.AxisY*q[3+i-1]
			hp := rotY(th[p], Vec{b.Pos.X + b.Joint.Pos.X, b.Pos.Z + b.Joint.Pos.Z})
			jw := rotY(th[i], b.Joint.Pos)
			origin[i] = Vec{origin[p].X + hp.X - jw.X, origin[p].Z + hp.Z - jw.Z}
		}
		l := rotY(th[i], r.masses[i].com)
		com[i] = Vec{origin[i].X + l.X, origin[i].Z + l.Z}
	}
}

// jacobians returns d(com x, com z, θ)/dq for each body, by central
// differences.
func (r *refModel) jacobians(q []float64) (jx, jz, jt [][]float64) {
	nb := len(r.m.Bodies)
	jx, jz, jt = make([][]float64, nb), make([][]float64, nb), make([][]float64, nb)
	for i := range nb {
		jx[i], jz[i], jt[i] = make([]float64, r.n), make([]float64, r.n), make([]float64, r.n)
	}
	const eps = 1e-6
	qq := append([]float64(nil), q...)
	cp, cm := make([]Vec, nb), make([]Vec, nb)
	tp, tm := make([]float64, nb), make([]float64, nb)
	for a := range r.n {
		qq[a] = q[a] + eps
		r.fk(qq, cp, tp)
		qq[a] = q[a] - eps
		r.fk(qq, cm, tm)
		qq[a] = q[a]
		for i := range nb {
			jx[i][a] = (cp[i].X - cm[i].X) / (2 * eps)
			jz[i][a] = (cp[i].Z - cm[i].Z) / (2 * eps)
			jt[i][a] = (tp[i] - tm[i]) / (2 * eps)
		}
	}
	return jx, jz, jt
}

func (r *refModel) mass(q []float64) [][]float64 {
	jx, jz, jt := r.jacobians(q)
	M := make([][]float64, r.n)
	for a := range r.n {
		M[a] = make([]float64, r.n)
		for b := range r.n {
			for i, mp := range r.masses {
				M[a][b] += mp.mass*(jx[i][a]*jx[i][b]+jz[i][a]*jz[i][b]) + mp.iyy*jt[i][a]*jt[i][b]
			}
		}
	}
	for j := range r.n - 3 {
		M[3+j][3+j] += r.m.Bodies[j+1].Joint.Armature
	}
	return M
}

// accel returns q̈ for state (q, v) and controls u.
func (r *refModel) accel(q, v, u []float64) []float64 {
	n := r.n
	M := r.mass(q)
	// Coriolis: c = Ṁv − ½∂(vᵀMv)/∂q.
	const eps = 1e-5
	qp, qm := make([]float64, n), make([]float64, n)
	for a := range n {
		qp[a], qm[a] = q[a]+eps*v[a], q[a]-eps*v[a]
	}
	Mp, Mm := r.mass(qp), r.mass(qm)
	f := make([]float64, n)
	for a := range n {
		for b := range n {
			f[a] -= (Mp[a][b] - Mm[a][b]) / (2 * eps) * v[b]
		}
	}
	quad := func(M [][]float64) float64 {
		s := 0.0
		for a := range n {
			for b := range n {
				s += v[a] * M[a][b] * v[b]
			}
		}
		return s
	}
	for a := range n {
		copy(qp, q)
		copy(qm, q)
		qp[a] += eps
		qm[a] -= eps
		f[a] += 0.5 * (quad(r.mass(qp)) - quad(r.mass(qm))) / (2 * eps)
	}
	// Gravity.
	_, jz, _ := r.jacobians(q)
	for i, mp := range r.masses {
		for a := range n {
			f[a] -= mp.mass * r.m.Gravity * jz[i][a]
		}
	}
	// Motors and passive joint forces.
	for j := range n - 3 {
		h := r.m.Bodies[j+1].Joint
		f[3+j] += h.Gear*min(max(u[j], -1), 1) - h.Damping*v[3+j] - h.Stiffness*q[3+j]
	}
	return solve(M, f)
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(A [][]float64, b []float64) []float64 {
	n := len(b)
	a := make([][]float64, n)
	for i := range n {
		a[i] = append(append([]float64(nil), A[i]...), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := a[r][n]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x
}

// rk4 integrates (q, v) for duration T in steps of dt.
func (r *refModel) rk4(q, v, u []float64, T, dt float64) {
	n := r.n
	steps := int(math.Round(T / dt))
	tmpq, tmpv := make([]float64, n), make([]float64, n)
	for range steps {
		k1v := r.accel(q, v, u)
		k1q := append([]float64(nil), v...)
		for a := range n {
			tmpq[a], tmpv[a] = q[a]+dt/2*k1q[a], v[a]+dt/2*k1v[a]
		}
		k2v := r.accel(tmpq, tmpv, u)
		k2q := append([]float64(nil), tmpv...)
		for a := range n {
			tmpq[a], tmpv[a] = q[a]+dt/2*k2q[a], v[a]+dt/2*k2v[a]
		}
		k3v := r.accel(tmpq, tmpv, u)
		k3q := append([]float64(nil), tmpv...)
		for a := range n {
			tmpq[a], tmpv[a] = q[a]+dt*k3q[a], v[a]+dt*k3v[a]
		}
		k4v := r.accel(tmpq, tmpv, u)
		k4q := append([]float64(nil), tmpv...)
		for a := range n {
			q[a] += dt / 6 * (k1q[a] + 2*k2q[a] + 2*k3q[a] + k4q[a])
			v[a] += dt / 6 * (k1v[a] + 2*k2v[a] + 2*k3v[a] + k4v[a])
		}
	}
}
