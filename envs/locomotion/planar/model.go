package planar

import (
	"fmt"
	"math"
)

// Model describes one planar robot in MuJoCo's terms: a tree of bodies
// hanging from a free-floating torso (rootx, rootz, rooty), each child
// attached to its parent by a limited hinge with a motor, every body made
// of capsules in the x-z plane. HopperModel, Walker2dModel and
// HalfCheetahModel transcribe Gymnasium's XML files; the fields are
// exported so that a caller can inspect the numbers (or build a variant)
// and New checks them.
type Model struct {
	Name string
	// Timestep and FrameSkip are MuJoCo's: one control interval (Dt) is
	// Timestep × FrameSkip seconds.
	Timestep  float64
	FrameSkip int
	// Substeps splits each MuJoCo timestep into this many solver steps of
	// Timestep/Substeps (1: none).
	Substeps int
	// VelocityIterations is the number of projected Gauss-Seidel sweeps
	// over the contact and joint-limit rows per solver step (the hinges are
	// solved exactly); PositionIterations bounds Box2D's position
	// correction of the hinges per solver step.
	VelocityIterations, PositionIterations int
	// Gravity is the downward acceleration (MuJoCo's default 9.81).
	Gravity float64
	// RootZ0 is the torso frame's height when qpos[1] = 0: 0 where rootz
	// has ref = its start height (Hopper, Walker2d: qpos[1] is the absolute
	// height), the torso's start height where it has no ref (HalfCheetah:
	// qpos[1] is the change of height).
	RootZ0 float64
	// InitRootZ is qpos[1] at qpos0 (1.25, or 0 for HalfCheetah).
	InitRootZ float64
	// Density of every geom (kg/m³, MuJoCo's default 1000). TotalMass, when
	// positive, rescales every mass and inertia so that they sum to it
	// (MuJoCo's settotalmass).
	Density, TotalMass float64
	// FloorFriction is the floor geom's sliding friction; a contact takes
	// the larger of the floor's and the robot geom's (MuJoCo's mixing rule).
	FloorFriction float64
	// Contact is the soft-constraint model of every robot-floor contact,
	// Limit that of the joint limits (MuJoCo's solreflimit, solimplimit).
	Contact, Limit SoftContact
	// Bodies lists the bodies in MuJoCo's order: Bodies[0] is the torso,
	// Bodies[i] for i ≥ 1 carries hinge i−1, which is qpos[3+i−1].
	Bodies []Body
}

// Body is one rigid body of the tree.
type Body struct {
	Name string
	// Parent indexes Bodies (−1 for the torso).
	Parent int
	// Pos is the body frame's origin in its parent's frame at qpos0 (bodies
	// are not rotated in any of the three models). Unused for the torso.
	Pos Vec
	// Joint is the hinge to the parent (unused for the torso).
	Joint Hinge
	// Geoms are the body's capsules, in its own frame.
	Geoms []Capsule
}

// Vec is a point or vector in the x-z plane (x forward, z up).
type Vec struct{ X, Z float64 }

// Capsule is the segment (A, B) swept by a disc of radius R, with MuJoCo's
// sliding friction coefficient.
type Capsule struct {
	A, B     Vec
	R        float64
	Friction float64
}

// Hinge is a limited hinge joint with a motor.
type Hinge struct {
	Name string
	// Pos is the hinge point in the child body's frame.
	Pos Vec
	// AxisY is the y component of MuJoCo's joint axis: −1 for (0, −1, 0)
	// (Hopper, Walker2d: a positive angle turns the child counter-clockwise
	// as seen from the camera, x right and z up), +1 for (0, 1, 0)
	// (HalfCheetah, and every rooty: clockwise).
	AxisY float64
	// Lo, Hi is the range of the joint angle (radians).
	Lo, Hi float64
	// Gear is the motor's gear: torque = Gear × clamp(ctrl, −1, 1).
	Gear float64
	// Armature (kg·m²), Damping (N·m·s/rad) and Stiffness (N·m/rad, spring
	// reference 0) are MuJoCo's joint properties.
	Armature, Damping, Stiffness float64
}

