package cmdutil

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes rows under header as aligned columns, for a person at a terminal. The
// cells must already be escaped: they are written as they are.
func WriteTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// WriteTSV writes rows as tab-separated lines with no header, for a pipe into cut or awk, in
// one write. The cells must already be escaped (so that none holds a tab or a newline).
func WriteTSV(w io.Writer, rows [][]string) error {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t"))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
