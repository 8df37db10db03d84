//go:build windows

package emulator

import (
	"context"
	"io"
)

// runScript cannot run on Windows: the emulated agent runs scripts with bash in a Unix process
// group. The result is Error with this line, as a real agent that cannot start the script reports.
func runScript(_ context.Context, _ scriptSpec, _ []string, _ io.Writer, _ func()) outcome {
	return outcome{startErr: true, info: "the emulated agent runs scripts with bash; run the emulator on Linux or macOS"}
}