// SoftContact holds MuJoCo's solref/solimp parameters and margin, for
// contacts or joint limits. The constraint pushes with the reference
// acceleration −b·v − k·r mixed with the unconstrained acceleration by the
// impedance d(r) (see doc.go).
type SoftContact struct {
	TimeConst, DampRatio float64 // solref
	// DMin, DMax, Width, Mid, Power: solimp. d(r) rises from DMin at zero
	// penetration to DMax at Width.
	DMin, DMax, Width, Mid, Power float64
	// Margin: contacts act from this distance on (MuJoCo's geom margin).
	Margin float64
}

// mjDefaultSoft is MuJoCo's default solref (0.02, 1) and solimp (0.9,
// 0.95, 0.001, 0.5, 2), margin 0, for contacts and joint limits alike.
var mjDefaultSoft = SoftContact{
	TimeConst: 0.02, DampRatio: 1,
	DMin: 0.9, DMax: 0.95, Width: 0.001, Mid: 0.5, Power: 2,
}

const deg = math.Pi / 180

// HopperModel is Gymnasium's hopper.xml (v2-v4): four bodies, three hinges
// with axis (0, −1, 0), range [−150°, 0°] for thigh and leg and ±45° for the
// foot, armature 1, damping 1, gear 200; geom friction 0.9 (foot 2.0),
// floor 1 (MuJoCo's default), solimp (0.8, 0.8, 0.01), margin 0.001;
// timestep 0.002, frame_skip 4.
func HopperModel() *Model {
	hinge := func(name string, pos Vec, lo, hi float64) Hinge {
		return Hinge{Name: name, Pos: pos, AxisY: -1, Lo: lo, Hi: hi, Gear: 200, Armature: 1, Damping: 1}
	}
	return &Model{
		Name: "Hopper", Timestep: 0.002, FrameSkip: 4, Substeps: 1,
		VelocityIterations: 8, PositionIterations: 3,
		Gravity: 9.81, RootZ0: 0, InitRootZ: 1.25, Density: 1000,
		FloorFriction: 1,
		Contact: SoftContact{TimeConst: 0.02, DampRatio: 1,
			DMin: 0.8, DMax: 0.8, Width: 0.01, Mid: 0.5, Power: 2, Margin: 0.001},
		Limit: mjDefaultSoft,
		Bodies: []Body{
			{Name: "torso", Parent: -1,
				Geoms: []Capsule{{A: Vec{0, 0.2}, B: Vec{0, -0.2}, R: 0.05, Friction: 0.9}}},
			{Name: "thigh", Parent: 0, Pos: Vec{0, -0.2},
				Joint: hinge("thigh_joint", Vec{0, 0}, -150*deg, 0),
				Geoms: []Capsule{{A: Vec{0, 0}, B: Vec{0, -0.45}, R: 0.05, Friction: 0.9}}},
			{Name: "leg", Parent: 1, Pos: Vec{0, -0.7},
				Joint: hinge("leg_joint", Vec{0, 0.25}, -150*deg, 0),
				Geoms: []Capsule{{A: Vec{0, 0.25}, B: Vec{0, -0.25}, R: 0.04, Friction: 0.9}}},
			{Name: "foot", Parent: 2, Pos: Vec{0.13, -0.35},
				Joint: hinge("foot_joint", Vec{-0.13, 0.1}, -45*deg, 45*deg),
				Geoms: []Capsule{{A: Vec{-0.26, 0.1}, B: Vec{0.13, 0.1}, R: 0.06, Friction: 2}}},
		},
	}
}

