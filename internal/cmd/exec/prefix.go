package exec

import (
	"bytes"
	"io"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
)

// prefixWriter writes whole lines, each prefixed with the instance, so that the output of
// instances running in parallel interleaves by line and says where each line came from.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
	part   []byte // an unfinished line
}

// newPrefixWriter prefixes lines with instance, escaped: the ID comes from the service.
func newPrefixWriter(w io.Writer, instance string) *prefixWriter {
	return &prefixWriter{w: w, prefix: []byte("[" + cmdutil.Escape(instance) + "] ")}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.part = append(p.part, b...)
			break
		}
		line := make([]byte, 0, len(p.prefix)+len(p.part)+i+1)
		line = append(append(append(line, p.prefix...), p.part...), b[:i+1]...)
		p.part = p.part[:0]
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

// Flush writes an unfinished last line, ending it with a newline.
func (p *prefixWriter) Flush() {
	if len(p.part) > 0 {
		_, _ = p.Write([]byte("\n"))
	}
}
