package sysmem

import "testing"

func TestAvailableAndParse(t *testing.T) {
	if b, ok := Available(); ok && b < 1<<20 {
		t.Errorf("MemAvailable %d bytes", b)
	}
	for s, want := range map[string]int64{"512M": 512 << 20, "8G": 8 << 30, "8GiB": 8 << 30, "1.5G": 3 << 29, "4096": 4096, "2k": 2048} {
		if got, ok := Parse(s); !ok || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "x", "-1G", "0", "1e30G"} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
	if Format(3<<29) != "1.5 GiB" || Format(5<<20) != "5 MiB" {
		t.Errorf("Format: %s, %s", Format(3<<29), Format(5<<20))
	}
}