// Walker2dModel is Gymnasium's walker2d.xml (v2-v4): a torso and two
// identical legs (the foot capsule 0.2 m long), hinges with axis
// (0, −1, 0), armature 0.01, damping 0.1, gear 100; geom friction 0.9 (left
// foot 1.9), floor 0.7, MuJoCo's default solref/solimp; timestep 0.002,
// frame_skip 4.
func Walker2dModel() *Model {
	hinge := func(name string, pos Vec, lo, hi float64) Hinge {
		return Hinge{Name: name, Pos: pos, AxisY: -1, Lo: lo, Hi: hi, Gear: 100, Armature: 0.01, Damping: 0.1}
	}
	leg := func(suffix string, thigh int, footFriction float64) []Body {
		return []Body{
			{Name: "thigh" + suffix, Parent: 0, Pos: Vec{0, -0.2},
				Joint: hinge("thigh"+suffix+"_joint", Vec{0, 0}, -150*deg, 0),
				Geoms: []Capsule{{A: Vec{0, 0}, B: Vec{0, -0.45}, R: 0.05, Friction: 0.9}}},
			{Name: "leg" + suffix, Parent: thigh, Pos: Vec{0, -0.7},
				Joint: hinge("leg"+suffix+"_joint", Vec{0, 0.25}, -150*deg, 0),
				Geoms: []Capsule{{A: Vec{0, 0.25}, B: Vec{0, -0.25}, R: 0.04, Friction: 0.9}}},
			{Name: "foot" + suffix, Parent: thigh + 1, Pos: Vec{0.2, -0.35},
				Joint: hinge("foot"+suffix+"_joint", Vec{-0.2, 0.1}, -45*deg, 45*deg),
				Geoms: []Capsule{{A: Vec{-0.2, 0.1}, B: Vec{0, 0.1}, R: 0.06, Friction: footFriction}}},
		}
	}
	bodies := []Body{{Name: "torso", Parent: -1,
		Geoms: []Capsule{{A: Vec{0, 0.2}, B: Vec{0, -0.2}, R: 0.05, Friction: 0.9}}}}
	bodies = append(bodies, leg("", 1, 0.9)...)
	bodies = append(bodies, leg("_left", 4, 1.9)...)
	return &Model{
		Name: "Walker2d", Timestep: 0.002, FrameSkip: 4, Substeps: 1,
		VelocityIterations: 8, PositionIterations: 3,
		Gravity: 9.81, RootZ0: 0, InitRootZ: 1.25, Density: 1000,
		FloorFriction: 0.7, Contact: mjDefaultSoft, Limit: mjDefaultSoft, Bodies: bodies,
	}
}

