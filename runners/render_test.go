package runners

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

// Rendered frames carry the step and the return (issue 17, item 8).
func TestOverlayWritesText(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 200, 100))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	overlay(img, "step 3  return -1.0")
	dark, white := 0, 0
	for y := 0; y < 18; y++ {
		for x := 0; x < 120; x++ {
			c := img.RGBAAt(x, y)
			if c.R < 128 {
				dark++
			}
			if c.R == 255 && c.G == 255 && c.B == 255 {
				white++
			}
		}
	}
	if dark == 0 || white == 0 {
		t.Errorf("overlay band: %d dark and %d white pixels", dark, white)
	}
	if c := img.RGBAAt(150, 60); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("overlay reached the frame's middle: %v", c)
	}
}
