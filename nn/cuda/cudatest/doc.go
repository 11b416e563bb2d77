// Package cudatest gives tests a cuda.Device: the GPU in binaries built with
// -tags cuda, else the CPU emulator (which needs cgo; without cgo the tests
// that need a device are skipped).
package cudatest