// HalfCheetahModel is Gymnasium's half_cheetah.xml: a torso with a head
// and two three-segment legs, hinges with axis (0, +1, 0) and per-joint
// range, stiffness, damping and gear, armature 0.1, capsule radius 0.046,
// masses rescaled to 14 kg in total; friction 0.4 everywhere, solimp (0,
// 0.8, 0.01); timestep 0.01, frame_skip 5.
func HalfCheetahModel() *Model {
	// axisangle (0, 1, 0, θ) turns a capsule's local z axis to
	// (sin θ, cos θ) in the x-z plane; a capsule of half-length l centred
	// at c runs from c − l·u to c + l·u.
	capsule := func(cx, cz, angle, half float64) Capsule {
		ux, uz := math.Sin(angle), math.Cos(angle)
		return Capsule{A: Vec{cx - half*ux, cz - half*uz}, B: Vec{cx + half*ux, cz + half*uz}, R: 0.046, Friction: 0.4}
	}
	hinge := func(name string, lo, hi, stiffness, damping, gear float64) Hinge {
		return Hinge{Name: name, AxisY: 1, Lo: lo, Hi: hi, Gear: gear, Armature: 0.1, Damping: damping, Stiffness: stiffness}
	}
	return &Model{
		Name: "HalfCheetah", Timestep: 0.01, FrameSkip: 5, Substeps: 2,
		VelocityIterations: 8, PositionIterations: 3,
		Gravity: 9.81, RootZ0: 0.7, InitRootZ: 0, Density: 1000, TotalMass: 14,
		FloorFriction: 0.4,
		Contact: SoftContact{TimeConst: 0.02, DampRatio: 1,
			DMin: 0, DMax: 0.8, Width: 0.01, Mid: 0.5, Power: 2},
		// solreflimit (0.02, 1), solimplimit (0, 0.8, 0.03).
		Limit: SoftContact{TimeConst: 0.02, DampRatio: 1,
			DMin: 0, DMax: 0.8, Width: 0.03, Mid: 0.5, Power: 2},
		Bodies: []Body{
			{Name: "torso", Parent: -1, Geoms: []Capsule{
				{A: Vec{-0.5, 0}, B: Vec{0.5, 0}, R: 0.046, Friction: 0.4},
				capsule(0.6, 0.1, 0.87, 0.15), // head
			}},
			{Name: "bthigh", Parent: 0, Pos: Vec{-0.5, 0},
				Joint: hinge("bthigh", -0.52, 1.05, 240, 6, 120),
				Geoms: []Capsule{capsule(0.1, -0.13, -3.8, 0.145)}},
			{Name: "bshin", Parent: 1, Pos: Vec{0.16, -0.25},
				Joint: hinge("bshin", -0.785, 0.785, 180, 4.5, 90),
				Geoms: []Capsule{capsule(-0.14, -0.07, -2.03, 0.15)}},
			{Name: "bfoot", Parent: 2, Pos: Vec{-0.28, -0.14},
				Joint: hinge("bfoot", -0.4, 0.785, 120, 3, 60),
				Geoms: []Capsule{capsule(0.03, -0.097, -0.27, 0.094)}},
			{Name: "fthigh", Parent: 0, Pos: Vec{0.5, 0},
				Joint: hinge("fthigh", -1, 0.7, 180, 4.5, 120),
				Geoms: []Capsule{capsule(-0.07, -0.12, 0.52, 0.133)}},
			{Name: "fshin", Parent: 4, Pos: Vec{-0.14, -0.24},
				Joint: hinge("fshin", -1.2, 0.87, 120, 3, 60),
				Geoms: []Capsule{capsule(0.065, -0.09, -0.6, 0.106)}},
			{Name: "ffoot", Parent: 5, Pos: Vec{0.13, -0.18},
				Joint: hinge("ffoot", -0.5, 0.5, 60, 1.5, 30),
				Geoms: []Capsule{capsule(0.045, -0.07, -0.6, 0.07)}},
		},
	}
}

// clone is a deep copy of m.
func (m *Model) clone() *Model {
	c := *m
	c.Bodies = append([]Body(nil), m.Bodies...)
	for i := range c.Bodies {
		c.Bodies[i].Geoms = append([]Capsule(nil), m.Bodies[i].Geoms...)
	}
	return &c
}

// validate checks the model's structure and numbers.
func (m *Model) validate() error {
	switch {
	case len(m.Bodies) < 2:
		return fmt.Errorf("planar model %q: %d bodies, want a torso and at least one child", m.Name, len(m.Bodies))
	case !(m.Timestep > 0) || m.FrameSkip < 1 || m.Substeps < 1:
		return fmt.Errorf("planar model %q: timestep %g, frame skip %d, substeps %d", m.Name, m.Timestep, m.FrameSkip, m.Substeps)
	case m.VelocityIterations < 1 || m.PositionIterations < 0:
		return fmt.Errorf("planar model %q: %d velocity and %d position iterations", m.Name, m.VelocityIterations, m.PositionIterations)
	case !(m.Density > 0) || m.TotalMass < 0 || m.Gravity < 0:
		return fmt.Errorf("planar model %q: density %g, total mass %g, gravity %g", m.Name, m.Density, m.TotalMass, m.Gravity)
	case !m.Contact.valid():
		return fmt.Errorf("planar model %q: bad soft-contact parameters %+v", m.Name, m.Contact)
	case !m.Limit.valid():
		return fmt.Errorf("planar model %q: bad joint-limit parameters %+v", m.Name, m.Limit)
	}
	for i, b := range m.Bodies {
		if i == 0 && b.Parent != -1 {
			return fmt.Errorf("planar model %q: body 0 (%s) must be the root", m.Name, b.Name)
		}
		if i > 0 {
			if b.Parent < 0 || b.Parent >= i {
				return fmt.Errorf("planar model %q: body %d (%s) has parent %d; parents must come first", m.Name, i, b.Name, b.Parent)
			}
			j := b.Joint
			if math.Abs(j.AxisY) != 1 || !(j.Lo < j.Hi) || j.Lo > 0 || j.Hi < 0 || j.Gear < 0 ||
				j.Armature < 0 || j.Damping < 0 || j.Stiffness < 0 {
				return fmt.Errorf("planar model %q: joint %s: bad hinge %+v (qpos0 = 0 must be in range)", m.Name, j.Name, j)
			}
		}
		if len(b.Geoms) == 0 {
			return fmt.Errorf("planar model %q: body %s has no geom", m.Name, b.Name)
		}
		for _, g := range b.Geoms {
			if !(g.R > 0) || g.Friction < 0 {
				return fmt.Errorf("planar model %q: body %s: bad capsule %+v", m.Name, b.Name, g)
			}
		}
	}
	return nil
}

