package planar

import (
	"errors"
	"fmt"
	"math"

	"github.com/ByteArena/box2d"

	"github.com/minrl/minrl/envs/locomotion"
)

// MaxJointDrift is the largest distance (m) between the two anchor points
// of a hinge that Step accepts at the end of a control step (before the
// projection back onto the generalised coordinates); beyond it the hinges
// have come apart, the simulation has broken down (Box2D's own joints
// separate silently under absurd loads), and Step reports an error.
const MaxJointDrift = 0.05

// ErrUnstable is wrapped by Step's error when the simulation broke down
// (a non-finite state or a joint that came apart).
var ErrUnstable = errors.New("planar: simulation unstable")

// Physics simulates one Model. It implements locomotion.Physics.
//
// Box2D holds the robot: one body per MuJoCo body (mass, centre of mass,
// rotational inertia, transform) and one revolute joint per hinge, whose
// position correction keeps the hinges together. Physics runs the
// simulation step itself (solver.go) rather than b2World.Step, because
// Box2D has no joint armature, damping or stiffness, no soft constraints
// and allocates on every step: see doc.go for the method and every
// difference from MuJoCo. A Physics is not safe for concurrent use;
// different Physics values are independent.
type Physics struct {
	m      Model
	world  *box2d.B2World
	bodies []*box2d.B2Body
	joints []*box2d.B2RevoluteJoint // joints[j] is hinge j, moving bodies[j+1]

	nb int
	// Per body: centre of mass in the body frame, inverse mass and inverse
	// rotational inertia about the centre of mass.
	lc         []Vec
	invM, invI []float64
	hinges     []hinge
	circles    []circle // two per capsule (its end discs)
	geoms      []geomRT

	// The bodies in Box2D's solver layout (centre of mass, angle; linear
	// and angular velocity): simulated during a step, placed on qpos and
	// qvel between steps.
	pos        []box2d.B2Position
	vel        []box2d.B2Velocity
	sinA, cosA []float64
	torque     []float64 // motor torque on each body, held for one Step
	qpos, qvel []float64 // the state between steps
	drift      float64   // JointDrift
	data       box2d.B2SolverData

	h    float64 // solver step
	nSub int     // solver steps per control step
	solver
	closed bool
}

// hinge is hinge j between parent a and child b: Box2D's relative angle
// θ = angle_b − angle_a is s·q (s = −AxisY).
type hinge struct {
	a, b             int
	s, gear          float64
	arm, damp, stiff float64
	lo, hi           float64 // range of q
	la, lb           Vec     // hinge point − centre of mass, body frames of a and b
	lamLo, lamHi     float64 // warm start of the limit rows
}

// circle is one end disc of a capsule: a contact slot against the floor.
type circle struct {
	body       int
	c          Vec // centre − centre of mass, body frame
	r, mu      float64
	lamN, lamT float64 // warm start of the contact rows
}

// geomRT is a capsule for rendering, in its body's frame.
type geomRT struct {
	body int
	a, b Vec
	r    float64
}

