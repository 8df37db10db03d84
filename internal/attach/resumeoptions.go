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
// conn102.go, replay102.go). --no-resume keeps to schema 1.01, which the shipping official client speaks.

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
// id appended as they are, as WEB does; see docs/protocol.md, Reconnecting), else a new channel
// on the same URL.
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
