//go:build mujoco

package mujoco

/*
#cgo LDFLAGS: -lmujoco
#include <stdlib.h>
#include "sim.h"
*/
import "C"

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/minrl/minrl/envs/locomotion"
)

//go:embed hopper.xml walker2d.xml half_cheetah.xml
var modelFiles embed.FS

// robot describes one model: its file and the simulator substeps per env
// step (Gymnasium's frame_skip).
type robot struct {
	file      string
	frameSkip int
}

var robots = map[string]robot{
	"Hopper":      {"hopper.xml", 4},
	"Walker2d":    {"walker2d.xml", 4},
	"HalfCheetah": {"half_cheetah.xml", 5},
}

// MaxAbs is the largest magnitude MuJoCo accepts in qpos and qvel (its
// mjMAXVAL); a larger value counts as a bad number.
const MaxAbs = 1e10

// ErrUnstable wraps the error of a step that MuJoCo could not simulate.
var ErrUnstable = errors.New("mujoco: unstable simulation")

var (
	loadMu sync.Mutex
	models = map[string]*C.mjModel{} // compiled once, shared read-only
)

func init() { C.mrl_install_handlers() }

// ModelXML returns the MJCF model of a robot ("Hopper", "Walker2d",
// "HalfCheetah").
func ModelXML(name string) ([]byte, error) {
	r, ok := robots[name]
	if !ok {
		return nil, fmt.Errorf("mujoco: no model for robot %q", name)
	}
	return modelFiles.ReadFile(r.file)
}

// model returns the compiled model of a robot, compiling it on first use.
//
// While MuJoCo compiles, it swaps the process-wide error handlers for its
// own; a step that failed in another goroutine in that moment would not
// reach this package's handler. Models compile once per process, so the
// window is a few milliseconds at start-up.
func model(name string) (*C.mjModel, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if m, ok := models[name]; ok {
		return m, nil
	}
	// mjModel and mjData are read through the header's layout: the library
	// must be the version the package was compiled against.
	if v := C.mj_version(); v != C.mjVERSION_HEADER {
		return nil, fmt.Errorf("mujoco: library version %d, headers %d: reinstall libmujoco-dev", int(v), int(C.mjVERSION_HEADER))
	}
	xml, err := ModelXML(name)
	if err != nil {
		return nil, err
	}
	m, err := compileLocked(robots[name].file, xml)
	if err != nil {
		return nil, err
	}
	models[name] = m
	return m, nil
}

// compileLocked compiles an MJCF document held in memory (through MuJoCo's
// virtual file system: no file is read or written). The caller holds
// loadMu: MuJoCo's compiler uses process-wide state.
func compileLocked(file string, xml []byte) (*C.mjModel, error) {
	cname := C.CString(file)
	defer C.free(unsafe.Pointer(cname))
	cxml := C.CBytes(xml)
	defer C.free(cxml)
	var errBuf [1024]C.char
	m := C.mrl_load_xml(cname, (*C.char)(cxml), C.int(len(xml)), &errBuf[0], C.int(len(errBuf)))
	if m == nil {
		return nil, fmt.Errorf("mujoco: load %s: %s", file, C.GoString(&errBuf[0]))
	}
	return m, nil
}

// Physics is locomotion.Physics on MuJoCo: one mjData over a shared model.
// Not safe for concurrent use; separate Physics values are independent.
type Physics struct {
	name string
	sim  *C.mrl_sim
	m    *C.mjModel
	dt   float64
	// Views of the C arrays (MuJoCo's mjtNum is double).
	qpos, qvel, ctrl []float64
}

// New builds the MuJoCo physics of a robot: "Hopper", "Walker2d" or
// "HalfCheetah" (the Name of its locomotion.Task). It starts in the model's
// qpos0 with zero velocity.
func New(name string) (*Physics, error) {
	m, err := model(name)
	if err != nil {
		return nil, err
	}
	return newPhysics(name, m, robots[name].frameSkip)
}

