package envs

import (
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"io"

	"github.com/minrl/minrl/internal/atomicfile"
)

// Renderer is implemented by environments that can draw their current
// state as an RGB image.
type Renderer interface {
	Render(width, height int) (*image.RGBA, error)
}

// WriteGIF encodes frames as an animated GIF, delayCS hundredths of a
// second per frame, written atomically to path.
func WriteGIF(path string, frames []*image.RGBA, delayCS int) error {
	if len(frames) == 0 {
		return fmt.Errorf("gif %s: no frames", path)
	}
	g := &gif.GIF{}
	for _, f := range frames {
		// Nearest colours, no dithering: renders are flat-shaded, and
		// undithered frames compress several times better.
		p := image.NewPaletted(f.Bounds(), palette.Plan9)
		draw.Draw(p, f.Bounds(), f, image.Point{}, draw.Src)
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, delayCS)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return gif.EncodeAll(w, g) })
}
