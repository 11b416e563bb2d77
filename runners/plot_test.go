package runners

import (
	"testing"
)

// A log axis within one decade still gets several labels (issue 17,
// item 8: speed.png had one y-axis label).
func TestLogTicksLabelWithinADecade(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks125{}).Ticks(120, 900) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if len(labels) != 2 || labels[0] != "200" || labels[1] != "500" {
		t.Errorf("labels %q, want 200 and 500", labels)
	}
	if got := (logTicks125{}).Ticks(0, 10); got != nil {
		t.Errorf("non-positive range: %v", got)
	}
}
