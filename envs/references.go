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
	"Pendulum-v1": {Random: -1265.3138439755799, Expert: -180.05565116080072,
		Source: "minrl collect --env Pendulum-v1 --ppo-steps 300000 --seed 1 (data/pendulum-collect.json)"},
	"minrl/Hopper-v0": {Random: 18.20381872481083, Expert: 4977.023001203203,
		Source: "minrl collect --env minrl/Hopper-v0 --ppo-steps 3000000 --transitions 1000000 --seed 1 (docs/data/hopper-collect.json)"},
	"minrl/Walker2d-v0": {Random: 1.9493802441549422, Expert: 4399.490375380343,
		Source: "minrl collect --env minrl/Walker2d-v0 --ppo-steps 3000000 --transitions 1000000 --seed 1 (docs/data/walker2d-collect.json)"},
	"minrl/HalfCheetah-v0": {Random: -299.80775722839144, Expert: 6116.876044596871,
		Source: "minrl collect --env minrl/HalfCheetah-v0 --ppo-steps 3000000 --transitions 1000000 --seed 1 (docs/data/halfcheetah-collect.json)"},
}
