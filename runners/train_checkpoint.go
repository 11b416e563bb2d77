package runners

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/internal/runlock"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// Checkpoints of a training run: saving, the output directory, resuming.

func (j *trainJob) saveLast() error {
	if err := j.saveCheckpoint(FileLast, "last", true); err != nil {
		return err
	}
	j.emit(TrainEvent{Kind: "checkpoint", Step: j.tr.Step, Path: j.path(FileLast)})
	return nil
}

// saveCheckpoint writes the weights and the run's state; with optim, also
// the AdamW moments as extra tensors "optim.<param>.exp_avg[_sq]".
func (j *trainJob) saveCheckpoint(name, which string, optim bool) error {
	if err := j.tr.SyncHost(); err != nil {
		return err
	}
	meta := map[string]string{
		metaStep: strconv.Itoa(j.tr.Step), metaOptimStep: strconv.Itoa(j.tr.Opt.StepCount()),
		metaRunConfig: j.cfgJSON, metaConfigSHA: j.cfgSHA, metaDatasetSHA: j.dsSHA,
		metaCheckpointOf: which, metaBestScore: "", metaGemm: nn.CurrentGemm().Name(),
	}
	refs, err := json.Marshal(j.refs)
	if err != nil {
		return err
	}
	meta[metaReferences] = string(refs)
	if j.best != nil {
		b, err := json.Marshal(j.best)
		if err != nil {
			return err
		}
		meta[metaBest], meta[metaBestScore] = string(b), fmtF(j.best.Score)
	}
	st, err := j.sampler.State()
	if err != nil {
		return err
	}
	meta[metaSampler] = base64.StdEncoding.EncodeToString(st)
	// Clocks go to timing.json, not the checkpoint: identical runs write
	// identical checkpoints. The command and paths are in summary.json.
	if which == "last" {
		t, err := json.Marshal(timingState{WallSeconds: j.wall(), TrainSeconds: j.trainSec})
		if err != nil {
			return err
		}
		if err := writeFileAtomic(j.path(FileTiming), func(w io.Writer) (int64, error) {
			n, err := w.Write(t)
			return int64(n), err
		}); err != nil {
			return err
		}
	}
	prog, err := json.Marshal(progressState{SumLoss: j.sumLoss, SumGradNorm: j.sumNorm, NLog: j.nLog, LastEval: j.lastEval})
	if err != nil {
		return err
	}
	meta[metaProgress] = string(prog)
	var extra []nn.NamedTensor
	if optim {
		for _, t := range j.tr.Opt.State().Tensors {
			extra = append(extra, nn.NamedTensor{Name: "optim." + t.Name, Tensor: t.Tensor})
		}
	}
	info := policy.Info{Norm: j.norm, EnvID: j.run.Env, Targets: slices.Clone(j.run.Eval.Targets), Bounds: j.bounds, Meta: meta}
	return policy.Save(j.path(name), j.model, info, extra)
}

// runFiles are the files a training run writes into its directory, by
// exact name: the only files minrl ever removes there (with their
// temporary files, see isRunTemp).
var runFiles = []string{FileLast, FileBest, FileMetrics, FileMetricsCSV, FileEvals, FileLossPlot, FileEvalPlot,
	FileSummary, FileTiming, PrefixFinal + ".csv", PrefixFinal + ".json"}