func newPhysics(name string, m *C.mjModel, frameSkip int) (*Physics, error) {
	var errBuf [256]C.char
	s := C.mrl_new(m, C.int(frameSkip), &errBuf[0], C.int(len(errBuf)))
	if s == nil {
		return nil, fmt.Errorf("mujoco: %s: %s", name, C.GoString(&errBuf[0]))
	}
	p := &Physics{
		name: name, sim: s, m: m,
		dt:   float64(m.opt.timestep) * float64(frameSkip),
		qpos: unsafe.Slice((*float64)(unsafe.Pointer(s.d.qpos)), int(m.nq)),
		qvel: unsafe.Slice((*float64)(unsafe.Pointer(s.d.qvel)), int(m.nv)),
		ctrl: unsafe.Slice((*float64)(unsafe.Pointer(s.d.ctrl)), int(m.nu)),
	}
	if err := p.SetState(p.QPos0(), make([]float64, len(p.qvel))); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// NewEnv puts a task on MuJoCo. seed seeds the reset noise until the first
// seeded Reset.
func NewEnv(task *locomotion.Task, seed uint64) (*locomotion.Env, error) {
	p, err := New(task.Name)
	if err != nil {
		return nil, err
	}
	if len(p.qpos) != task.NQ || len(p.qvel) != task.NV || len(p.ctrl) != task.ActDim {
		p.Close()
		return nil, fmt.Errorf("mujoco: %s model has nq=%d nv=%d nu=%d, task wants %d, %d, %d",
			task.Name, len(p.qpos), len(p.qvel), len(p.ctrl), task.NQ, task.NV, task.ActDim)
	}
	return locomotion.New(task, p, seed), nil
}

func (p *Physics) closed() bool { return p.sim == nil }

// QPos0 returns the model's reference configuration (MuJoCo's qpos0).
func (p *Physics) QPos0() []float64 {
	return append([]float64(nil), unsafe.Slice((*float64)(unsafe.Pointer(p.m.qpos0)), int(p.m.nq))...)
}

// SetState implements locomotion.Physics: mj_resetData, then qpos and qvel,
// then mj_forward (MuJoCo 2.2.2 has no mj_setState). Values must be finite
// and within ±MaxAbs.
func (p *Physics) SetState(qpos, qvel []float64) error {
	if p.closed() {
		return fmt.Errorf("mujoco %s: physics closed", p.name)
	}
	if len(qpos) != len(p.qpos) || len(qvel) != len(p.qvel) {
		return fmt.Errorf("mujoco %s: state has %d qpos and %d qvel values, want %d and %d",
			p.name, len(qpos), len(qvel), len(p.qpos), len(p.qvel))
	}
	for i, v := range qpos {
		if !(math.Abs(v) <= MaxAbs) {
			return fmt.Errorf("mujoco %s: qpos[%d] = %g is not a number MuJoCo accepts (finite, |x| <= %g)", p.name, i, v, MaxAbs)
		}
	}
	for i, v := range qvel {
		if !(math.Abs(v) <= MaxAbs) {
			return fmt.Errorf("mujoco %s: qvel[%d] = %g is not a number MuJoCo accepts (finite, |x| <= %g)", p.name, i, v, MaxAbs)
		}
	}
	return p.check(C.mrl_set_state(p.sim, (*C.double)(unsafe.Pointer(&qpos[0])), (*C.double)(unsafe.Pointer(&qvel[0]))))
}

// State implements locomotion.Physics.
func (p *Physics) State(qpos, qvel []float64) {
	copy(qpos, p.qpos)
	copy(qvel, p.qvel)
}

// Step implements locomotion.Physics: one cgo call runs frame_skip
// mj_step substeps with ctrl held (clamped to ctrlrange). After a MuJoCo
// warning the state is the one from before the step and the error wraps
// ErrUnstable.
func (p *Physics) Step(ctrl []float64) error {
	if p.closed() {
		return fmt.Errorf("mujoco %s: physics closed", p.name)
	}
	if len(ctrl) != len(p.ctrl) {
		return fmt.Errorf("mujoco %s: %d controls, want %d", p.name, len(ctrl), len(p.ctrl))
	}
	for i, v := range ctrl {
		if math.IsNaN(v) {
			return fmt.Errorf("mujoco %s: ctrl[%d] is NaN", p.name, i)
		}
	}
	return p.check(C.mrl_step(p.sim, (*C.double)(unsafe.Pointer(&ctrl[0]))))
}

// check turns a result code of sim.c into an error.
func (p *Physics) check(rc C.int) error {
	switch {
	case rc == C.MRL_OK:
		return nil
	case rc == C.MRL_EMJ:
		return fmt.Errorf("mujoco %s: %s", p.name, C.GoString(&p.sim.err[0]))
	default:
		return fmt.Errorf("%w: %s: %s", ErrUnstable, p.name, C.GoString(&p.sim.err[0]))
	}
}

// Dt implements locomotion.Physics: timestep × frame_skip.
func (p *Physics) Dt() float64 { return p.dt }

// Geoms implements locomotion.Physics: every capsule of the model, its
// axis (local z) from MuJoCo's geom pose projected to the x-z plane.
func (p *Physics) Geoms(dst []locomotion.Geom) []locomotion.Geom {
	if p.closed() || C.mrl_kinematics(p.sim) != C.MRL_OK {
		return dst
	}
	n := int(p.m.ngeom)
	typ := unsafe.Slice((*C.int)(unsafe.Pointer(p.m.geom_type)), n)
	size := unsafe.Slice((*float64)(unsafe.Pointer(p.m.geom_size)), 3*n)
	pos := unsafe.Slice((*float64)(unsafe.Pointer(p.sim.d.geom_xpos)), 3*n)
	mat := unsafe.Slice((*float64)(unsafe.Pointer(p.sim.d.geom_xmat)), 9*n)
	for g := range n {
		if typ[g] != C.mjGEOM_CAPSULE {
			continue
		}
		r, h := size[3*g], size[3*g+1]
		// xmat is row-major: the local z axis is its third column.
		ax, az := mat[9*g+2], mat[9*g+8]
		x, z := pos[3*g], pos[3*g+2]
		dst = append(dst, locomotion.Geom{X0: x - h*ax, Z0: z - h*az, X1: x + h*ax, Z1: z + h*az, Radius: r})
	}
	return dst
}

// BodyMass returns the mass MuJoCo computed for a named body.
func (p *Physics) BodyMass(body string) (float64, error) {
	cname := C.CString(body)
	defer C.free(unsafe.Pointer(cname))
	id := C.mj_name2id(p.m, C.mjOBJ_BODY, cname)
	if id < 0 {
		return 0, fmt.Errorf("mujoco %s: no body %q", p.name, body)
	}
	return float64(unsafe.Slice((*C.mjtNum)(unsafe.Pointer(p.m.body_mass)), int(p.m.nbody))[id]), nil
}

// Close implements locomotion.Physics; it frees the data (the model stays
// cached for the process).
func (p *Physics) Close() error {
	if p.sim != nil {
		C.mrl_free(p.sim)
		p.sim = nil
		p.qpos, p.qvel, p.ctrl = nil, nil, nil
	}
	return nil
}

var _ locomotion.Physics = (*Physics)(nil)
