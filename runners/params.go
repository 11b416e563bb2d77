package runners

import (
	"fmt"
	"io"
	"strings"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// ParamRow compares the parameter counts of one layer width: the paper's
// weight-matrix counts (Feng et al. 2024, §3: GRU 3·d_h(d_x+d_h), LSTM
// 4·d_h(d_x+d_h), minGRU 2·d_h·d_x, minLSTM 3·d_h·d_x) and what minrl's nn
// layers hold (biases, and for α ≠ 1 the minRNNs' projection back to d_x,
// included).
type ParamRow struct {
	Alpha  int // d_h / d_x
	Dx, Dh int
	// The paper's counts (weights only).
	PaperGRU, PaperLSTM, PaperMinGRU, PaperMinLSTM int
	// minrl's layers (every parameter).
	GRU, LSTM, MinGRU, MinLSTM int
}

// MinGRUShare is the paper's minGRU/GRU ratio, 2/(3(1+α)); MinLSTMShare
// minLSTM/LSTM, 3/(4(1+α)).
func (r ParamRow) MinGRUShare() float64  { return 2 / (3 * (1 + float64(r.Alpha))) }
func (r ParamRow) MinLSTMShare() float64 { return 3 / (4 * (1 + float64(r.Alpha))) }

// ParamCounts builds each layer at width dx and state sizes α·dx and counts.
func ParamCounts(dx int, alphas []int) ([]ParamRow, error) {
	if dx < 1 || dx > 1<<12 {
		return nil, fmt.Errorf("params: d_x %d, want 1 to 4096", dx)
	}
	var rows []ParamRow
	for _, a := range alphas {
		if a < 1 || a > 16 {
			return nil, fmt.Errorf("params: α %d, want 1 to 16", a)
		}
		dh := a * dx
		rng := nn.NewRNG(1)
		cfg := nn.MinRNNConfig{Dim: dx, Expansion: float64(a)}
		rows = append(rows, ParamRow{
			Alpha: a, Dx: dx, Dh: dh,
			PaperGRU: 3 * dh * (dx + dh), PaperLSTM: 4 * dh * (dx + dh), PaperMinGRU: 2 * dh * dx, PaperMinLSTM: 3 * dh * dx,
			GRU:     nn.NumParams(nn.NewGRU("gru", dx, dh, rng)),
			LSTM:    nn.NumParams(nn.NewLSTM("lstm", dx, dh, rng)),
			MinGRU:  nn.NumParams(nn.NewMinGRU("mingru", cfg, rng)),
			MinLSTM: nn.NumParams(nn.NewMinLSTM("minlstm", cfg, rng)),
		})
	}
	return rows, nil
}

// WriteParamTable prints rows as Markdown, with the Decision models'
// counts at their defaults (Hopper's 11 state and 3 action dimensions).
func WriteParamTable(w io.Writer, rows []ParamRow) error {
	var b strings.Builder
	b.WriteString("| α | d_x | d_h | paper GRU | paper minGRU | minGRU/GRU (paper: 2/(3(1+α))) | paper LSTM | paper minLSTM | minLSTM/LSTM (paper: 3/(4(1+α))) | minrl GRU | minrl minGRU | minrl LSTM | minrl minLSTM |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %.1f%% (%.1f%%) | %d | %d | %.1f%% (%.1f%%) | %d | %d | %d | %d |\n",
			r.Alpha, r.Dx, r.Dh, r.PaperGRU, r.PaperMinGRU, 100*float64(r.PaperMinGRU)/float64(r.PaperGRU), 100*r.MinGRUShare(),
			r.PaperLSTM, r.PaperMinLSTM, 100*float64(r.PaperMinLSTM)/float64(r.PaperLSTM), 100*r.MinLSTMShare(),
			r.GRU, r.MinGRU, r.LSTM, r.MinLSTM)
	}
	b.WriteString("\nDecision models at their defaults (embed 128, 3 layers, K 20, Hopper: 11 state, 3 action dimensions):\n\n| model | parameters |\n|---|---:|\n")
	for _, m := range []policy.ModelKind{policy.ModelMinGRU, policy.ModelMinLSTM, policy.ModelDT} {
		d, err := policy.NewDecision(policy.DefaultConfig(m, 11, 3), nn.NewRNG(1))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "| %s | %d |\n", m, nn.NumParams(d))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
