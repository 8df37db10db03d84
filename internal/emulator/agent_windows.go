//go:build windows

package emulator

import "errors"

// startShell cannot run on Windows: the emulated agent needs a Unix PTY. The gateway then ends
// the channel with OpenPtyFailed, as a real agent that cannot open its terminal does.
func (c *channel) startShell() error {
	return errors.New("the emulated agent needs a Unix PTY; run the emulator on Linux or macOS")
}