// New builds the robot of m in its qpos0 pose at rest. The model is
// copied.
func New(m *Model) (*Physics, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	p := &Physics{m: *m.clone()}
	nb := len(m.Bodies)
	nj := nb - 1
	p.nb = nb
	w := box2d.MakeB2World(box2d.MakeB2Vec2(0, -m.Gravity))
	p.world = &w // copied before any body exists; never copied again
	p.world.SetAllowSleeping(false)
	p.world.M_continuousPhysics = false // never stepped by Box2D

	masses := p.m.bodyMasses()
	p.lc = make([]Vec, nb)
	p.invM = make([]float64, nb)
	p.invI = make([]float64, nb)
	p.pos = make([]box2d.B2Position, nb)
	p.vel = make([]box2d.B2Velocity, nb)
	p.sinA = make([]float64, nb)
	p.cosA = make([]float64, nb)
	p.torque = make([]float64, nb)
	p.qpos = make([]float64, 3+nj)
	p.qvel = make([]float64, 3+nj)
	p.bodies = make([]*box2d.B2Body, nb)
	for i, b := range p.m.Bodies {
		mp := masses[i]
		p.lc[i] = mp.com
		p.invM[i] = 1 / mp.mass
		p.invI[i] = 1 / mp.iyy
		bd := box2d.MakeB2BodyDef()
		bd.Type = box2d.B2BodyType.B2_dynamicBody
		bd.AllowSleep = false
		body := p.world.CreateBody(&bd)
		// Box2D's MassData.I is about the body origin.
		body.SetMassData(&box2d.B2MassData{
			Mass:   mp.mass,
			Center: box2d.MakeB2Vec2(mp.com.X, mp.com.Z),
			I:      mp.iyy + mp.mass*(mp.com.X*mp.com.X+mp.com.Z*mp.com.Z),
		})
		if math.Abs(body.M_mass-mp.mass) > 1e-12*mp.mass || math.Abs(body.M_I-mp.iyy) > 1e-9*mp.iyy {
			return nil, fmt.Errorf("planar model %q: Box2D kept mass %g, inertia %g for body %s, want %g, %g", m.Name, body.M_mass, body.M_I, b.Name, mp.mass, mp.iyy)
		}
		body.M_islandIndex = i // the solver arrays are indexed by body
		p.bodies[i] = body
		for _, g := range b.Geoms {
			p.geoms = append(p.geoms, geomRT{body: i, a: g.A, b: g.B, r: g.R})
			mu := max(g.Friction, m.FloorFriction)
			for _, e := range [2]Vec{g.A, g.B} {
				p.circles = append(p.circles, circle{body: i, c: Vec{e.X - mp.com.X, e.Z - mp.com.Z}, r: g.R, mu: mu})
			}
		}
	}

	// Place the bodies at qpos0, where the joints are defined.
	qpos0 := make([]float64, 3+nj)
	qpos0[1] = m.InitRootZ
	if err := p.SetState(qpos0, make([]float64, 3+nj)); err != nil {
		return nil, err
	}
	p.hinges = make([]hinge, nj)
	p.joints = make([]*box2d.B2RevoluteJoint, nj)
	for j := range nj {
		b := p.m.Bodies[j+1]
		h := b.Joint
		s := -h.AxisY
		anchorA := Vec{b.Pos.X + h.Pos.X, b.Pos.Z + h.Pos.Z} // in the parent's frame
		pc, cc := masses[b.Parent].com, masses[j+1].com
		p.hinges[j] = hinge{
			a: b.Parent, b: j + 1, s: s, gear: h.Gear,
			arm: h.Armature, damp: h.Damping, stiff: h.Stiffness,
			lo: h.Lo, hi: h.Hi,
			la: Vec{anchorA.X - pc.X, anchorA.Z - pc.Z},
			lb: Vec{h.Pos.X - cc.X, h.Pos.Z - cc.Z},
		}
		jd := box2d.MakeB2RevoluteJointDef()
		jd.BodyA = p.bodies[b.Parent]
		jd.BodyB = p.bodies[j+1]
		jd.CollideConnected = false
		jd.LocalAnchorA = box2d.MakeB2Vec2(anchorA.X, anchorA.Z)
		jd.LocalAnchorB = box2d.MakeB2Vec2(h.Pos.X, h.Pos.Z)
		jd.ReferenceAngle = 0
		// The limits are soft rows of the solver (MuJoCo's); Box2D's hard
		// limit stays off, its range recorded for reference only.
		jd.EnableLimit = false
		jd.LowerAngle, jd.UpperAngle = min(s*h.Lo, s*h.Hi), max(s*h.Lo, s*h.Hi)
		rj, ok := p.world.CreateJoint(&jd).(*box2d.B2RevoluteJoint)
		if !ok {
			return nil, fmt.Errorf("planar model %q: Box2D did not create a revolute joint for %s", m.Name, h.Name)
		}
		p.joints[j] = rj
	}

	p.nSub = m.FrameSkip * m.Substeps
	p.h = m.Timestep / float64(m.Substeps)
	p.data = box2d.B2SolverData{
		Step: box2d.B2TimeStep{
			Dt: p.h, Inv_dt: 1 / p.h, DtRatio: 1,
			VelocityIterations: m.VelocityIterations, PositionIterations: m.PositionIterations,
		},
		Positions:  p.pos,
		Velocities: p.vel,
	}
	// InitVelocityConstraints records each joint's body indices, centres of
	// mass and inverse masses, which its position correction uses; without
	// warm starting it changes no velocity.
	for _, j := range p.joints {
		j.InitVelocityConstraints(p.data)
	}
	p.solver.init(p)
	return p, nil
}

// Model returns a copy of the model the physics was built from.
func (p *Physics) Model() *Model { return p.m.clone() }

// NQ is the number of generalised positions (and velocities): 3 + hinges.
func (p *Physics) NQ() int { return 3 + p.nb - 1 }

// Dt implements locomotion.Physics: Timestep × FrameSkip.
func (p *Physics) Dt() float64 { return p.m.Timestep * float64(p.m.FrameSkip) }

// rot is Box2D's rotation by angle a (counter-clockwise as seen from the
// camera: x right, z up) applied to v.
func rot(s, c float64, v Vec) Vec { return Vec{c*v.X - s*v.Z, s*v.X + c*v.Z} }

