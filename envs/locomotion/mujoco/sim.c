//go:build mujoco

// The C side of package mujoco: every call into MuJoCo runs here, guarded so
// that a MuJoCo error (mju_error) comes back as an error code instead of
// ending the process, and a step runs all frame_skip substeps in one call.

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

// MuJoCo calls mju_user_error and mju_user_warning, process-wide function
// pointers, from whatever thread hit the problem; the guard and the message
// are therefore thread-local. A cgo call runs on one OS thread from start to
// end, so the guard set at the top of a call is the one its errors find.
static __thread jmp_buf* guard;
static __thread char* guard_msg;
static __thread int guard_msg_sz;

static void on_error(const char* msg) {
  if (guard) {
    if (guard_msg) {
      snprintf(guard_msg, guard_msg_sz, "MuJoCo error: %s", msg);
    }
    longjmp(*guard, 1);
  }
  // Every call this package makes into MuJoCo is guarded, so an unguarded
  // error comes from other code in the process. MuJoCo cannot continue
  // after mju_error; fail loudly rather than run on corrupt memory.
  fprintf(stderr, "minrl/mujoco: unguarded MuJoCo error: %s\n", msg);
  abort();
}

// Warnings are counted in mjData.warning, which mrl_step checks; installing
// a handler keeps MuJoCo from writing MUJOCO_LOG.TXT and stdout.
static void on_warning(const char* msg) {
  if (guard_msg) {
    snprintf(guard_msg, guard_msg_sz, "MuJoCo warning: %s", msg);
  }
}

void mrl_install_handlers(void) {
  mju_user_error = on_error;
  mju_user_warning = on_warning;
}

// mrl_handlers_installed reports whether this file's handlers are the
// ones MuJoCo calls (MuJoCo's own write MUJOCO_LOG.TXT and may exit).
int mrl_handlers_installed(void) {
  return mju_user_error == on_error && mju_user_warning == on_warning;
}

#define GUARD(msgbuf, msgsz, on_fail)        \
  jmp_buf jb;                                \
  guard_msg = (msgbuf);                      \
  guard_msg_sz = (msgsz);                    \
  if (setjmp(jb)) {                          \
    guard = NULL;                            \
    guard_msg = NULL;                        \
    on_fail;                                 \
  }                                          \
  guard = &jb;

#define UNGUARD() \
  guard = NULL;   \
  guard_msg = NULL;

// mrl_load_xml compiles an MJCF document held in memory, through a
// one-file virtual file system: nothing is read from or written to disk.
// Not thread-safe: MuJoCo's compiler swaps the process-wide error handlers
// and keeps the last parsed model in a global; the caller serialises loads.
mjModel* mrl_load_xml(const char* name, const char* xml, int len, char* err, int errsz) {
  mjVFS* vfs = malloc(sizeof(mjVFS));  // about 2 MB: not on the stack
  if (!vfs) {
    snprintf(err, errsz, "out of memory for the VFS");
    return NULL;
  }
  mjModel* m = NULL;
  mj_defaultVFS(vfs);
  GUARD(err, errsz, {
    mj_deleteVFS(vfs);
    free(vfs);
    mrl_install_handlers();
    return NULL;
  });
  if (mj_makeEmptyFileVFS(vfs, name, len) != 0) {
    UNGUARD();
    snprintf(err, errsz, "cannot add %s to the VFS", name);
    free(vfs);
    return NULL;
  }
  int i = mj_findFileVFS(vfs, name);
  memcpy(vfs->filedata[i], xml, len);
  err[0] = 0;
  m = mj_loadXML(name, vfs, err, errsz);
  mj_freeLastXML();
  mj_deleteVFS(vfs);
  UNGUARD();
  free(vfs);
  // The compiler restores the handlers it found; install ours again in
  // case another user of MuJoCo changed them meanwhile.
  mrl_install_handlers();
  return m;
}

void mrl_free_model(mjModel* m) {
  if (m) mj_deleteModel(m);
}

