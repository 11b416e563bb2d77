//go:build mujoco

package mujoco

// Hooks for the tests, which cannot use cgo themselves.

/*
#include <stdlib.h>
#include "sim.h"
*/
import "C"

import (
	"math"
	"unsafe"
)

// handlersInstalled reports whether MuJoCo reports errors and warnings to
// this package (and so never writes MUJOCO_LOG.TXT nor exits).
func handlersInstalled() bool { return C.mrl_handlers_installed() != 0 }

// fromXML builds a Physics over a model of its own, compiled from xml (for
// tests). free releases that model after Close.
func fromXML(xml string, frameSkip int) (p *Physics, free func(), err error) {
	loadMu.Lock()
	m, err := compileLocked("test.xml", []byte(xml))
	loadMu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	p, err = newPhysics("test", m, frameSkip)
	if err != nil {
		C.mrl_free_model(m)
		return nil, nil, err
	}
	return p, func() { p.Close(); C.mrl_free_model(m) }, nil
}

// modelInfo reads model parameters for tests.
type modelInfo struct {
	timestep, gravityZ          float64
	integrator                  int
	gear, ctrlLo, ctrlHi        []float64 // per actuator
	armature, damping           []float64 // per dof
	stiffness, rangeLo, rangeHi []float64 // per joint
	limited                     []bool    // per joint
}

func (p *Physics) modelInfo() modelInfo {
	m := p.m
	nu, nv, nj := int(m.nu), int(m.nv), int(m.njnt)
	f := func(ptr *C.mjtNum, n int) []float64 {
		return append([]float64(nil), unsafe.Slice((*float64)(unsafe.Pointer(ptr)), n)...)
	}
	gear := f(m.actuator_gear, 6*nu)
	cr := f(m.actuator_ctrlrange, 2*nu)
	rng := f(m.jnt_range, 2*nj)
	lim := unsafe.Slice((*C.mjtByte)(unsafe.Pointer(m.jnt_limited)), nj)
	mi := modelInfo{
		timestep: float64(m.opt.timestep), gravityZ: float64(m.opt.gravity[2]),
		integrator: int(m.opt.integrator),
		armature:   f(m.dof_armature, nv), damping: f(m.dof_damping, nv),
		stiffness: f(m.jnt_stiffness, nj),
	}
	for i := range nu {
		mi.gear = append(mi.gear, gear[6*i])
		mi.ctrlLo, mi.ctrlHi = append(mi.ctrlLo, cr[2*i]), append(mi.ctrlHi, cr[2*i+1])
	}
	for j := range nj {
		mi.rangeLo, mi.rangeHi = append(mi.rangeLo, rng[2*j]), append(mi.rangeHi, rng[2*j+1])
		mi.limited = append(mi.limited, lim[j] != 0)
	}
	return mi
}

// bodyZ returns the world height of a body's frame for the current qpos.
func (p *Physics) bodyZ(body string) float64 {
	C.mrl_kinematics(p.sim)
	cname := C.CString(body)
	defer C.free(unsafe.Pointer(cname))
	id := int(C.mj_name2id(p.m, C.mjOBJ_BODY, cname))
	if id < 0 {
		return math.NaN()
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(p.sim.d.xpos)), 3*int(p.m.nbody))[3*id+2]
}

// geomFriction returns the sliding friction of a named geom.
func (p *Physics) geomFriction(geom string) float64 {
	cname := C.CString(geom)
	defer C.free(unsafe.Pointer(cname))
	id := int(C.mj_name2id(p.m, C.mjOBJ_GEOM, cname))
	if id < 0 {
		return -1
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(p.m.geom_friction)), 3*int(p.m.ngeom))[3*id]
}

// setIntegrator overwrites the model's integrator (tests: only on a model
// of its own from fromXML; MuJoCo stops with mju_error on an unknown one).
func (p *Physics) setIntegrator(v int) { p.m.opt.integrator = C.int(v) }