func (c SoftContact) valid() bool {
	return c.TimeConst > 0 && c.DampRatio > 0 && c.DMax > 0 && c.DMax < 1 &&
		c.DMin >= 0 && c.DMin <= c.DMax && c.Width >= 0 && c.Margin >= 0 &&
		c.Mid > 0 && c.Mid < 1 && c.Power >= 1
}

// massProps is a body's mass, centre of mass (body frame) and rotational
// inertia about the y axis through the centre of mass.
type massProps struct {
	mass float64
	com  Vec
	iyy  float64
}

// capsuleMass is MuJoCo's inertia of a solid capsule (inertiafromgeom): a
// cylinder of height H = |B − A| and two hemispherical caps of radius r,
// density rho. About an axis through the centre, perpendicular to the
// capsule's axis (here y):
//
//	m_cyl = ρπr²H, m_sph = ρ·4/3·πr³ (both caps),
//	I = m_cyl(3r² + H²)/12 + 2/5·m_sph·r² + m_sph·H(2H + 3r)/8,
//
// the last term moving each hemisphere (centroid 3r/8 from its flat face)
// from its face to the capsule's centre by the parallel-axis theorem.
func capsuleMass(g Capsule, rho float64) massProps {
	H := math.Hypot(g.B.X-g.A.X, g.B.Z-g.A.Z)
	r := g.R
	mCyl := rho * math.Pi * r * r * H
	mSph := rho * 4.0 / 3.0 * math.Pi * r * r * r
	iyy := mCyl*(3*r*r+H*H)/12 + 2.0/5.0*mSph*r*r + mSph*H*(2*H+3*r)/8
	return massProps{
		mass: mCyl + mSph,
		com:  Vec{(g.A.X + g.B.X) / 2, (g.A.Z + g.B.Z) / 2},
		iyy:  iyy,
	}
}

// bodyMasses combines each body's capsules (parallel-axis theorem) and
// applies TotalMass.
func (m *Model) bodyMasses() []massProps {
	out := make([]massProps, len(m.Bodies))
	total := 0.0
	for i, b := range m.Bodies {
		var p massProps
		for _, g := range b.Geoms {
			c := capsuleMass(g, m.Density)
			p.mass += c.mass
			p.com.X += c.mass * c.com.X
			p.com.Z += c.mass * c.com.Z
		}
		p.com.X /= p.mass
		p.com.Z /= p.mass
		for _, g := range b.Geoms {
			c := capsuleMass(g, m.Density)
			dx, dz := c.com.X-p.com.X, c.com.Z-p.com.Z
			p.iyy += c.iyy + c.mass*(dx*dx+dz*dz)
		}
		out[i] = p
		total += p.mass
	}
	if m.TotalMass > 0 {
		s := m.TotalMass / total
		for i := range out {
			out[i].mass *= s
			out[i].iyy *= s
		}
	}
	return out
}
