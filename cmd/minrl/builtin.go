package main

import _ "github.com/minrl/minrl/envs/all" // every built-in environment
