package attach

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// Sessions resume by default: schema 1.02 with reconnects to the same channel (pkg/session
// resume.go). --no-resume keeps to schema 1.01, which the shipping official client speaks.

// resumeOptions returns how a session on sess resumes, or nil when it must not. Status lines
// go to w, rewritten in place on a raw terminal (inPlace), one per line otherwise; nil w leaves
// them to the debug log.
func resumeOptions(noResume bool, sess *cloud.Session, w io.Writer, inPlace bool, log *slog.Logger) *session.ResumeOptions {
	if noResume {
		return nil
	}
	line := &statusLine{w: w, inPlace: inPlace}
	return &session.ResumeOptions{
		Redial: redialer(sess),
		OnStatus: func(msg string) {
			log.Debug("resume", "session", sess.ID, "status", msg)
			line.show(msg)
		},
	}
}

// redialer dials sess again: on channelID when one is given (the URL with "&channelId=" and the
// id appended as they are, as WEB does, §15.8), else a new channel on the same URL.
func redialer(sess *cloud.Session) func(context.Context, string) (*websocket.Conn, error) {
	return func(ctx context.Context, channelID string) (*websocket.Conn, error) {
		u := sess.URL
		if channelID != "" {
			u += "&channelId=" + channelID
		}
		return session.Dial(ctx, u, session.DialOptions{Token: sess.Token})
	}
}

// statusLine shows resume status as one line. On a raw terminal it opens a line below the remote
// output and rewrites it for each attempt; "reconnected" ends it. Giving up clears it: the error
// that ends the session says so in its place. Elsewhere each status is a line of its own, except
// the give-up, which the error repeats.
type statusLine struct {
	mu      sync.Mutex
	w       io.Writer
	inPlace bool
	open    bool
}

func (l *statusLine) show(msg string) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	gaveUp := strings.HasPrefix(msg, "gave up")
	if !l.inPlace {
		if !gaveUp {
			fmt.Fprintf(l.w, "ecsterm: %s\n", msg)
		}
		return
	}
	start := "\r\x1b[K"
	if !l.open {
		start = "\n" // a line of its own, below whatever the remote side drew
	}
	switch {
	case gaveUp:
		if l.open {
			fmt.Fprint(l.w, "\r\x1b[K")
		}
		l.open = false
	case msg == "reconnected":
		fmt.Fprintf(l.w, "%secsterm: %s\n", start, msg)
		l.open = false
	default:
		fmt.Fprintf(l.w, "%secsterm: %s", start, msg)
		l.open = true
	}
}

// PacedNotice returns a session.Options.OnPaced that tells w, once for all the sessions that
// share it, that the service's bandwidth limit is pacing the input: a throttled upload must not
// pass for a slow network (anchors.md §3 item 2). eol ends the line ("\r\n" while a terminal is
// raw). A nil w gives nil: nothing is said (-q).
func PacedNotice(w io.Writer, eol string) func(bitsPerSecond uint64) {
	if w == nil {
		return nil
	}
	var once sync.Once
	return func(bps uint64) {
		once.Do(func() {
			fmt.Fprintf(w, "ecsterm: the service limits a session's input to %s; uploads are paced to it%s", FormatRate(bps), eol)
		})
	}
}

// FormatRate writes a Stream rate (bits per second, as the official client reads it) the way
// people compare bandwidth: 204800 is "204.8 kbit/s (25.6 KB/s)".
func FormatRate(bps uint64) string {
	kbit := float64(bps) / 1000
	kB := float64(bps) / 8 / 1000
	if kbit >= 10000 {
		return fmt.Sprintf("%.1f Mbit/s (%.2f MB/s)", kbit/1000, kB/1000)
	}
	return fmt.Sprintf("%.1f kbit/s (%.1f KB/s)", kbit, kB)
}
