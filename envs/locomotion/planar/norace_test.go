//go:build !race

package planar

const raceEnabled = false
