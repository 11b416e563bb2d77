package envs

// reference is a pair of measured reference returns.
type reference struct {
	Random, Expert float64
	Source         string
}

// references are the reference returns of the built-in environments,
// measured by `minrl collect` (each the mean of 100 episodes of the
// uniform-random policy and of the PPO expert behaviour policy). Register
// applies them to specs registered without their own.
var references = map[string]reference{
	"Pendulum-v1": {Random: -1265.3138439755799, Expert: -169.70183488951395,
		Source: "minrl collect --env Pendulum-v1 --ppo-steps 300000 --seed 1 (data/pendulum-collect.json)"},
}
