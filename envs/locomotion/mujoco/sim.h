// Declarations of sim.c, the C side of package mujoco (build tag mujoco).

#ifndef MINRL_MUJOCO_SIM_H_
#define MINRL_MUJOCO_SIM_H_

#include <mujoco/mujoco.h>

// mrl_sim is one simulation: a shared, read-only model and its own data.
typedef struct {
  const mjModel* m;
  mjData* d;
  int frame_skip;
  mjtNum* saved;  // qpos, qvel, act, time before the current step
  char err[1024]; // the last error's text
} mrl_sim;

// Result codes: 0 success, MRL_EMJ a MuJoCo error (mju_error), otherwise
// MRL_EWARN + the index of the mjtWarning that ended the step.
enum { MRL_OK = 0, MRL_EMJ = -1, MRL_EWARN = 1 };

void mrl_install_handlers(void);
mjModel* mrl_load_xml(const char* name, const char* xml, int len, char* err, int errsz);
void mrl_free_model(mjModel* m);
mrl_sim* mrl_new(const mjModel* m, int frame_skip, char* err, int errsz);
void mrl_free(mrl_sim* s);
int mrl_set_state(mrl_sim* s, const mjtNum* qpos, const mjtNum* qvel);
int mrl_step(mrl_sim* s, const mjtNum* ctrl);
int mrl_kinematics(mrl_sim* s);
int mrl_handlers_installed(void);

#endif  // MINRL_MUJOCO_SIM_H_
