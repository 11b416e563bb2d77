package runners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/minrl/minrl/internal/testenv"

	"github.com/minrl/minrl/agents/decision"
	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
	"github.com/minrl/minrl/envs"
	_ "github.com/minrl/minrl/envs/classic"           // Pendulum-v1
	_ "github.com/minrl/minrl/envs/locomotion/planar" // minrl/Hopper-v0
	"github.com/minrl/minrl/internal/runlock"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
	"github.com/minrl/minrl/safetensors"
)

// tinyRun is a preset shrunk to run in a fraction of a second on the
// shipped Pendulum data: 12 steps, evaluations at 6 and 12, checkpoints at
// 5 and 10, metrics every 4 steps.
func tinyRun(t *testing.T, preset string) configs.Run {
	t.Helper()
	run, err := configs.Load(configs.Source{Preset: preset})
	if err != nil {
		t.Fatal(err)
	}
	run.Model.Embed, run.Model.Layers, run.Model.K, run.Model.Hidden = 8, 1, 4, []int{16}
	run.Model.Dropout = 0.1 // dropout masks must resume too
	run.Train.Steps, run.Train.Batch, run.Train.Warmup = 12, 4, 3
	run.Train.EvalEvery, run.Train.CheckpointEvery, run.Train.LogEvery = 6, 5, 4
	run.Eval.Episodes, run.Eval.Targets = 2, []float64{-150, -600}
	run.Out = t.TempDir()
	return run
}