// SetState implements locomotion.Physics. The generalised coordinates are
// the state between steps: SetState stores qpos and qvel as given (State
// returns them unchanged) and places every body by forward kinematics
// (MuJoCo's conventions, see doc.go).
func (p *Physics) SetState(qpos, qvel []float64) error {
	n := p.NQ()
	if len(qpos) != n || len(qvel) != n {
		return fmt.Errorf("planar %s: state has %d qpos and %d qvel values, want %d and %d", p.m.Name, len(qpos), len(qvel), n, n)
	}
	for i := range n {
		if !finite(qpos[i]) || !finite(qvel[i]) {
			return fmt.Errorf("planar %s: non-finite state", p.m.Name)
		}
	}
	if p.closed {
		return fmt.Errorf("planar %s: %w", p.m.Name, errClosed)
	}
	copy(p.qpos, qpos)
	copy(p.qvel, qvel)
	p.place(qpos, qvel)
	p.syncBodies()
	p.drift = 0
	return nil
}

// place sets every body's centre of mass, angle and velocities from
// (qpos, qvel) by forward kinematics down the tree: the torso's frame from
// the root joints, each child's frame by turning it about its hinge point,
// which is fixed in the parent's frame; velocities likewise (the hinge
// point moves with the parent, the child turns about it at ω_parent + s·q̇).
func (p *Physics) place(qpos, qvel []float64) {
	// origin[i], angle[i]: the body frame; vo[i]: its origin's velocity.
	for i, b := range p.m.Bodies {
		var o, vo Vec
		var a, w float64
		if i == 0 {
			o = Vec{qpos[0], p.m.RootZ0 + qpos[1]}
			a = -qpos[2] // rooty has axis (0, 1, 0)
			vo = Vec{qvel[0], qvel[1]}
			w = -qvel[2]
		} else {
			j := i - 1
			s := -b.Joint.AxisY
			pi := b.Parent
			pa := p.pos[pi].A
			ps, pc := p.sinA[pi], p.cosA[pi]
			po := p.origin(pi)
			pw := p.vel[pi].W
			a = pa + s*qpos[3+j]
			w = pw + s*qvel[3+j]
			// The hinge point, fixed in both frames.
			hp := Vec{b.Pos.X + b.Joint.Pos.X, b.Pos.Z + b.Joint.Pos.Z}
			hw := rot(ps, pc, hp)
			P := Vec{po.X + hw.X, po.Z + hw.Z}
			// Velocity of the hinge point as a point of the parent.
			pvo := p.originVel(pi)
			vP := Vec{pvo.X - pw*hw.Z, pvo.Z + pw*hw.X}
			sa, ca := math.Sincos(a)
			jw := rot(sa, ca, b.Joint.Pos)
			o = Vec{P.X - jw.X, P.Z - jw.Z}
			vo = Vec{vP.X + w*jw.Z, vP.Z - w*jw.X} // v(P) + ω × (o − P)
		}
		sa, ca := math.Sincos(a)
		lw := rot(sa, ca, p.lc[i])
		p.pos[i] = box2d.B2Position{C: box2d.MakeB2Vec2(o.X+lw.X, o.Z+lw.Z), A: a}
		p.vel[i] = box2d.B2Velocity{V: box2d.MakeB2Vec2(vo.X-w*lw.Z, vo.Z+w*lw.X), W: w}
		p.sinA[i], p.cosA[i] = sa, ca
	}
}

var errClosed = errors.New("physics closed")

// origin is body i's frame origin (world), from its centre of mass; sinA
// and cosA must be current.
func (p *Physics) origin(i int) Vec {
	lw := rot(p.sinA[i], p.cosA[i], p.lc[i])
	return Vec{p.pos[i].C.X - lw.X, p.pos[i].C.Y - lw.Z}
}

// originVel is the velocity of body i's frame origin.
func (p *Physics) originVel(i int) Vec {
	lw := rot(p.sinA[i], p.cosA[i], p.lc[i])
	w := p.vel[i].W
	// v(o) = v(c) + ω × (o − c), o − c = −lw.
	return Vec{p.vel[i].V.X + w*lw.Z, p.vel[i].V.Y - w*lw.X}
}

// State implements locomotion.Physics: the state SetState or the last
// Step left.
func (p *Physics) State(qpos, qvel []float64) {
	copy(qpos, p.qpos)
	copy(qvel, p.qvel)
}

