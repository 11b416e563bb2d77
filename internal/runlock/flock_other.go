//go:build !unix

package runlock

import "os"

// flock is a no-op where flock does not exist: the directory is not locked.
func flock(*os.File) error { return nil }
