package configs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Placement are the keys that say where a run is written, not what it
// computes: a resumed run may change them, and Identity leaves them out.
var Placement = []string{"out"}

// Introduced are keys added after runs were recorded, each with the JSON
// of the value that runs made before it had implicitly. At that value a
// key is left out of Identity, Flatten, Diff and SHA256, so that older
// checkpoints resume, older records still match their sweeps, and a run
// that does not use the new setting records the same bytes as before.
var Introduced = map[string]string{
	"model.no_rtg":       "false",
	"train.top_fraction": "1",
}

// dropIntroduced deletes the Introduced keys of flat that hold their
// implicit value.
func dropIntroduced(flat map[string]string) {
	for k, v := range Introduced {
		if flat[k] == v {
			delete(flat, k)
		}
	}
}

// Tree returns the run as nested maps keyed like the YAML (nil slices as
// empty ones, so that a config compares equal to itself however it was
// built). It reads the struct, not viper's AllSettings, because a Run may
// be built or changed in code after Load; TestTreeHasEveryKey checks that
// the two have the same keys.
func (r Run) Tree() map[string]any { return structTree(reflect.ValueOf(r)) }

func structTree(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		key, f := t.Field(i).Tag.Get("mapstructure"), v.Field(i)
		switch {
		case key == "" || !t.Field(i).IsExported():
		case f.Kind() == reflect.Struct:
			out[key] = structTree(f)
		case f.Kind() == reflect.Slice && f.IsNil():
			out[key] = reflect.MakeSlice(f.Type(), 0, 0).Interface()
		default:
			out[key] = f.Interface()
		}
	}
	return out
}

// Identity returns the run's Tree without its Placement keys, as JSON:
// what a checkpoint records, so that two identical runs written to
// different directories record the same bytes.
func (r Run) Identity() (string, error) {
	tree := r.Tree()
	for _, k := range Placement {
		delete(tree, k)
	}
	for k, v := range Introduced {
		section, leaf, _ := strings.Cut(k, ".")
		if sub, ok := tree[section].(map[string]any); ok {
			if b, err := json.Marshal(sub[leaf]); err == nil && string(b) == v {
				delete(sub, leaf)
			}
		}
	}
	b, err := json.Marshal(tree)
	return string(b), err
}

// Flatten lists a config JSON's leaves as dotted keys ("train.steps") with
// each value's JSON, leaving out the Placement keys and the Introduced
// keys at their implicit values.
func Flatten(cfgJSON string) (map[string]string, error) {
	dec := json.NewDecoder(strings.NewReader(cfgJSON))
	dec.UseNumber() // seeds above 2^53 stay exact
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	out := map[string]string{}
	flattenInto("", tree, out)
	for _, k := range Placement {
		delete(out, k)
	}
	dropIntroduced(out)
	return out, nil
}

func flattenInto(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flattenInto(prefix+k+".", sub, out)
			continue
		}
		b, _ := json.Marshal(v)
		out[prefix+k] = string(b)
	}
}

// Diff lists the keys whose values differ between two config JSONs, as
// "key old (now new)", sorted.
func Diff(saved, now string) ([]string, error) {
	a, err := Flatten(saved)
	if err != nil {
		return nil, err
	}
	b, err := Flatten(now)
	if err != nil {
		return nil, err
	}
	var diff []string
	for k, va := range a {
		if vb, ok := b[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s %s (a key this build does not know)", k, va))
		} else if va != vb {
			diff = append(diff, fmt.Sprintf("%s %s (now %s)", k, va, vb))
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s missing (now %s)", k, vb))
		}
	}
	slices.Sort(diff)
	return diff, nil
}

// SHA256 hashes a config JSON's flattened keys and values (Placement
// left out) in key order, so that the hash does not depend on how the
// JSON was laid out; it returns "" for JSON that is not an object.
func SHA256(cfgJSON string) string {
	flat, err := Flatten(cfgJSON)
	if err != nil {
		return ""
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, flat[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