// read computes the generalised coordinates from the bodies: rootx, rootz
// and rooty from the torso's frame, hinge angles and velocities from the
// relative motion of each child and its parent (MuJoCo's conventions).
func (p *Physics) read(qpos, qvel []float64) {
	for i := range p.pos {
		p.sinA[i], p.cosA[i] = math.Sincos(p.pos[i].A)
	}
	o := p.origin(0)
	vo := p.originVel(0)
	qpos[0], qpos[1], qpos[2] = o.X, o.Z-p.m.RootZ0, -p.pos[0].A
	qvel[0], qvel[1], qvel[2] = vo.X, vo.Z, -p.vel[0].W
	for j := range p.hinges {
		h := &p.hinges[j]
		qpos[3+j] = h.s * (p.pos[h.b].A - p.pos[h.a].A)
		qvel[3+j] = h.s * (p.vel[h.b].W - p.vel[h.a].W)
	}
}

// resetWarmStart clears every accumulated impulse, so that a control step
// depends on the state alone.
func (p *Physics) resetWarmStart() {
	for j := range p.hinges {
		p.hinges[j].lamLo, p.hinges[j].lamHi = 0, 0
	}
	for k := range p.circles {
		p.circles[k].lamN, p.circles[k].lamT = 0, 0
	}
}

// syncBodies copies the solver state into the Box2D bodies.
func (p *Physics) syncBodies() {
	for i, b := range p.bodies {
		b.M_sweep.C = p.pos[i].C
		b.M_sweep.A = p.pos[i].A
		b.M_sweep.C0 = p.pos[i].C
		b.M_sweep.A0 = p.pos[i].A
		b.M_linearVelocity = p.vel[i].V
		b.M_angularVelocity = p.vel[i].W
		b.SynchronizeTransform()
	}
}

// Step implements locomotion.Physics.
func (p *Physics) Step(ctrl []float64) error {
	if p.closed {
		return fmt.Errorf("planar %s: %w", p.m.Name, errClosed)
	}
	if len(ctrl) != len(p.hinges) {
		return fmt.Errorf("planar %s: %d controls, want %d", p.m.Name, len(ctrl), len(p.hinges))
	}
	clear(p.torque)
	for j, u := range ctrl {
		if math.IsNaN(u) {
			return fmt.Errorf("planar %s: control %d is NaN", p.m.Name, j)
		}
		// τ on q is gear·u; on Box2D's relative angle s·q it is s·gear·u,
		// applied +τ to the child and −τ to the parent.
		h := &p.hinges[j]
		t := h.s * h.gear * min(max(u, -1), 1)
		p.torque[h.b] += t
		p.torque[h.a] -= t
	}
	p.resetWarmStart()
	for range p.nSub {
		p.substep()
	}
	// Measure how far the hinges drifted apart, bring them together and
	// read the generalised coordinates, then place the bodies on them: the
	// state is (qpos, qvel), so that a step depends on it alone and
	// SetState replays exactly.
	p.drift = p.gap()
	p.settle()
	p.read(p.qpos, p.qvel)
	for i := range p.qpos {
		if !finite(p.qpos[i]) || !finite(p.qvel[i]) {
			return fmt.Errorf("%w: %s: non-finite state", ErrUnstable, p.m.Name)
		}
	}
	p.place(p.qpos, p.qvel)
	p.syncBodies()
	if p.drift > MaxJointDrift {
		return fmt.Errorf("%w: %s: joints %.3g m apart", ErrUnstable, p.m.Name, p.drift)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// JointDrift is the largest distance between the two anchor points of a
// hinge at the end of the last Step, before the bodies were placed back
// on the generalised coordinates (Box2D corrects the hinges' position
// error iteratively, so they may drift apart within a step).
func (p *Physics) JointDrift() float64 { return p.drift }

// anchorGap is the largest distance between the two anchor points of a
// hinge, from Box2D's joints and bodies.
func (p *Physics) anchorGap() float64 {
	d := 0.0
	for _, j := range p.joints {
		a, b := j.GetAnchorA(), j.GetAnchorB()
		d = max(d, math.Hypot(a.X-b.X, a.Y-b.Y))
	}
	return d
}

// Geoms implements locomotion.Physics: every capsule in world coordinates.
func (p *Physics) Geoms(dst []locomotion.Geom) []locomotion.Geom {
	for i := range p.pos {
		p.sinA[i], p.cosA[i] = math.Sincos(p.pos[i].A)
	}
	for _, g := range p.geoms {
		s, c := p.sinA[g.body], p.cosA[g.body]
		o := p.origin(g.body)
		a, b := rot(s, c, g.a), rot(s, c, g.b)
		dst = append(dst, locomotion.Geom{
			X0: o.X + a.X, Z0: o.Z + a.Z, X1: o.X + b.X, Z1: o.Z + b.Z, Radius: g.r,
		})
	}
	return dst
}

// Close implements locomotion.Physics; the physics is unusable after.
func (p *Physics) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for _, j := range p.joints {
		p.world.DestroyJoint(j)
	}
	for _, b := range p.bodies {
		p.world.DestroyBody(b)
	}
	p.joints, p.bodies = nil, nil
	return nil
}
