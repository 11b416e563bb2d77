package runners

import (
	"math"
	"strings"
	"testing"
)

// The paper's counts give exactly its ratios, and minrl's layers hold the
// paper's weights plus biases (and the minRNNs' projection back to d_x
// when α ≠ 1): GRU 3·d_h(d_x+d_h) + 6·d_h, LSTM 4·d_h(d_x+d_h) + 8·d_h,
// minGRU 2·d_h·d_x + 2·d_h, minLSTM 3·d_h·d_x + 3·d_h.
func TestParamCounts(t *testing.T) {
	rows, err := ParamCounts(16, []int{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if math.Abs(float64(r.PaperMinGRU)/float64(r.PaperGRU)-r.MinGRUShare()) > 1e-12 ||
			math.Abs(float64(r.PaperMinLSTM)/float64(r.PaperLSTM)-r.MinLSTMShare()) > 1e-12 {
			t.Errorf("α=%d: ratios differ from the paper's formulas", r.Alpha)
		}
		out := 0
		if r.Alpha != 1 {
			out = r.Dh*r.Dx + r.Dx
		}
		if r.GRU != r.PaperGRU+6*r.Dh || r.LSTM != r.PaperLSTM+8*r.Dh ||
			r.MinGRU != r.PaperMinGRU+2*r.Dh+out || r.MinLSTM != r.PaperMinLSTM+3*r.Dh+out {
			t.Errorf("α=%d: minrl counts %+v", r.Alpha, r)
		}
	}
	// The paper's table: 33% and 38% at α=1, 13% and 15% at α=4.
	if s := rows[0].MinGRUShare(); math.Abs(s-1.0/3) > 1e-12 {
		t.Errorf("α=1 minGRU share %g", s)
	}
	var b strings.Builder
	if err := WriteParamTable(&b, rows); err != nil || !strings.Contains(b.String(), "| 4 | 16 | 64 |") || !strings.Contains(b.String(), "| dt |") {
		t.Errorf("%v\n%s", err, b.String())
	}
	if _, err := ParamCounts(0, []int{1}); err == nil {
		t.Error("d_x 0 accepted")
	}
}
