package attach

import (
	"fmt"
	"io"
	"sync"
)

// PacedNotice returns a session.Options.OnPaced that tells w, once for all the sessions that
// share it, that the service's bandwidth limit is pacing the input: a throttled upload must not
// pass for a slow network. prefix goes before the line (cp clears its
// progress bar with it), eol after it ("\r\n" where someone else's raw terminal gets it, such as
// ssh's around a ProxyCommand). A nil w gives nil: nothing is said (-q).
func PacedNotice(w io.Writer, prefix, eol string) func(bitsPerSecond uint64) {
	if w == nil {
		return nil
	}
	var once sync.Once
	return func(bps uint64) {
		once.Do(func() {
			fmt.Fprintf(w, "%secsterm: the service limits this session's input to %s (its Stream status, read as bits/s as Alibaba's client does); uploads are paced to it%s",
				prefix, FormatRate(bps), eol)
		})
	}
}

// FormatRate writes a Stream rate in bits per second (docs/protocol.md, The Stream rate) in binary units, as cp's meter and
// the debug log count bytes: 204800 is "200 Kibit/s = 25.0 KiB/s".
func FormatRate(bps uint64) string {
	kibit := float64(bps) / 1024
	if kibit >= 10*1024 {
		return fmt.Sprintf("%.1f Mibit/s = %.2f MiB/s", kibit/1024, kibit/1024/8)
	}
	return fmt.Sprintf("%.0f Kibit/s = %.1f KiB/s", kibit, kibit/8)
}
