//go:build !linux

package serialsim

import (
	"errors"
	"os"
)

// ptyInputQueued is only implemented on Linux; elsewhere an unplug relies on
// socat's transfer log alone.
func ptyInputQueued(*os.File) (int, error) {
	return 0, errors.New("serialsim: pty input queue not available on this system")
}
