package runners

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/minrl/minrl/internal/nanjson"
)

// The run's records: JSON with NaN as null, and the JSONL files.

type targetScoreJSON struct {
	Target         nanjson.Float `json:"target"`
	MeanReturn     nanjson.Float `json:"mean_return"`
	StdReturn      nanjson.Float `json:"std_return"`
	MeanNormalized nanjson.Float `json:"mean_normalized"`
	StdNormalized  nanjson.Float `json:"std_normalized"`
	MeanLength     nanjson.Float `json:"mean_length"`
}

// MarshalJSON writes NaN scores (no reference returns) as null.
func (t TargetScore) MarshalJSON() ([]byte, error) {
	return json.Marshal(targetScoreJSON{nanjson.Float(t.Target), nanjson.Float(t.MeanReturn), nanjson.Float(t.StdReturn), nanjson.Float(t.MeanNormalized), nanjson.Float(t.StdNormalized), nanjson.Float(t.MeanLength)})
}

// UnmarshalJSON reads null scores as NaN.
func (t *TargetScore) UnmarshalJSON(b []byte) error {
	var v targetScoreJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = TargetScore{float64(v.Target), float64(v.MeanReturn), float64(v.StdReturn), float64(v.MeanNormalized), float64(v.StdNormalized), float64(v.MeanLength)}
	return nil
}

// MarshalJSON writes NaN dataset scores (no reference returns) as null.
func (r TrainResult) MarshalJSON() ([]byte, error) {
	type plain TrainResult // without this method
	return json.Marshal(struct {
		plain
		DatasetReturn nanjson.Float `json:"dataset_return"`
		DatasetScore  nanjson.Float `json:"dataset_score"`
	}{plain(r), nanjson.Float(r.DatasetReturn), nanjson.Float(r.DatasetScore)})
}

type evalPointJSON struct {
	Step      int           `json:"step"`
	Score     nanjson.Float `json:"score"`
	ScoreKind string        `json:"score_kind"`
	Episodes  int           `json:"episodes"`
	Targets   []TargetScore `json:"targets"`
}

// MarshalJSON writes a NaN score as null.
func (p EvalPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(evalPointJSON{p.Step, nanjson.Float(p.Score), p.ScoreKind, p.Episodes, p.Targets})
}

// UnmarshalJSON reads a null score as NaN.
func (p *EvalPoint) UnmarshalJSON(b []byte) error {
	var v evalPointJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = EvalPoint{v.Step, float64(v.Score), v.ScoreKind, v.Episodes, v.Targets}
	return nil
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func appendJSONL(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return appendFile(path, append(b, '\n'))
}

func rewriteJSONL[T any](path string, recs []T) error {
	return writeFileAtomic(path, func(w io.Writer) (int64, error) {
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				return 0, err
			}
			if _, err := w.Write(append(b, '\n')); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
}

// readJSONL reads the records of a JSON-lines log up to step maxStep; a
// missing file is empty, and a torn last line (a crash mid-write: no
// newline yet) is dropped. Any other bad line is an error, since resuming
// rewrites the log and would lose every record after it.
func readJSONL[T interface{ step() int }](path string, maxStep int) ([]T, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []T
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r T
		if err := json.Unmarshal(line, &r); err != nil {
			if i == len(lines)-1 {
				break
			}
			return nil, fmt.Errorf("%s line %d is damaged (%v): move the file away to resume without it", path, i+1, err)
		}
		if r.step() <= maxStep {
			out = append(out, r)
		}
	}
	return out, nil
}

func (r MetricRecord) step() int { return r.Step }
func (p EvalPoint) step() int    { return p.Step }

// fmtF formats a float for CSV, to 10 significant digits.
func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
