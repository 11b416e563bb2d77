package eval

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"

	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/nanjson"
)

// WriteFiles writes the per-episode CSV and the JSON report of each
// report into dir as <prefix>.csv and <prefix>.json.
func WriteFiles(dir, prefix string, reports []Report) error {
	err := atomicfile.Write(filepath.Join(dir, prefix+".csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"env", "target", "episode", "seed", "return", "normalized", "length", "terminated", "error"})
		for _, r := range reports {
			for _, e := range r.Results {
				cw.Write([]string{r.Env, fmtF(r.Target), strconv.Itoa(e.Episode), strconv.FormatUint(e.Seed, 10),
					fmtF(e.Return), fmtF(e.Normalized), strconv.Itoa(e.Length), strconv.FormatBool(e.Terminated), e.Error})
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, prefix+".json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	})
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

// MarshalJSON writes a NaN normalised score (no reference returns) as null.
func (e EpisodeResult) MarshalJSON() ([]byte, error) {
	type plain EpisodeResult // without this method
	return json.Marshal(struct {
		plain
		Normalized nanjson.Float `json:"normalized"`
	}{plain(e), nanjson.Float(e.Normalized)})
}

// MarshalJSON writes NaN normalised scores (no reference returns) as null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		MeanNormalized nanjson.Float `json:"mean_normalized"`
		StdNormalized  nanjson.Float `json:"std_normalized"`
	}{plain(r), nanjson.Float(r.MeanNormalized), nanjson.Float(r.StdNormalized)})
}
