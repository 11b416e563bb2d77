package configs

import (
	"encoding/json"
	"maps"
	"slices"
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
	want := []string{"eval.targets [3600,1800] (now [])", "train.steps 100000 (now 100001)"}
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
