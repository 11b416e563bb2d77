package runners

import (
	"io"

	"github.com/minrl/minrl/internal/atomicfile"
)

// writeFileAtomic writes a file through a temporary file in the same
// directory and renames it into place, so readers never see a partial file.
// Its writer has WriterTo's signature.
func writeFileAtomic(path string, write func(io.Writer) (int64, error)) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := write(w)
		return err
	})
}
