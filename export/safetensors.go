package export

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"strconv"

	"github.com/minrl/minrl/policy"
)

// Metadata keys a safetensors export adds to a checkpoint's.
const (
	MetaExport       = "export.format"        // "minrl-policy/1"
	MetaVersion      = "export.minrl_version" // the minrl build that exported it
	MetaTargetReturn = "export.target_return" // the return to condition on (Decision models)
	MetaLayout       = "export.layout"        // how to read the weights
	exportFormat     = "minrl-policy/1"
	layoutDoc        = "float32 little-endian; a Linear's weight is [in, out] (y = x @ W + b, the transpose of torch.nn.Linear.weight); " +
		"minRNN proj columns [k | u] (minGRU) or [k_f | k_i | u] (minLSTM); conv.weight [channels, taps]; attn.c_attn columns [q | k | v]"
)

// Safetensors encodes the policy of a checkpoint as a safetensors file
// that loads with the reference Python reader (safetensors.safe_open, or
// safetensors.torch.load_file) and rebuilds with policy.Decode: the model's
// weights only (no optimiser state), and in __metadata__ (string to
// string, values JSON where structured) the config, the normaliser, the
// env id, the targets, the action bounds, the minrl version, the target
// return to condition on and the weight layout. It is a minrl checkpoint
// itself, with its checksum.
func Safetensors(ck *policy.Checkpoint, opt Options) ([]byte, error) {
	info := ck.Info
	info.Meta = maps.Clone(ck.Meta)
	if info.Meta == nil {
		info.Meta = map[string]string{}
	}
	info.Meta[MetaExport] = exportFormat
	info.Meta[MetaVersion] = opt.Version
	info.Meta[MetaLayout] = layoutDoc
	if _, ok := ck.Model.(*policy.Decision); ok {
		target := opt.Target
		if math.IsNaN(target) && len(ck.Targets) > 0 {
			target = ck.Targets[0]
		}
		if !math.IsNaN(target) {
			info.Meta[MetaTargetReturn] = strconv.FormatFloat(target, 'g', -1, 64)
		}
	}
	var b bytes.Buffer
	if err := policy.Encode(&b, ck.Model, info, nil); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return b.Bytes(), nil
}