// isRunTemp reports whether name is a temporary file of an atomic write of
// one of runFiles: "." + file + ".tmp" + the digits os.CreateTemp adds.
func isRunTemp(name string) bool {
	for _, f := range runFiles {
		if rest, ok := strings.CutPrefix(name, "."+f+".tmp"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// ErrNotRunDir reports an output directory that holds files minrl did not
// write, or minrl's files without a checkpoint to resume.
var ErrNotRunDir = errors.New("output directory is not a minrl run")

// prepareDir starts afresh or resumes from last.safetensors. It removes
// only files it can tell minrl wrote (runFiles by name, their temporary
// files by pattern): a directory with anything else in it is refused
// unless resuming, and --overwrite replaces minrl's files and keeps the
// rest.
func (j *trainJob) prepareDir() error {
	entries, err := os.ReadDir(j.run.Out)
	if err != nil {
		return err
	}
	var ours, foreign []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == runlock.Name:
			// The lock this run holds.
		case isRunTemp(name):
			// A killed run's half-written file: the file it was to
			// replace is whole.
			if err := os.Remove(j.path(name)); err != nil {
				return err
			}
		case slices.Contains(runFiles, name) && e.Type().IsRegular():
			ours = append(ours, name)
		default:
			foreign = append(foreign, name)
		}
	}
	if slices.Contains(ours, FileLast) && !j.opts.Overwrite {
		return j.resume(j.path(FileLast))
	}
	if !j.opts.Overwrite {
		switch {
		case len(foreign) > 0:
			return fmt.Errorf("%w: %s holds %s, which minrl did not write; train into an empty or new directory (--out)",
				ErrNotRunDir, j.run.Out, listNames(foreign))
		case len(ours) > 0 && !j.startedHere(ours):
			return fmt.Errorf("%w: %s holds %s but no %s to resume; use another --out, or --overwrite to replace them",
				ErrNotRunDir, j.run.Out, listNames(ours), FileLast)
		}
	}
	for _, f := range ours {
		if err := os.Remove(j.path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return writeFileAtomic(j.path(FileMetricsCSV), func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, metricCSVHeader)
		return int64(n), err
	})
}

// startedHere reports whether minrl's files in the directory (besides the
// lock) are those of a run that stopped before its first checkpoint
// (killed, not interrupted): metrics.csv alone, as minrl writes it at the
// start.
func (j *trainJob) startedHere(ours []string) bool {
	if len(ours) != 1 || ours[0] != FileMetricsCSV {
		return false
	}
	b, err := os.ReadFile(j.path(FileMetricsCSV))
	return err == nil && string(b) == metricCSVHeader
}

// listNames quotes up to five names for a message.
func listNames(names []string) string {
	slices.Sort(names)
	q := make([]string, 0, 6)
	for i, n := range names {
		if i == 5 {
			q = append(q, fmt.Sprintf("and %d more", len(names)-5))
			break
		}
		q = append(q, strconv.Quote(n))
	}
	return strings.Join(q, ", ")
}

// resume restores the run saved in path, after checking that it is a run
// of the same config on the same data.
func (j *trainJob) resume(path string) error {
	ck, err := policy.Load(path)
	if err != nil {
		return fmt.Errorf("cannot resume: %w (use another output directory, or overwrite to start afresh)", err)
	}
	meta := ck.Meta
	if meta[metaRunConfig] == "" || meta[metaCheckpointOf] != "last" {
		return fmt.Errorf("cannot resume from %s: not a training checkpoint of minrl train (use another output directory, or overwrite to start afresh)", path)
	}
	if diff, err := configs.Diff(meta[metaRunConfig], j.cfgJSON); err != nil {
		return fmt.Errorf("%s: %s: %w", path, metaRunConfig, err)
	} else if len(diff) > 0 {
		return fmt.Errorf("%w: %s was written with %s; use another output directory, or overwrite to start afresh",
			ErrConfigMismatch, path, strings.Join(diff, "; "))
	}
	if meta[metaDatasetSHA] != j.dsSHA {
		return fmt.Errorf("%w: %s was trained on other data (SHA-256 %.12s…; now %s, %.12s…); use another output directory, or overwrite to start afresh",
			ErrConfigMismatch, path, meta[metaDatasetSHA], j.dsPath, j.dsSHA)
	}
	// The hash covers the arrays, not a normaliser stored beside them.
	if !slices.Equal(ck.Norm.Mean, j.norm.Mean) || !slices.Equal(ck.Norm.Std, j.norm.Std) {
		return fmt.Errorf("%w: %s normalises states with other statistics than dataset %s now gives; use another output directory, or overwrite to start afresh",
			ErrConfigMismatch, path, j.dsPath)
	}
	bad := func(key string, err error) error {
		return fmt.Errorf("cannot resume from %s: metadata %s: %v", path, key, err)
	}
	step, err := strconv.Atoi(meta[metaStep])
	if err != nil || step < 0 || step > j.run.Train.Steps {
		return bad(metaStep, fmt.Errorf("%q is not a step in [0, %d]", meta[metaStep], j.run.Train.Steps))
	}
	optStep, err := strconv.Atoi(meta[metaOptimStep])
	if err != nil {
		return bad(metaOptimStep, err)
	}
	samp, err := base64.StdEncoding.DecodeString(meta[metaSampler])
	if err != nil {
		return bad(metaSampler, err)
	}
	var prog progressState
	if err := json.Unmarshal([]byte(meta[metaProgress]), &prog); err != nil {
		return bad(metaProgress, err)
	}
	if s := meta[metaBest]; s != "" {
		var b EvalPoint
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			return bad(metaBest, err)
		}
		j.best = &b
	}
	// Weights into the model built from the seed (whose dropout seeds are
	// the run's), the optimiser moments, the sampler's stream.
	src := map[string]*nn.Tensor{}
	for _, p := range ck.Model.Params() {
		src[p.Name] = &p.Value
	}
	for _, p := range j.model.Params() {
		t, ok := src[p.Name]
		if !ok || !slices.Equal(t.Shape, p.Value.Shape) {
			return fmt.Errorf("cannot resume from %s: its model does not match the config (parameter %s)", path, p.Name)
		}
		copy(p.Value.Data, t.Data)
	}
	var ost nn.AdamWState
	ost.Step = optStep
	for _, e := range ck.Extra {
		if name, ok := strings.CutPrefix(e.Name, "optim."); ok {
			ost.Tensors = append(ost.Tensors, nn.NamedTensor{Name: name, Tensor: e.Tensor})
		}
	}
	if err := j.tr.Opt.LoadState(ost); err != nil {
		return fmt.Errorf("cannot resume from %s: %w", path, err)
	}
	if err := j.sampler.SetState(samp); err != nil {
		return fmt.Errorf("cannot resume from %s: %w", path, err)
	}
	j.tr.Resume(step)
	j.resumedFrom = step
	j.prevWall, j.trainSec = prog.WallSeconds, prog.TrainSeconds
	if b, err := os.ReadFile(j.path(FileTiming)); err == nil { // absent: the clocks restart
		var t timingState
		if json.Unmarshal(b, &t) == nil && t.WallSeconds >= 0 && t.TrainSeconds >= 0 {
			j.prevWall, j.trainSec = t.WallSeconds, t.TrainSeconds
		}
	}
	j.sumLoss, j.sumNorm, j.nLog, j.lastEval = prog.SumLoss, prog.SumGradNorm, prog.NLog, prog.LastEval
	// Logs written after the checkpoint (by a run that then crashed) are
	// dropped: the resumed run writes them again.
	if j.metrics, err = readJSONL[MetricRecord](j.path(FileMetrics), step); err != nil {
		return err
	}
	if j.evals, err = readJSONL[EvalPoint](j.path(FileEvals), j.lastEval); err != nil {
		return err
	}
	if err := rewriteJSONL(j.path(FileMetrics), j.metrics); err != nil {
		return err
	}
	if err := rewriteJSONL(j.path(FileEvals), j.evals); err != nil {
		return err
	}
	var csvBuf bytes.Buffer
	csvBuf.WriteString(metricCSVHeader)
	for _, r := range j.metrics {
		csvBuf.WriteString(metricCSVRow(r))
	}
	if err := writeFileAtomic(j.path(FileMetricsCSV), func(w io.Writer) (int64, error) { return csvBuf.WriteTo(w) }); err != nil {
		return err
	}
	ev := TrainEvent{Kind: "resume", Step: step, Path: path}
	// Another backend (pure Go or OpenBLAS, or OpenBLAS on another CPU
	// core) rounds differently: the run goes on, but not bit for bit.
	if was, now := meta[metaGemm], nn.CurrentGemm().Name(); was != "" && was != now {
		ev.Note = fmt.Sprintf("the run so far multiplied matrices with %s, this build with %s: the result will not be bit-identical to an uninterrupted run", was, now)
	}
	j.emit(ev)
	return nil
}
