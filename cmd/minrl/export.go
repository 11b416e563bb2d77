package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/export"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/policy"
)

func newExportCmd() *cobra.Command {
	var format, out, mode string
	var target float64
	cmd := &cobra.Command{
		Use:   "export CHECKPOINT",
		Short: "Export a policy as ONNX or safetensors, to run outside minrl",
		Long: `export writes a checkpoint's policy for other runtimes (docs/export.md):

  --format onnx         an ONNX model (IR 8, opset 17) that takes raw env observations
                        and gives env actions; recurrent policies export their one-step
                        function with the state as inputs and outputs (--mode step), DT
                        and window-trained policies the function of the last K steps
                        (--mode window); BC maps an observation to an action.
  --format safetensors  the weights and, in __metadata__, everything needed to rebuild
                        the policy (config, normaliser, env id, target, action bounds,
                        version); loads with Python's safetensors and with minrl.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ck, err := policy.Load(args[0])
			if err != nil {
				return err
			}
			opt := export.Options{Mode: mode, Target: target, Version: version()}
			if !cmd.Flags().Changed("target") {
				opt.Target = math.NaN()
			}
			if _, ok := ck.Model.(*policy.MLP); ok && cmd.Flags().Changed("mode") {
				return fmt.Errorf("--mode applies to Decision models; a BC policy maps an observation to an action")
			}
			var data []byte
			var lines []string
			switch format {
			case "onnx":
				m, err := export.ONNX(ck, opt)
				if err != nil {
					return err
				}
				data = m.Marshal()
				lines = append(m.Graph.Describe(), fmt.Sprintf("ONNX IR %d, opset %d, %d nodes, %d initializers", m.IRVersion, m.Opset, len(m.Graph.Nodes), len(m.Graph.Init)))
				for _, kv := range m.Meta {
					if kv.Key == "minrl.mode" || kv.Key == "minrl.target_return" {
						lines = append(lines, fmt.Sprintf("%s = %s", kv.Key, kv.Value))
					}
				}
			case "safetensors":
				if data, err = export.Safetensors(ck, opt); err != nil {
					return err
				}
				var n int
				for _, p := range ck.Model.Params() {
					n += p.Value.Len()
				}
				lines = append(lines, fmt.Sprintf("%d tensors, %d weights (float32), metadata: config, normaliser, env id %q, targets, action bounds, version",
					len(ck.Model.Params()), n, ck.EnvID))
			default:
				return fmt.Errorf("--format %q, want onnx or safetensors", format)
			}
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".policy." + format
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exporting %s (%s) as %s\n", args[0], describeModel(ck.Model), format)
			if err := atomicfile.WriteFile(out, data); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s (%d bytes)\n", out, len(data))
			for _, l := range lines {
				fmt.Fprintln(w, "  "+l)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "onnx", "onnx or safetensors")
	cmd.Flags().StringVarP(&out, "out", "o", "", "output file (default: CHECKPOINT with .policy.onnx or .policy.safetensors)")
	cmd.Flags().StringVar(&mode, "mode", "", "step or window (Decision models; default: step for a policy trained in episode context, window otherwise)")
	cmd.Flags().Float64Var(&target, "target", 0, "target return recorded in the export (default: the checkpoint's first)")
	return cmd
}

// describeModel names a policy's kind and size.
func describeModel(m policy.Model) string {
	switch mm := m.(type) {
	case *policy.Decision:
		c := mm.Config()
		return fmt.Sprintf("Decision-%s, %d layers of %d, context %s, K %d", c.Model, c.Layers, c.Embed, c.Context, c.K)
	case *policy.MLP:
		return fmt.Sprintf("BC MLP %v", mm.Config().Hidden)
	}
	return fmt.Sprintf("%T", m)
}
