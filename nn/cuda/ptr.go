package cuda

import (
	"fmt"
	"unsafe"
)

func ptrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

func errShort(n int, b Buf) error {
	return fmt.Errorf("cuda: download of %d doubles from %d floats", n, b.N)
}
