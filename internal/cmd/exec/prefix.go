package exec

import (
	"bytes"
	"io"

	"github.com/ecsterm/ecsterm/internal/text"
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
	return &prefixWriter{w: w, prefix: []byte("[" + text.Escape(instance) + "] ")}
}

// maxLine is the most of one line a prefixWriter holds: an instance that writes without a
// newline gets its output cut into lines of this length, not held in memory until it ends.
const maxLine = 64 << 10

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if room := maxLine - len(p.part); len(b) > room {
				p.part = append(p.part, b[:room]...)
				if err := p.writeLine(nil); err != nil {
					return 0, err
				}
				b = b[room:]
				continue
			}
			p.part = append(p.part, b...)
			break
		}
		if err := p.writeLine(b[:i+1]); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

// writeLine writes the prefix, the line held so far and end (which ends in a newline; nil
// for a line cut at maxLine, which gets one).
func (p *prefixWriter) writeLine(end []byte) error {
	line := make([]byte, 0, len(p.prefix)+len(p.part)+len(end)+1)
	line = append(append(append(line, p.prefix...), p.part...), end...)
	if end == nil {
		line = append(line, '\n')
	}
	p.part = p.part[:0]
	_, err := p.w.Write(line)
	return err
}

// Flush writes an unfinished last line, ending it with a newline.
func (p *prefixWriter) Flush() {
	if len(p.part) > 0 {
		_, _ = p.Write([]byte("\n"))
	}
}
