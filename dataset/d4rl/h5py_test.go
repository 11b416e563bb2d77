package d4rl

import (
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
)

// The h5py interop test needs Debian's python3-h5py (numpy bools are
// stored as enum(int8){FALSE, TRUE}). CI installs it; elsewhere the test
// skips.
const python = "/usr/bin/python3"

func needH5py(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import h5py, numpy").CombinedOutput(); err != nil {
		t.Skipf("h5py interop test skipped: %s cannot import h5py (apt-get install python3-h5py): %v %s", python, err, out)
	}
}

// The same value formulas on both sides, exact in float32:
//
//	obs[i, j]  = i/4 + j           act[i, j] = ((7i + j) mod 11)/10 − 1/2
//	rew[i]     = (i mod 13)/2      next[i, j] = obs[i, j] + 1/8
//	qpos[i, j] = i − j             qvel[i, j] = −i/2 + j
//	terminals: i mod 50 = 49       timeouts: i mod 77 = 76 and not terminal
const formulaPy = `
import sys, json, numpy as np, h5py

def formula(n, od=3, ad=2):
    i = np.arange(n)
    f = lambda x: np.asarray(x, dtype=np.float32)
    obs = f(i)[:, None] * np.float32(0.25) + f(np.arange(od))[None, :]
    act = f((7 * i[:, None] + np.arange(ad)[None, :]) % 11) / np.float32(10) - np.float32(0.5)
    rew = f(i % 13) / np.float32(2)
    nxt = obs + np.float32(0.125)
    qpos = f(i)[:, None] - f(np.arange(4))[None, :]
    qvel = -f(i)[:, None] / np.float32(2) + f(np.arange(2))[None, :]
    term = (i % 50) == 49
    tout = ((i % 77) == 76) & ~term
    return dict(observations=obs, actions=act, rewards=rew, next_observations=nxt,
                qpos=qpos, qvel=qvel, terminals=term, timeouts=tout)
`

func formulaDataset(n int) *dataset.Dataset {
	d := dataset.New(n, 3, 2)
	for i := range n {
		for j := range 3 {
			d.Observations[i*3+j] = float32(i)*0.25 + float32(j)
			d.NextObservations[i*3+j] = d.Observations[i*3+j] + 0.125
		}
		for j := range 2 {
			d.Actions[i*2+j] = float32((7*i+j)%11)/10 - 0.5
		}
		d.Rewards[i] = float32(i%13) / 2
		d.Terminals[i] = i%50 == 49
		d.Timeouts[i] = i%77 == 76 && !d.Terminals[i]
	}
	d.QPosDim, d.QVelDim = 4, 2
	d.QPos, d.QVel = make([]float32, 4*n), make([]float32, 2*n)
	for i := range n {
		for j := range 4 {
			d.QPos[i*4+j] = float32(i) - float32(j)
		}
		for j := range 2 {
			d.QVel[i*2+j] = -float32(i)/2 + float32(j)
		}
	}
	return d
}

