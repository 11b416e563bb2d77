//go:build race

package dataset

// raceEnabled: the race detector's shadow memory inflates RSS, so memory
// measurements skip under -race.
const raceEnabled = true
