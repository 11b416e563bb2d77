//go:build race

package d4rl

// raceEnabled: the race detector's shadow memory inflates RSS, so memory
// measurements skip under -race.
const raceEnabled = true