mrl_sim* mrl_new(const mjModel* m, int frame_skip, char* err, int errsz) {
  mrl_sim* s = calloc(1, sizeof(mrl_sim));
  if (!s) {
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  s->m = m;
  s->frame_skip = frame_skip;
  s->saved = malloc(sizeof(mjtNum) * (m->nq + m->nv + m->na + 1));
  if (!s->saved) {
    free(s);
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  GUARD(err, errsz, {
    free(s->saved);
    free(s);
    return NULL;
  });
  s->d = mj_makeData(m);
  UNGUARD();
  if (!s->d) {
    snprintf(err, errsz, "mj_makeData failed");
    free(s->saved);
    free(s);
    return NULL;
  }
  return s;
}

void mrl_free(mrl_sim* s) {
  if (!s) return;
  if (s->d) mj_deleteData(s->d);
  free(s->saved);
  free(s);
}

// first_warning returns the first warning, other than a full visual-geom
// buffer (rendering only), that the data has counted, or -1.
static int first_warning(const mjData* d) {
  for (int w = 0; w < mjNWARNING; w++) {
    if (w != mjWARN_VGEOMFULL && d->warning[w].number > 0) return w;
  }
  return -1;
}

static void clear_warnings(mjData* d) {
  for (int w = 0; w < mjNWARNING; w++) {
    d->warning[w].number = 0;
    d->warning[w].lastinfo = 0;
  }
}

static void warning_text(mrl_sim* s, int w) {
  static const char* what[mjNWARNING] = {
      "(near) singular inertia matrix", "too many contacts",
      "too many constraints",          "too many visual geoms",
      "bad number in qpos",            "bad number in qvel",
      "bad number in qacc",            "bad number in ctrl",
  };
  snprintf(s->err, sizeof(s->err), "MuJoCo warning in the step from t=%.4g s: %s (index %d); the simulation is unstable",
           s->d->time, what[w], s->d->warning[w].lastinfo);
}

// mrl_set_state resets the data, writes qpos and qvel, and runs mj_forward
// (MuJoCo 2.2.2 has no mj_setState).
int mrl_set_state(mrl_sim* s, const mjtNum* qpos, const mjtNum* qvel) {
  const mjModel* m = s->m;
  mjData* d = s->d;
  GUARD(s->err, sizeof(s->err), {
    mj_resetData(m, d);
    return MRL_EMJ;
  });
  mj_resetData(m, d);
  memcpy(d->qpos, qpos, sizeof(mjtNum) * m->nq);
  memcpy(d->qvel, qvel, sizeof(mjtNum) * m->nv);
  mj_forward(m, d);
  UNGUARD();
  int w = first_warning(d);
  if (w >= 0) {
    warning_text(s, w);
    return MRL_EWARN + w;
  }
  return MRL_OK;
}

static void save_state(mrl_sim* s) {
  const mjModel* m = s->m;
  mjData* d = s->d;
  mjtNum* p = s->saved;
  memcpy(p, d->qpos, sizeof(mjtNum) * m->nq);
  p += m->nq;
  memcpy(p, d->qvel, sizeof(mjtNum) * m->nv);
  p += m->nv;
  memcpy(p, d->act, sizeof(mjtNum) * m->na);
  p += m->na;
  *p = d->time;
}

// restore_state puts back the state from before the step. MuJoCo has reset
// the data when it met a bad number; the caller then sees where the robot
// was, not MuJoCo's qpos0.
static void restore_state(mrl_sim* s) {
  const mjModel* m = s->m;
  mjData* d = s->d;
  const mjtNum* p = s->saved;
  memcpy(d->qpos, p, sizeof(mjtNum) * m->nq);
  p += m->nq;
  memcpy(d->qvel, p, sizeof(mjtNum) * m->nv);
  p += m->nv;
  memcpy(d->act, p, sizeof(mjtNum) * m->na);
  p += m->na;
  d->time = *p;
}

// mrl_step holds ctrl (clamped to the actuators' ctrlrange) for frame_skip
// substeps. It stops at the first warning: MuJoCo has then reset the data
// (bad qpos, qvel or qacc) or dropped contacts or constraints, so the
// simulation is no longer the one asked for; the state is put back to
// before the step and the warning becomes the error.
int mrl_step(mrl_sim* s, const mjtNum* ctrl) {
  const mjModel* m = s->m;
  mjData* d = s->d;
  for (int i = 0; i < m->nu; i++) {
    mjtNum c = ctrl[i];
    if (m->actuator_ctrllimited[i]) {
      const mjtNum lo = m->actuator_ctrlrange[2 * i], hi = m->actuator_ctrlrange[2 * i + 1];
      c = c < lo ? lo : (c > hi ? hi : c);
    }
    d->ctrl[i] = c;
  }
  save_state(s);
  clear_warnings(d);
  GUARD(s->err, sizeof(s->err), {
    mj_resetData(m, d);
    restore_state(s);
    return MRL_EMJ;
  });
  for (int k = 0; k < s->frame_skip; k++) {
    mj_step(m, d);
    int w = first_warning(d);
    if (w >= 0) {
      UNGUARD();
      restore_state(s);
      warning_text(s, w);
      clear_warnings(d);
      return MRL_EWARN + w;
    }
  }
  UNGUARD();
  return MRL_OK;
}

// mrl_kinematics computes body and geom poses for the current qpos (after
// mj_step they lag one substep behind it).
int mrl_kinematics(mrl_sim* s) {
  GUARD(s->err, sizeof(s->err), { return MRL_EMJ; });
  mj_kinematics(s->m, s->d);
  UNGUARD();
  return MRL_OK;
}
