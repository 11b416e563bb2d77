package configs

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

// TestTreeHasEveryKey: Tree covers exactly the keys the YAML presets set,
// so a field added to Run without a mapstructure tag (or a YAML key
// without a field) is caught.
func TestTreeHasEveryKey(t *testing.T) {
	r, err := Load(Source{Preset: "hopper-medium-mingru"})
	if err != nil {
		t.Fatal(err)
	}
	// Off their implicit values, so that Flatten keeps the Introduced keys.
	r.Model.NoRTG, r.Train.TopFraction = true, 0.5
	b, _ := json.Marshal(r.Tree())
	flat, err := Flatten(string(b))
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(flat))
	want := []string{}
	for _, k := range presetKeys(t) {
		if !slices.Contains(Placement, k) {
			want = append(want, k)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("Tree keys %v\nwant the presets' keys %v", keys, want)
	}
}

func TestIdentityDiffAndHash(t *testing.T) {
	a, err := Load(Source{Preset: "hopper-medium-mingru"})
	if err != nil {
		t.Fatal(err)
	}
	b := a
	b.Out = "elsewhere"
	ja, _ := a.Identity()
	jb, _ := b.Identity()
	if ja != jb || SHA256(ja) != SHA256(jb) || SHA256(ja) == "" {
		t.Fatalf("placement changed the identity:\n%s\n%s", ja, jb)
	}
	// The hash does not depend on the JSON's layout.
	var tree map[string]any
	json.Unmarshal([]byte(ja), &tree)
	indented, _ := json.MarshalIndent(tree, "", "  ")
	if SHA256(string(indented)) != SHA256(ja) {
		t.Error("hash depends on the JSON layout")
	}
	b.Train.Steps++
	b.Eval.Targets = nil
	jb, _ = b.Identity()
	if SHA256(jb) == SHA256(ja) {
		t.Error("a changed config hashes the same")
	}
	diff, err := Diff(ja, jb)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"eval.targets [5200,1400] (now [])", "train.steps 100000 (now 100001)"}
	if !slices.Equal(diff, want) {
		t.Errorf("Diff %q, want %q", diff, want)
	}
	if SHA256("[1]") != "" {
		t.Error("hash of a non-object")
	}
}

// presetKeys are the keys a preset's YAML files set, plus name (which
// Load derives from the preset), sorted.
func presetKeys(t *testing.T) []string {
	t.Helper()
	v := viper.New()
	v.SetConfigType("yaml")
	if err := mergeEmbedded(v, "base.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := applyPreset(v, "hopper-medium-mingru"); err != nil {
		t.Fatal(err)
	}
	keys := append(v.AllKeys(), "name")
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestIntroducedKeys: a config recorded before model.no_rtg and
// train.top_fraction existed equals today's at their implicit values (same
// Identity bytes, no Diff, same hash); another value is a difference.
func TestIntroducedKeys(t *testing.T) {
	r, err := Load(Source{Preset: "hopper-medium-dt"})
	if err != nil {
		t.Fatal(err)
	}
	now, err := r.Identity()
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal([]byte(now), &tree); err != nil {
		t.Fatal(err)
	}
	if _, ok := tree["model"].(map[string]any)["no_rtg"]; ok {
		t.Errorf("Identity holds model.no_rtg at its implicit value: %s", now)
	}
	// What a summary.json records: the whole tree, new keys included.
	full, _ := json.Marshal(r.Tree())
	if !strings.Contains(string(full), `"top_fraction":1`) {
		t.Fatalf("Tree lacks train.top_fraction: %s", full)
	}
	if d, err := Diff(string(full), now); err != nil || len(d) > 0 {
		t.Errorf("Diff(tree, identity) = %v, %v; want none", d, err)
	}
	if SHA256(string(full)) != SHA256(now) {
		t.Error("the hash depends on an Introduced key at its implicit value")
	}
	r.Train.TopFraction, r.Model.NoRTG = 0.1, true
	changed, _ := r.Identity()
	d, err := Diff(now, changed)
	want := []string{"model.no_rtg missing (now true)", "train.top_fraction missing (now 0.1)"}
	if err != nil || !slices.Equal(d, want) {
		t.Errorf("Diff = %q, %v; want %q", d, err, want)
	}
}
