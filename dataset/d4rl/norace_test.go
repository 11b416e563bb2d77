//go:build !race

package d4rl

const raceEnabled = false