func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", formulaPy + script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// TestH5pyReadsMinrlFiles: Go writes, h5py checks dtypes and values.
func TestH5pyReadsMinrlFiles(t *testing.T) {
	needH5py(t)
	const n = 70001 // several chunks per array, the last one partial
	dir := t.TempDir()
	d := formulaDataset(n)
	d.Meta = dataset.Metadata{EnvID: "Hopper-v3", Policy: "sac", Command: "minrl collect", Seed: ptr(uint64(0x9e3779b97f4a7c15)),
		Extra: map[string]string{"algorithm": "SAC"}}
	var err error
	if d.Norm, err = d.FitNormalizer(); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, gz := range []int{0, 5} {
		p := filepath.Join(dir, "go"+strconv.Itoa(gz)+".hdf5")
		if err := Save(p, d, SaveOptions{Gzip: gz}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out := runPython(t, `
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        n = f["observations"].shape[0]
        ref = formula(n)
        for k in ["observations", "actions", "rewards", "next_observations"]:
            assert f[k].dtype == np.float32, (k, f[k].dtype)
            assert np.array_equal(f[k][()], ref[k]), k
        assert f["rewards"].shape == (n,), f["rewards"].shape
        for k in ["terminals", "timeouts"]:
            assert f[k].dtype == np.bool_, (k, f[k].dtype)
            tid = f[k].id.get_type()  # the stored HDF5 type: enum(int8){FALSE=0, TRUE=1}
            assert isinstance(tid, h5py.h5t.TypeEnumID), tid
            members = [(tid.get_member_name(m), tid.get_member_value(m)) for m in range(tid.get_nmembers())]
            assert members == [(b"FALSE", 0), (b"TRUE", 1)], members
            base = tid.get_super()
            assert base.get_size() == 1 and base.get_sign() == h5py.h5t.SGN_2, (base.get_size(), base.get_sign())
            assert np.array_equal(f[k][()], ref[k]), k
        assert np.array_equal(f["infos/qpos"][()], ref["qpos"])
        assert np.array_equal(f["infos/qvel"][()], ref["qvel"])
        m = f["metadata"]
        assert m["env_id"][0] == b"Hopper-v3", m["env_id"][()]
        assert m["policy"][0] == b"sac" and m["command"][0] == b"minrl collect" and m["algorithm"][0] == b"SAC"
        assert m["seed"].dtype == np.uint64 and int(m["seed"][0]) == 0x9e3779b97f4a7c15, m["seed"][()]
        obs = f["observations"][()].astype(np.float64)
        mean, std = obs.mean(axis=0), obs.std(axis=0) + 1e-6
        assert np.allclose(f["normalizer/state_mean"][()], mean, rtol=1e-12, atol=0), (f["normalizer/state_mean"][()], mean)
        assert np.allclose(f["normalizer/state_std"][()], std, rtol=1e-12, atol=0), (f["normalizer/state_std"][()], std)
        print(path, "ok", f["observations"].compression)
`, paths...)
	if strings.Count(out, " ok ") != len(paths) {
		t.Fatalf("python output:\n%s", out)
	}
	t.Log(out)
}

// TestMinrlReadsH5pyFiles: h5py writes D4RL-style files, Go reads them.
func TestMinrlReadsH5pyFiles(t *testing.T) {
	needH5py(t)
	const n = 1001
	dir := t.TempDir()
	runPython(t, `
n, dir = int(sys.argv[1]), sys.argv[2]
r = formula(n)
# D4RL as shipped: gzip, rewards (N, 1), bools, metadata datasets, attrs and policy weights.
with h5py.File(dir + "/d4rl.hdf5", "w") as f:
    for k in ["observations", "actions", "next_observations", "terminals", "timeouts"]:
        f.create_dataset(k, data=r[k], compression="gzip")
    f.create_dataset("rewards", data=r["rewards"].reshape(n, 1), compression="gzip")
    f.create_dataset("infos/qpos", data=r["qpos"], compression="gzip")
    f.create_dataset("infos/qvel", data=r["qvel"], compression="gzip")
    f.create_dataset("infos/action_log_probs", data=np.zeros(n, np.float32))
    f["metadata/algorithm"] = "SAC"
    f["metadata/iteration"] = np.int64(42)
    f["metadata/policy/fc0/weight"] = np.ones((4, 3), np.float32)
    f["metadata"].attrs["env_id"] = "Hopper-v3"
    f["metadata"].attrs["seed"] = 3
# v0 era: no timeouts, no next_observations, rewards (N,), contiguous.
with h5py.File(dir + "/v0.hdf5", "w") as f:
    for k in ["observations", "actions", "rewards", "terminals"]:
        f[k] = r[k]
# Odd chunking with shuffle and fletcher32.
with h5py.File(dir + "/shuffle.hdf5", "w") as f:
    for k in ["observations", "actions", "rewards", "terminals", "timeouts"]:
        f.create_dataset(k, data=r[k], chunks=(7,) + r[k].shape[1:], shuffle=True, fletcher32=True, compression="gzip", compression_opts=9)
# A NaN in row 17, column 2.
with h5py.File(dir + "/nan.hdf5", "w") as f:
    o = r["observations"].copy(); o[17, 2] = np.nan
    f["observations"] = o
    for k in ["actions", "rewards", "terminals", "timeouts"]:
        f[k] = r[k]
# Newest file format: chunk indexes the raw reader does not implement.
with h5py.File(dir + "/latest.hdf5", "w", libver="latest") as f:
    for k in ["observations", "actions", "rewards", "terminals", "timeouts"]:
        f.create_dataset(k, data=r[k], compression="gzip")
# A policy checkpoint holding normaliser statistics.
with h5py.File(dir + "/policy.hdf5", "w") as f:
    f["state_norm/state_mean"] = np.array([0.5, -1.25, 3.0])
    f["state_norm/state_std"] = np.array([1.0, 0.125, 2.0]) + 1e-6
print("written")
`, strconv.Itoa(n), dir)

	want := formulaDataset(n)
	check := func(name string, d *dataset.Dataset, nextObs, timeouts, infos bool) {
		t.Helper()
		if d.N != n || d.ObsDim != 3 || d.ActDim != 2 {
			t.Fatalf("%s: sizes %d %d %d", name, d.N, d.ObsDim, d.ActDim)
		}
		for _, c := range []struct {
			key       string
			got, want any
		}{
			{"observations", d.Observations, want.Observations}, {"actions", d.Actions, want.Actions},
			{"rewards", d.Rewards, want.Rewards}, {"terminals", d.Terminals, want.Terminals},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s: %s differ", name, c.key)
			}
		}
		if nextObs != (d.NextObservations != nil) || nextObs && !reflect.DeepEqual(d.NextObservations, want.NextObservations) {
			t.Errorf("%s: next_observations wrong", name)
		}
		if timeouts == d.TimeoutsMissing || timeouts && !reflect.DeepEqual(d.Timeouts, want.Timeouts) {
			t.Errorf("%s: timeouts wrong (missing %v)", name, d.TimeoutsMissing)
		}
		if infos && (!reflect.DeepEqual(d.QPos, want.QPos) || !reflect.DeepEqual(d.QVel, want.QVel) || d.QPosDim != 4 || d.QVelDim != 2) {
			t.Errorf("%s: infos wrong", name)
		}
	}
	d, err := Load(filepath.Join(dir, "d4rl.hdf5"))
	if err != nil {
		t.Fatal(err)
	}
	check("d4rl", d, true, true, true)
	wantMeta := dataset.Metadata{EnvID: "Hopper-v3", Seed: ptr(uint64(3)), Extra: map[string]string{"algorithm": "SAC", "iteration": "42"}}
	if !reflect.DeepEqual(d.Meta, wantMeta) {
		t.Errorf("metadata %+v, want %+v", d.Meta, wantMeta)
	}
	eps := d.Episodes()
	if len(eps) == 0 || eps[0].Len != 50 || !eps[0].Terminal || eps[1].Len != 27 || eps[1].Terminal {
		t.Errorf("episodes start %+v", eps[:2])
	}

	d, err = Load(filepath.Join(dir, "v0.hdf5"))
	if err != nil {
		t.Fatal(err)
	}
	check("v0", d, false, false, false)

	d, err = Load(filepath.Join(dir, "shuffle.hdf5"))
	if err != nil {
		t.Fatal(err)
	}
	check("shuffle", d, false, true, false)

	_, err = Load(filepath.Join(dir, "nan.hdf5"))
	if !errors.Is(err, dataset.ErrNonFinite) || !strings.Contains(err.Error(), `"observations" row 17 column 2`) {
		t.Errorf("nan file: %v", err)
	}

	_, err = Load(filepath.Join(dir, "latest.hdf5"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "layout v4") {
		t.Errorf("libver latest: %v", err)
	}
	t.Logf("libver=latest file: %v", err)

	nz, err := readNormalizerFile(filepath.Join(dir, "policy.hdf5"), "state_norm")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(nz.Mean, []float64{0.5, -1.25, 3}) || !reflect.DeepEqual(nz.Std, []float64{1 + 1e-6, 0.125 + 1e-6, 2 + 1e-6}) {
		t.Errorf("normaliser %+v", nz)
	}
	if _, err := readNormalizerFile(filepath.Join(dir, "policy.hdf5"), "nothing"); !errors.Is(err, dataset.ErrMissingKey) {
		t.Errorf("absent normaliser: %v", err)
	}
}
