package attach

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// TestExpiredDropReadsAsTheLimit: a drop without the agent's status once the session's limit
// has passed reads as the limit's end; before it, or for the agent's own statuses, the error
// stays as it was.
func TestExpiredDropReadsAsTheLimit(t *testing.T) {
	drop := fmt.Errorf("%w: websocket: close 1006", session.ErrConnectionLost)
	status := &session.ClosedError{State: session.StateClosed, Reason: "Exit"}
	yes, no := func() bool { return true }, func() bool { return false }
	for _, tc := range []struct {
		name    string
		err     error
		expired func() bool
		limit   bool
	}{
		{"drop past the limit", drop, yes, true},
		{"drop before the limit", drop, no, false},
		{"resume gave up past the limit", fmt.Errorf("%w: %w", session.ErrExpired, drop), no, true},
		{"status past the limit", status, yes, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ExplainEnd(expiredDrop(tc.err, tc.expired))
			isLimit := got.Error() == agentEnds["SessionTimeout"]
			if isLimit != tc.limit || !errors.Is(got, tc.err) {
				t.Errorf("%q: limit %v, want %v (and wrapping %q)", got, isLimit, tc.limit, tc.err)
			}
			if !tc.limit && got.Error() != tc.err.Error() {
				t.Errorf("%q changed to %q", tc.err, got)
			}
			if tc.limit && strings.Contains(got.Error(), "lost") {
				t.Errorf("%q speaks of a lost connection", got)
			}
		})
	}
}
