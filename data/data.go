// Package data finds offline datasets by name. Small datasets that the
// quickstart and the tests need ship inside the binary (this directory's
// *.hdf5 files, listed with their SHA-256 in SHA256SUMS and the command
// that regenerates them in README.md); larger ones are generated on demand
// by `minrl collect` into the cache directory, $MINRL_DATA_DIR, by default
// <user cache dir>/minrl/datasets.
package data

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
)

//go:embed *.hdf5 SHA256SUMS
var shipped embed.FS

// ErrNotFound reports an unknown dataset name.
var ErrNotFound = errors.New("dataset not found")

// Dir is the cache directory for generated datasets.
func Dir() (string, error) {
	if d := os.Getenv("MINRL_DATA_DIR"); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set MINRL_DATA_DIR): %w", err)
	}
	return filepath.Join(c, "minrl", "datasets"), nil
}

// Path returns where a generated dataset of this name lives in the cache.
func Path(name string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name+".hdf5"), nil
}

// Open loads a dataset by name or path. A name with a path separator or an
// .hdf5 suffix is a file; otherwise the cache directory is searched first,
// then the datasets shipped in the binary (checked against SHA256SUMS).
func Open(name string) (*dataset.Dataset, string, error) {
	if strings.ContainsRune(name, os.PathSeparator) || strings.HasSuffix(name, ".hdf5") {
		d, err := d4rl.Load(name)
		return d, name, err
	}
	if p, err := Path(name); err == nil {
		if _, err := os.Stat(p); err == nil {
			d, err := d4rl.Load(p)
			return d, p, err
		}
	}
	raw, err := shipped.ReadFile(name + ".hdf5")
	if err != nil {
		dir, _ := Dir()
		return nil, "", fmt.Errorf("%w: %q is neither in %s nor shipped (shipped: %s); make it with minrl collect",
			ErrNotFound, name, dir, strings.Join(Shipped(), ", "))
	}
	if err := verify(name+".hdf5", raw); err != nil {
		return nil, "", err
	}
	d, err := d4rl.LoadBytes(name, raw)
	return d, "shipped:" + name, err
}

// Shipped lists the names of the datasets inside the binary.
func Shipped() []string {
	var out []string
	entries, _ := fs.Glob(shipped, "*.hdf5")
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e, ".hdf5"))
	}
	sort.Strings(out)
	return out
}

// verify checks a shipped file against SHA256SUMS.
func verify(file string, raw []byte) error {
	sums, err := shipped.ReadFile("SHA256SUMS")
	if err != nil {
		return err
	}
	got := sha256.Sum256(raw)
	for _, line := range strings.Split(string(sums), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == file {
			if f[0] != hex.EncodeToString(got[:]) {
				return fmt.Errorf("shipped dataset %s does not match its SHA-256 in SHA256SUMS", file)
			}
			return nil
		}
	}
	return fmt.Errorf("shipped dataset %s has no SHA-256 in SHA256SUMS", file)
}
