// Package agents holds minrl's learning algorithms, one per subpackage:
// ppo (online, for making behaviour policies and datasets) and the offline
// decision-model and behaviour-cloning trainers.
package agents