// lineRun is tinyRun on test/Line-v0 (episodes of 3 to 5 steps, actions in
// [−5, 5]) with a synthetic dataset of 60 episodes: a run takes a few
// milliseconds, evaluations included, even under the race detector.
func lineRun(t *testing.T, preset string) configs.Run {
	t.Helper()
	run := tinyRun(t, preset)
	d := dataset.New(0, 2, 1)
	for s := range 60 {
		a := float32(s%9)/2 - 2 // the episode's constant action, in [−2, 2]
		for k := range 3 + s%3 {
			d.Observations = append(d.Observations, float32(s), float32(k))
			d.Actions = append(d.Actions, a)
			d.Rewards = append(d.Rewards, a)
			d.Terminals = append(d.Terminals, k == 2+s%3)
			d.Timeouts = append(d.Timeouts, false)
			d.N++
		}
	}
	d.NextObservations = nil
	run.Dataset = filepath.Join(t.TempDir(), "line.hdf5")
	if err := d4rl.Save(run.Dataset, d, d4rl.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	run.Env, run.Model.MaxEpLen, run.Eval.RTGScale, run.Eval.Targets = "test/Line-v0", 8, 10, []float64{10, 4}
	return run
}

// noPlots skips the PNGs, which take most of a tiny run's time (and
// seconds under the race detector); TestTrainWritesEverything draws them.
var noPlots = TrainOptions{SkipPlots: true}

func readCheckpoint(t *testing.T, path string) *policy.Checkpoint {
	t.Helper()
	ck, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

func TestTrainWritesEverything(t *testing.T) {
	run := tinyRun(t, "pendulum-medium-mingru")
	var events []TrainEvent
	res, err := Train(context.Background(), run, TrainOptions{Command: "test", Progress: func(ev TrainEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	var steps, evals, cks []int
	for _, ev := range events {
		switch ev.Kind {
		case "step":
			steps = append(steps, ev.Step)
		case "eval":
			evals = append(evals, ev.Step)
		case "checkpoint":
			cks = append(cks, ev.Step)
		}
		if ev.Steps != 12 {
			t.Fatalf("event %+v: Steps %d", ev, ev.Steps)
		}
	}
	if len(steps) != 12 || steps[11] != 12 || !slices.Equal(evals, []int{6, 12}) || !slices.Equal(cks, []int{5, 10, 12}) {
		t.Errorf("steps %v, evaluations %v, checkpoints %v", steps, evals, cks)
	}
	for _, f := range []string{FileLast, FileBest, FileMetrics, FileMetricsCSV, FileEvals, FileLossPlot, FileEvalPlot,
		FileSummary, PrefixFinal + ".csv", PrefixFinal + ".json"} {
		b, err := os.ReadFile(filepath.Join(run.Out, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, len(b))
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
	metrics, _ := readJSONL[MetricRecord](filepath.Join(run.Out, FileMetrics), math.MaxInt)
	var mSteps []int
	for _, m := range metrics {
		mSteps = append(mSteps, m.Step)
		if !(m.Loss > 0) || !(m.GradNorm > 0) || !(m.LR > 0) || !(m.Elapsed > 0) {
			t.Errorf("metric record %+v", m)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(run.Out, FileMetricsCSV))
	if !slices.Equal(mSteps, []int{4, 8, 12}) || strings.Count(string(csv), "\n") != 4 || !strings.HasPrefix(string(csv), "step,loss,") {
		t.Errorf("metrics at steps %v; csv:\n%s", mSteps, csv)
	}
	var sum TrainResult
	b, _ := os.ReadFile(filepath.Join(run.Out, FileSummary))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Last.Step != 12 || sum.Steps != 12 || len(sum.Last.Targets) != 2 || sum.Last.ScoreKind != ScoreNormalized ||
		sum.Config["train"].(map[string]any)["steps"] != 12.0 || sum.StepsPerSecond <= 0 || sum.Command != "test" {
		t.Errorf("summary %s", b)
	}
	if !reflect.DeepEqual(sum.Last, res.Last) || !reflect.DeepEqual(sum.Best, res.Best) {
		t.Errorf("summary last/best %+v %+v, result %+v %+v", sum.Last, sum.Best, res.Last, res.Best)
	}
	// Best is the evaluation with the highest mean normalised score.
	evalPts, _ := readJSONL[EvalPoint](filepath.Join(run.Out, FileEvals), math.MaxInt)
	if len(evalPts) != 2 {
		t.Fatalf("%d evaluations logged", len(evalPts))
	}
	want := evalPts[0]
	if evalPts[1].Score > want.Score {
		want = evalPts[1]
	}
	if !reflect.DeepEqual(res.Best, want) || !reflect.DeepEqual(res.Last, evalPts[1]) {
		t.Errorf("best %+v, want %+v", res.Best, want)
	}
	if s := (res.Last.Targets[0].MeanNormalized + res.Last.Targets[1].MeanNormalized) / 2; s != res.Last.Score {
		t.Errorf("score %v, mean of targets %v", res.Last.Score, s)
	}

	// The checkpoints re-evaluate to the run's numbers.
	reps, err := EvaluateCheckpoint(context.Background(), res.Files["last"], CheckpointEvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reps, res.Final) {
		t.Errorf("EvaluateCheckpoint(last) differs from the run's final evaluation:\n%+v\n%+v", reps, res.Final)
	}
	reps, err = EvaluateCheckpoint(context.Background(), res.Files["best"], CheckpointEvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := evalPoint(res.Best.Step, ScoreNormalized, 2, reps); !reflect.DeepEqual(got, res.Best) {
		t.Errorf("best checkpoint evaluates to %+v, run said %+v", got, res.Best)
	}
	ck := readCheckpoint(t, res.Files["best"])
	if ck.Meta[metaStep] != "6" && ck.Meta[metaStep] != "12" || ck.Meta[metaCheckpointOf] != "best" || len(ck.Extra) != 0 {
		t.Errorf("best checkpoint meta %v, %d extra tensors", ck.Meta, len(ck.Extra))
	}
	ck = readCheckpoint(t, res.Files["last"])
	if ck.EnvID != "Pendulum-v1" || !slices.Equal(ck.Targets, []float64{-150, -600}) || len(ck.Norm.Mean) != 3 ||
		len(ck.Extra) != 2*len(ck.Model.Params()) || !strings.HasPrefix(ck.Extra[0].Name, "optim.") {
		t.Errorf("last checkpoint: env %q targets %v norm %v, %d extra tensors", ck.EnvID, ck.Targets, ck.Norm, len(ck.Extra))
	}
	if b := ck.Bounds; b == nil || !slices.Equal(b.Low, []float64{-2}) || !slices.Equal(b.High, []float64{2}) {
		t.Errorf("Pendulum's action bounds recorded as %+v", b)
	}
	reps, err = EvaluateCheckpoint(context.Background(), res.Files["last"], CheckpointEvalOptions{Targets: []float64{-300}, Episodes: 1, Seed: ptr(uint64(5))})
	if err != nil || len(reps) != 1 || reps[0].Target != -300 || reps[0].Episodes != 1 || reps[0].Results[0].Seed != 5 {
		t.Errorf("EvaluateCheckpoint with options: %v %+v", err, reps)
	}
	if _, err := EvaluateCheckpoint(context.Background(), filepath.Join(run.Out, "nope.safetensors"), CheckpointEvalOptions{}); err == nil {
		t.Error("missing checkpoint evaluated")
	}
	if _, err := EvaluateCheckpoint(context.Background(), res.Files["last"], CheckpointEvalOptions{Targets: []float64{}}); err == nil {
		t.Error("decision checkpoint evaluated without targets")
	}

	// Running a finished run again resumes at its end and reports the same.
	again, err := Train(context.Background(), run, noPlots)
	if err != nil {
		t.Fatal(err)
	}
	if again.ResumedFrom != 12 || !reflect.DeepEqual(again.Last, res.Last) || !reflect.DeepEqual(again.Best, res.Best) {
		t.Errorf("rerun: resumed from %d, last %+v best %+v", again.ResumedFrom, again.Last, again.Best)
	}
	if pts, _ := readJSONL[EvalPoint](filepath.Join(run.Out, FileEvals), math.MaxInt); len(pts) != 2 {
		t.Errorf("rerun logged %d evaluations, want the 2 of the run", len(pts))
	}
}

// runArtifacts are the parts of a run that must not depend on
// interruptions: every tensor of the last and best checkpoints (weights and
// optimiser moments), their step, sampler and best metadata, the logged
// metrics without their clock, and the evaluations.
func runArtifacts(t *testing.T, dir string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range []string{FileLast, FileBest} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		tensors, meta, err := safetensors.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, nt := range tensors {
			bits := make([]uint32, len(nt.Tensor.Data))
			for i, v := range nt.Tensor.Data {
				bits[i] = math.Float32bits(v)
			}
			out[f+"/"+nt.Name] = bits
		}
		for _, k := range []string{metaStep, metaOptimStep, metaSampler, metaBest, metaConfigSHA} {
			out[f+"/"+k] = meta[k]
		}
	}
	metrics, err := readJSONL[MetricRecord](filepath.Join(dir, FileMetrics), math.MaxInt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range metrics {
		metrics[i].Elapsed = 0
	}
	out["metrics"] = metrics
	out["evals"], _ = readJSONL[EvalPoint](filepath.Join(dir, FileEvals), math.MaxInt)
	out["final"], _ = os.ReadFile(filepath.Join(dir, PrefixFinal+".json"))
	return out
}

func TestTrainResumesBitForBit(t *testing.T) {
	for _, preset := range []string{"pendulum-medium-mingru", "pendulum-medium-minlstm-episode", "pendulum-medium-dt", "pendulum-medium-bc"} {
		t.Run(preset, func(t *testing.T) {
			run := lineRun(t, preset)
			if _, err := Train(context.Background(), run, noPlots); err != nil {
				t.Fatal(err)
			}
			want := runArtifacts(t, run.Out)

			// Ctrl-C at step 7: a checkpoint at step 7, then a resumed run.
			b := run
			b.Out = t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			_, err := Train(ctx, b, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
				if ev.Kind == "step" && ev.Step == 7 {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "step 7") {
				t.Fatalf("cancelled run: %v", err)
			}
			if s := readCheckpoint(t, filepath.Join(b.Out, FileLast)).Meta[metaStep]; s != "7" {
				t.Fatalf("cancelled at step 7, checkpoint at step %s", s)
			}
			res, err := Train(context.Background(), b, noPlots)
			if err != nil {
				t.Fatal(err)
			}
			if res.ResumedFrom != 7 {
				t.Errorf("resumed from %d, want 7", res.ResumedFrom)
			}
			if got := runArtifacts(t, b.Out); !reflect.DeepEqual(got, want) {
				t.Errorf("cancelled and resumed run differs from an uninterrupted one")
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("  %s differs", k)
					}
				}
			}

			// A crash at step 8: the periodic checkpoint of step 5 is all
			// that is left, with logs and a best checkpoint from later.
			c := run
			c.Out = t.TempDir()
			var at5 []byte
			ctx, cancel = context.WithCancel(context.Background())
			_, err = Train(ctx, c, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
				if ev.Kind == "checkpoint" && ev.Step == 5 {
					at5, _ = os.ReadFile(filepath.Join(c.Out, FileLast))
				}
				if ev.Kind == "step" && ev.Step == 8 {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) || at5 == nil {
				t.Fatalf("crashed run: %v, checkpoint at 5: %d bytes", err, len(at5))
			}
			if err := os.WriteFile(filepath.Join(c.Out, FileLast), at5, 0o644); err != nil {
				t.Fatal(err)
			}
			if res, err = Train(context.Background(), c, noPlots); err != nil {
				t.Fatal(err)
			}
			if res.ResumedFrom != 5 {
				t.Errorf("resumed from %d, want 5", res.ResumedFrom)
			}
			if got := runArtifacts(t, c.Out); !reflect.DeepEqual(got, want) {
				t.Errorf("crashed and resumed run differs from an uninterrupted one")
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("  %s differs", k)
					}
				}
			}
		})
	}
}

func TestTrainCancelledDuringEvaluationEvaluatesOnResume(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Fatal(err)
	}
	want := runArtifacts(t, run.Out)
	b := run
	b.Out = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Train(ctx, b, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		if ev.Kind == "step" && ev.Step == 6 {
			cancel() // the evaluation of step 6 is next, and stops at once
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.Out, FileBest)); err == nil {
		t.Error("best checkpoint written by an interrupted evaluation")
	}
	if _, err := Train(context.Background(), b, noPlots); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(runArtifacts(t, b.Out), want) {
		t.Error("run cancelled during an evaluation differs from an uninterrupted one")
	}
}

func TestTrainRefusesAnotherConfig(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Fatal(err)
	}
	other := run
	other.Train.LR = 0.5
	_, err := Train(context.Background(), other, noPlots)
	if !errors.Is(err, ErrConfigMismatch) || !strings.Contains(err.Error(), "train.lr 0.001 (now 0.5)") {
		t.Fatalf("another lr: %v", err)
	}
	other.Model.Embed = 16
	if _, err := Train(context.Background(), other, noPlots); err == nil || !strings.Contains(err.Error(), "model.embed 8 (now 16)") {
		t.Fatalf("another embed: %v", err)
	}
	res, err := Train(context.Background(), other, TrainOptions{Overwrite: true, SkipPlots: true})
	if err != nil || res.ResumedFrom != 0 {
		t.Fatalf("overwrite: %v, resumed from %+v", err, res)
	}
	if ck := readCheckpoint(t, filepath.Join(run.Out, FileLast)); !strings.Contains(ck.Meta[metaRunConfig], `"lr":0.5`) {
		t.Errorf("overwritten run's config: %s", ck.Meta[metaRunConfig])
	}
	// A run moved to another directory still resumes.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(run.Out, moved); err != nil {
		t.Fatal(err)
	}
	other.Out = moved
	if res, err := Train(context.Background(), other, noPlots); err != nil || res.ResumedFrom != 2 {
		t.Errorf("moved run: %v", err)
	}
}

// The dataset hash covers the arrays; a normaliser stored beside them that
// changed between the runs is caught too.
func TestTrainRefusesAnotherStoredNormaliser(t *testing.T) {
	run := tinyRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	d, err := d4rl.Load(writeDataset(t, 40, 3, 1, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	run.Dataset = filepath.Join(t.TempDir(), "normed.hdf5")
	save := func(std float64) {
		d.Norm = &dataset.Normalizer{Mean: []float64{0, 0, 0}, Std: []float64{1, std, 1}}
		if err := d4rl.Save(run.Dataset, d, d4rl.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	save(1)
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Fatal(err)
	}
	save(2) // running a finished run again resumes it at its last step

	if _, err := Train(context.Background(), run, noPlots); !errors.Is(err, ErrConfigMismatch) || !strings.Contains(err.Error(), "normalises states") {
		t.Errorf("resume with another stored normaliser: %v", err)
	}
	save(1)
	if res, err := Train(context.Background(), run, noPlots); err != nil || res.ResumedFrom != 2 {
		t.Errorf("resume with the same normaliser: %v", err)
	}
}

// A killed run's temporary files are removed when the run starts again.
func TestTrainRemovesStaleTemporaryFiles(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	stale := filepath.Join(run.Out, ".last.safetensors.tmp12345")
	os.MkdirAll(run.Out, 0o755)
	os.WriteFile(stale, []byte("half a checkpoint"), 0o644)
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file: %v", err)
	}
}

// A resume under another matrix-product backend goes on, with a note that
// the result will not be bit-identical.
func TestResumeNotesAnotherGemmBackend(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(run.Out, FileLast)
	resumeNote := func() string {
		var note string
		if _, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
			if ev.Kind == "resume" {
				note = ev.Note
			}
		}}); err != nil {
			t.Fatal(err)
		}
		return note
	}
	if ck := readCheckpoint(t, last); ck.Meta[metaGemm] != nn.CurrentGemm().Name() {
		t.Errorf("checkpoint records GEMM %q, want %q", ck.Meta[metaGemm], nn.CurrentGemm().Name())
	}
	if note := resumeNote(); note != "" {
		t.Errorf("same backend: note %q", note)
	}
	ck := readCheckpoint(t, last)
	ck.Meta[metaGemm] = "other/backend"
	if err := policy.Save(last, ck.Model, ck.Info, ck.Extra); err != nil {
		t.Fatal(err)
	}
	if note := resumeNote(); !strings.Contains(note, "other/backend") || !strings.Contains(note, "not be bit-identical") {
		t.Errorf("other backend: note %q", note)
	}
}

// writeDataset saves a synthetic dataset of n steps (episodes of 10) with
// the given sizes and actions.
func writeDataset(t *testing.T, n, obsDim, actDim int, action float32) string {
	t.Helper()
	d := dataset.New(n, obsDim, actDim)
	for i := range d.Observations {
		d.Observations[i] = float32(i%7) - 3
	}
	for i := range d.Actions {
		d.Actions[i] = action
	}
	for i := range d.N {
		d.Rewards[i] = -1
		d.Timeouts[i] = i%10 == 9
	}
	path := filepath.Join(t.TempDir(), "synthetic.hdf5")
	if err := d4rl.Save(path, d, d4rl.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainRejectsDataOfAnotherEnv(t *testing.T) {
	run := tinyRun(t, "pendulum-medium-mingru")
	run.Dataset = writeDataset(t, 40, 2, 1, 0.5)
	_, err := Train(context.Background(), run, noPlots)
	if err == nil || !strings.Contains(err.Error(), "observations") || !errors.Is(err, dataset.ErrShape) {
		t.Errorf("2-d observations for Pendulum: %v", err)
	}
	run.Dataset = "no-such-dataset"
	if _, err := Train(context.Background(), run, noPlots); err == nil {
		t.Error("unknown dataset accepted")
	}
	run.Dataset, run.Env = "pendulum-medium", "Nope-v0"
	if _, err := Train(context.Background(), run, noPlots); err == nil {
		t.Error("unknown env accepted")
	}
}

func TestTrainDivergenceSavesNothing(t *testing.T) {
	run := tinyRun(t, "pendulum-medium-mingru")
	run.Dataset = writeDataset(t, 40, 3, 1, 0.5)
	run.Train.LR, run.Train.Warmup, run.Train.CheckpointEvery, run.Train.EvalEvery = 1e38, 0, 0, 0
	_, err := Train(context.Background(), run, noPlots)
	if !errors.Is(err, decision.ErrDiverged) {
		t.Fatalf("lr 1e38: %v", err)
	}
	for _, f := range []string{FileLast, FileBest, FileSummary} {
		if _, err := os.Stat(filepath.Join(run.Out, f)); err == nil {
			t.Errorf("%s written by a diverged run", f)
		}
	}
}

func TestActionBoundsMapBothWays(t *testing.T) {
	if b := actionBoundsOf(envs.NewBox(2, -1, 1)); b != nil {
		t.Errorf("[-1, 1] actions mapped: %+v", b)
	}
	if b := actionBoundsOf(envs.Box{Low: []float64{0}, High: []float64{math.Inf(1)}}); b != nil {
		t.Errorf("unbounded actions mapped: %+v", b)
	}
	b := actionBoundsOf(envs.Box{Low: []float64{-2, 0}, High: []float64{2, 10}})
	if b == nil {
		t.Fatal("no bounds for [-2, 2] × [0, 10]")
	}
	acts := []float32{-2, 0, 0, 5, 2, 10, 3, -1}
	b.ToUnit(acts)
	if want := []float32{-1, -1, 0, 0, 1, 1, 1, -1}; !slices.Equal(acts, want) {
		t.Errorf("toUnit: %v, want %v", acts, want)
	}
	p := b.Bounded(&fixedPolicy{out: []float64{-1, 0, 0.5, 1}})
	p.Reset(2)
	out := make([]float64, 4)
	if err := p.Act(make([]float64, 2), make([]float64, 2), out); err != nil {
		t.Fatal(err)
	}
	if want := []float64{-2, 5, 1, 10}; !slices.Equal(out, want) {
		t.Errorf("wrapped actions %v, want %v", out, want)
	}
	if (*policy.ActionBounds)(nil).Bounded(p) != p {
		t.Error("nil bounds wrap")
	}
	if err := b.Check(3); err == nil {
		t.Error("bounds of 2 dimensions accepted for 3")
	}

	// Train maps the data: Line's actions in [−2, 2] of [−5, 5] are
	// trained on as [−0.4, 0.4].
	j, err := newTrainJob(lineRun(t, "pendulum-medium-mingru"), noPlots)
	if err != nil {
		t.Fatal(err)
	}
	var batch dataset.Batch
	j.sampler.Sample(&batch, 64)
	hi := 0.0
	for i, m := range batch.Mask {
		if m != 0 {
			hi = max(hi, math.Abs(float64(batch.Actions[i])))
		}
	}
	if hi > 0.4+1e-6 || hi < 0.3 {
		t.Errorf("largest |action| in a batch %g, want 0.4 (2 of 5 mapped to [-1, 1])", hi)
	}
}

type fixedPolicy struct{ out []float64 }

func (f *fixedPolicy) ObsDim() int  { return 1 }
func (f *fixedPolicy) ActDim() int  { return 2 }
func (f *fixedPolicy) Reset(int)    {}
func (f *fixedPolicy) ResetEnv(int) {}
func (f *fixedPolicy) Act(obs, rewards, actions []float64) error {
	copy(actions, f.out)
	return nil
}

// Without reference returns the score is the mean return, and the NaN
// normalised scores are nulls in every JSON file.
func TestTrainWithoutReferenceReturnsScoresReturns(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Env, run.Train.Steps = "test/LineNoRef-v0", 6
	res, err := Train(context.Background(), run, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Last.ScoreKind != ScoreReturn || res.Last.Score != (res.Last.Targets[0].MeanReturn+res.Last.Targets[1].MeanReturn)/2 ||
		!math.IsNaN(res.Last.Targets[0].MeanNormalized) || !math.IsNaN(res.DatasetScore) {
		t.Errorf("last %+v, dataset score %v", res.Last, res.DatasetScore)
	}
	b, _ := os.ReadFile(filepath.Join(run.Out, FileSummary))
	if !strings.Contains(string(b), `"mean_normalized": null`) || !strings.Contains(string(b), `"dataset_score": null`) {
		t.Errorf("summary:\n%s", b)
	}
	pts, err := readJSONL[EvalPoint](filepath.Join(run.Out, FileEvals), math.MaxInt)
	if err != nil || len(pts) != 1 || !math.IsNaN(pts[0].Targets[0].MeanNormalized) || pts[0].Score != res.Last.Score {
		t.Errorf("evals.jsonl: %v %+v", err, pts)
	}
	if _, err := os.Stat(filepath.Join(run.Out, FileEvalPlot)); err != nil {
		t.Error(err)
	}
}

// The same seed and config give the same run whatever GOMAXPROCS is.
func TestTrainIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, preset := range []string{"pendulum-medium-mingru", "pendulum-medium-dt"} {
		var arts []map[string]any
		base := lineRun(t, preset)
		for _, procs := range []int{1, 4} {
			runtime.GOMAXPROCS(procs)
			run := base
			run.Out = t.TempDir()
			if _, err := Train(context.Background(), run, noPlots); err != nil {
				t.Fatal(err)
			}
			arts = append(arts, runArtifacts(t, run.Out))
		}
		for k := range arts[0] {
			if !reflect.DeepEqual(arts[0][k], arts[1][k]) {
				t.Errorf("%s: %s differs between GOMAXPROCS 1 and 4", preset, k)
			}
		}
	}
}

func TestTrainSaysHowToMakeAMissingDataset(t *testing.T) {
	t.Setenv("MINRL_DATA_DIR", t.TempDir())
	run, err := configs.Load(configs.Source{Preset: "hopper-medium-replay-mingru"})
	if err != nil {
		t.Fatal(err)
	}
	run.Out = t.TempDir()
	_, err = Train(context.Background(), run, noPlots)
	if err == nil || !strings.Contains(err.Error(), "minrl collect --env minrl/Hopper-v0") {
		t.Errorf("missing dataset: %v", err)
	}
}

// A log's torn last line (a crash mid-write) is dropped; a damaged line
// before others is an error, since resuming rewrites the log.
func TestReadJSONLDropsOnlyATornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evals.jsonl")
	good := `{"step":1}` + "\n" + `{"step":2}` + "\n" + `{"step":3}` + "\n"
	for name, tc := range map[string]struct {
		data  string
		steps []int
		err   string
	}{
		"whole":       {good, []int{1, 2}, ""}, // maxStep 2
		"torn":        {good + `{"st`, []int{1, 2}, ""},
		"damaged":     {`{"step":1}` + "\n" + `{"st` + "\n" + `{"step":2}` + "\n", nil, "line 2 is damaged"},
		"blank-lines": {"\n" + `{"step":1}` + "\n\n", []int{1}, ""},
	} {
		os.WriteFile(path, []byte(tc.data), 0o644)
		pts, err := readJSONL[EvalPoint](path, 2)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", name, err, tc.err)
			}
			continue
		}
		var steps []int
		for _, p := range pts {
			steps = append(steps, p.Step)
		}
		if err != nil || !slices.Equal(steps, tc.steps) {
			t.Errorf("%s: steps %v, %v; want %v", name, steps, err, tc.steps)
		}
	}
}

// minrl removes only files it can tell it wrote: a directory with other
// files is refused (nothing deleted), --overwrite replaces minrl's files
// and keeps the user's, and look-alike temporary names are not touched.
func TestTrainNeverDeletesUserFiles(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	user := map[string]string{
		FileBest: "my weights", FileSummary: "my notes", ".notes.tmpl": "template", ".config.tmp.bak": "backup",
		"notes.txt": "keep", ".summary.json.tmpx1": "not a CreateTemp name",
	}
	write := func() {
		for name, body := range user {
			if err := os.WriteFile(filepath.Join(run.Out, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	intact := func(skip ...string) {
		t.Helper()
		for name, body := range user {
			if slices.Contains(skip, name) {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(run.Out, name)); err != nil || string(b) != body {
				t.Errorf("%s: %q, %v; want %q", name, b, err, body)
			}
		}
	}
	write()
	_, err := Train(context.Background(), run, noPlots)
	if !errors.Is(err, ErrNotRunDir) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("directory with a user's files: %v", err)
	}
	intact()

	// Only minrl's names, but no checkpoint: refused too.
	only := lineRun(t, "pendulum-medium-mingru")
	only.Train.Steps, only.Train.EvalEvery, only.Eval.Episodes = 2, 0, 1
	os.WriteFile(filepath.Join(only.Out, FileBest), []byte("someone's"), 0o644)
	if _, err := Train(context.Background(), only, noPlots); !errors.Is(err, ErrNotRunDir) || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("best.safetensors without last.safetensors: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(only.Out, FileBest)); string(b) != "someone's" {
		t.Error("best.safetensors was replaced")
	}

	// --overwrite replaces minrl's files only.
	if _, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	intact(FileBest, FileSummary)
	readCheckpoint(t, filepath.Join(run.Out, FileBest)) // minrl's now

	// A run killed before its first checkpoint (metrics.csv alone) starts
	// again without --overwrite.
	killed := lineRun(t, "pendulum-medium-mingru")
	killed.Train.Steps, killed.Train.EvalEvery, killed.Eval.Episodes = 2, 0, 1
	os.WriteFile(filepath.Join(killed.Out, FileMetricsCSV), []byte(metricCSVHeader), 0o644)
	if _, err := Train(context.Background(), killed, noPlots); err != nil {
		t.Errorf("a run killed before its first checkpoint: %v", err)
	}
}

// A second run in a directory that a run holds is refused at once, with
// the holder named, and nothing of the first run's is touched (issue 16,
// item 3).
func TestTrainLocksItsDirectory(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	held, err := runlock.Acquire(run.Out)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run.Out, FileMetricsCSV), []byte(metricCSVHeader), 0o644)
	_, err = Train(context.Background(), run, noPlots)
	if !errors.Is(err, runlock.ErrLocked) || !strings.Contains(err.Error(), "another --out") {
		t.Errorf("locked directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(run.Out, FileMetricsCSV)); string(b) != metricCSVHeader {
		t.Error("the holder's files were touched")
	}
	held.Release()
	if _, err := Train(context.Background(), run, noPlots); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// notesOfRunOn trains a tiny run on lineRun's dataset after edit changed
// it, and returns the run's notes.
func notesOfRunOn(t *testing.T, edit func(d *dataset.Dataset)) []string {
	t.Helper()
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.Warmup, run.Train.EvalEvery, run.Eval.Episodes = 2, 1, 0, 1
	d, err := d4rl.Load(run.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	edit(d)
	if err := d4rl.Save(run.Dataset, d, d4rl.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	var notes []string
	if _, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		if ev.Kind == "note" {
			notes = append(notes, ev.Note)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	return notes
}

// Dataset actions beyond the env's action space are clipped, and the run
// says so, naming the first (issue 16, item 6).
func TestTrainNotesActionsOutsideTheSpace(t *testing.T) {
	notes := notesOfRunOn(t, func(d *dataset.Dataset) { d.Actions[4], d.Actions[9] = 7, -6 }) // Line-v0 acts in [−5, 5]
	if len(notes) != 1 || !strings.Contains(notes[0], "2 of") || !strings.Contains(notes[0], "row 4 column 0 = 7") {
		t.Errorf("notes %q, want one naming 2 values and actions row 4", notes)
	}
}

// A dataset without a timeouts array has its episode ends recovered before
// training, and the run says how (issue 16, item 4).
func TestTrainRecoversMissingTimeouts(t *testing.T) {
	notes := notesOfRunOn(t, func(d *dataset.Dataset) { d.TimeoutsMissing = true }) // saved without the key
	if len(notes) != 1 || !strings.Contains(notes[0], "no timeouts array") || !strings.Contains(notes[0], "recovered every") {
		t.Errorf("notes %q", notes)
	}
}

// A run whose estimated memory exceeds the limit is refused before it
// writes anything; a run that fits says its estimate in the header (issue
// 16, item 2).
func TestTrainRefusesRunsTooLargeForMemory(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.EvalEvery, run.Eval.Episodes = 2, 0, 1
	run.Out = filepath.Join(t.TempDir(), "never")
	_, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, MaxMemory: 64 << 10})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "lower model.embed") {
		t.Errorf("64 KiB limit: %v", err)
	}
	if _, err := os.Stat(run.Out); !os.IsNotExist(err) {
		t.Errorf("the refused run made its directory: %v", err)
	}
	// The combination matters, not one key: each of these is legal alone.
	big := run
	big.Model.Embed, big.Model.Layers, big.Model.K, big.Train.Batch = 8192, 64, 1024, 4096
	if _, err := Train(context.Background(), big, noPlots); !errors.Is(err, ErrTooLarge) {
		t.Errorf("embed 8192 × 64 layers × K 1024 × batch 4096 on this machine: %v", err)
	}
	var header []string
	if _, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		if ev.Kind == "header" {
			header = append(header, ev.Note)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if len(header) == 0 || !strings.HasPrefix(header[0], "memory: about ") {
		t.Errorf("header %q", header)
	}
}

// Two identical runs in two directories write byte-identical checkpoints:
// no clock, path or command line in them (issue 16, item 10). The clocks
// are in timing.json and resume from there.
func TestIdenticalRunsWriteIdenticalCheckpoints(t *testing.T) {
	a := lineRun(t, "pendulum-medium-mingru")
	a.Train.Steps, a.Train.EvalEvery, a.Eval.Episodes = 6, 3, 1
	b := a
	b.Out = filepath.Join(t.TempDir(), "elsewhere")
	for _, r := range []configs.Run{a, b} {
		if _, err := Train(context.Background(), r, TrainOptions{SkipPlots: true, Command: "minrl train --out " + r.Out}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{FileLast, FileBest} {
		x, _ := os.ReadFile(filepath.Join(a.Out, f))
		y, _ := os.ReadFile(filepath.Join(b.Out, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between identical runs", f)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Out, FileTiming)); err != nil {
		t.Error(err)
	}
}

// A run says how long it will take, once it has timed a few seconds of
// itself, and warns when its warm-up is not shorter than the run (issue 17,
// item 1: the presets' 10,000-step warm-up with --steps 200).
func TestTrainSaysHowLongAndWarnsAboutWarmup(t *testing.T) {
	defer func(d time.Duration) { estimateAfter = d }(estimateAfter)
	estimateAfter = 0
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.Warmup, run.Train.EvalEvery, run.Eval.Episodes = 1_000_000, 2_000_000, 0, 1
	ctx, cancel := context.WithCancel(context.Background())
	var notes, header []string
	Train(ctx, run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		switch ev.Kind {
		case "note":
			notes = append(notes, ev.Note)
		case "header":
			header = append(header, ev.Note)
		case "step":
			if ev.Step >= 3 {
				cancel()
			}
		}
	}})
	if len(header) != 2 || !strings.HasPrefix(header[1], "schedule: learning rate") {
		t.Errorf("header %q", header)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "warm-up (2000000 steps) is not shorter than the run") || !strings.Contains(notes[1], "left for the remaining") {
		t.Errorf("notes %q", notes)
	}
}

// A dataset that stores reference returns is scored by them (training,
// summary.json, checkpoints and minrl eval alike), with a warning when they
// disagree with the registry; summary.json names the data by SHA-256
// (issue 18, item 2).
func TestTrainUsesTheDatasetsReferences(t *testing.T) {
	run := lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.Warmup, run.Train.EvalEvery, run.Eval.Episodes = 2, 1, 0, 2
	d, err := d4rl.Load(run.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	d.Meta.EnvID = run.Env
	d.Meta.Extra = map[string]string{MetaRandomReturn: "-2", MetaExpertReturn: "20", MetaExpertActions: "mean"}
	if err := d4rl.Save(run.Dataset, d, d4rl.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	var notes []string
	res, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		if ev.Kind == "note" {
			notes = append(notes, ev.Note)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.References.Random != -2 || res.References.Expert != 20 || !strings.Contains(res.References.Source, "expert with mean actions") {
		t.Errorf("references %+v", res.References)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "stores reference returns random -2.0, expert 20.0; the registry has 0.0, 10.0") {
		t.Errorf("notes %q", notes)
	}
	for _, ts := range res.Last.Targets {
		if want := 100 * (ts.MeanReturn + 2) / 22; math.Abs(ts.MeanNormalized-want) > 1e-9 {
			t.Errorf("target %g: normalised %v, want %v from the dataset's references", ts.Target, ts.MeanNormalized, want)
		}
	}
	if want := 100 * (res.DatasetReturn + 2) / 22; math.Abs(res.DatasetScore-want) > 1e-9 {
		t.Errorf("dataset score %v, want %v", res.DatasetScore, want)
	}
	var sum struct {
		SHA  string `json:"dataset_sha256"`
		Refs struct {
			Random, Expert float64
			Source         string
		} `json:"references"`
	}
	b, _ := os.ReadFile(filepath.Join(run.Out, FileSummary))
	if err := json.Unmarshal(b, &sum); err != nil || sum.SHA != d.SHA256() || sum.Refs.Expert != 20 {
		t.Errorf("summary.json: %v, sha %q (want %q), refs %+v", err, sum.SHA, d.SHA256(), sum.Refs)
	}
	// minrl eval of the checkpoint: the same numbers, without the dataset.
	reps, err := EvaluateCheckpoint(context.Background(), filepath.Join(run.Out, FileLast), CheckpointEvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reps {
		if r.MeanNormalized != res.Last.Targets[i].MeanNormalized {
			t.Errorf("eval target %g: %v, the run reported %v", r.Target, r.MeanNormalized, res.Last.Targets[i].MeanNormalized)
		}
	}
	// References the registry agrees with: no warning.
	if notes := notesOfRunOn(t, func(d *dataset.Dataset) {
		d.Meta.Extra = map[string]string{MetaRandomReturn: "0", MetaExpertReturn: "10"}
	}); len(notes) != 0 {
		t.Errorf("agreeing references: notes %q", notes)
	}
	// Unusable ones: the registry's, with a warning.
	if notes := notesOfRunOn(t, func(d *dataset.Dataset) {
		d.Meta.Extra = map[string]string{MetaRandomReturn: "5", MetaExpertReturn: "5"}
	}); len(notes) != 1 || !strings.Contains(notes[0], "are not two distinct finite numbers") {
		t.Errorf("bad references: notes %q", notes)
	}
}

// train.top_fraction trains on the top episodes and says which; a no_rtg
// run records the ablation in its checkpoint, and its evaluation does not
// depend on the target (issue 18, item 4).
func TestTrainControls(t *testing.T) {
	run := lineRun(t, "pendulum-medium-bc")
	run.Train.Steps, run.Train.Warmup, run.Train.EvalEvery, run.Eval.Episodes = 2, 1, 0, 2
	run.Train.TopFraction = 0.1
	var notes []string
	if _, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Progress: func(ev TrainEvent) {
		if ev.Kind == "note" {
			notes = append(notes, ev.Note)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	// The line data: 60 episodes of 3-5 steps (240 steps), returns
	// (3+s%3)·a with a = (s%9)/2 − 2 up to 10; 10% = 24 steps.
	if len(notes) != 1 || !strings.Contains(notes[0], "train.top_fraction 0.1: training on the") || !strings.Contains(notes[0], "of 240 steps; returns from") {
		t.Errorf("notes %q", notes)
	}
	run = lineRun(t, "pendulum-medium-mingru")
	run.Train.Steps, run.Train.Warmup, run.Train.EvalEvery, run.Eval.Episodes = 2, 1, 0, 2
	run.Model.NoRTG = true
	res, err := Train(context.Background(), run, TrainOptions{SkipPlots: true})
	if err != nil {
		t.Fatal(err)
	}
	ck := readCheckpoint(t, filepath.Join(run.Out, FileLast))
	if !ck.Model.(*policy.Decision).Config().NoRTG || !strings.Contains(ck.Meta[metaRunConfig], `"no_rtg":true`) {
		t.Errorf("checkpoint config %+v, run config %s", ck.Model.(*policy.Decision).Config(), ck.Meta[metaRunConfig])
	}
	a, b := res.Last.Targets[0], res.Last.Targets[1]
	if a.Target == b.Target || a.MeanReturn != b.MeanReturn {
		t.Errorf("no_rtg: target %g returns %v, target %g returns %v", a.Target, a.MeanReturn, b.Target, b.MeanReturn)
	}
}

func ptr[T any](v T) *T { return &v }
