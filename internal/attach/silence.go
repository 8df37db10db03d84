package attach

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// AgentWaitEnv names the environment variable that sets how long an interactive or exec session
// waits for the agent's first word (a Go duration, such as 2m) before it gives up; the user hears
// what ecsterm waits for at a twelfth of it. Unset, the bound is session.DefaultSilenceLimit.
const AgentWaitEnv = "ECSTERM_AGENT_WAIT"

// silenceOptions bounds a shell or exec session's wait for the gateway's first frame: the
// shell's prompt or the exec bootstrap's ready marker comes a second or two after the channel
// opens. The notice goes to w as a line of its own; nil w leaves it to the debug log.
func silenceOptions(w io.Writer, log *slog.Logger) *session.SilenceOptions {
	so := &session.SilenceOptions{Notice: session.DefaultSilenceNotice, Limit: session.DefaultSilenceLimit}
	if v := os.Getenv(AgentWaitEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			so.Limit, so.Notice = d, d/12
		} else {
			log.Warn("ignoring "+AgentWaitEnv+": not a positive duration", "value", v)
		}
	}
	limit := so.Limit
	so.OnNotice = func(waited time.Duration) {
		log.Debug("no frame from the gateway yet", "waited", waited.String())
		if w != nil {
			fmt.Fprintf(w, "ecsterm: waiting for the instance's Cloud Assistant agent to start the session (%s so far; giving up at %s)\n",
				waited.Round(time.Millisecond), limit)
		}
	}
	return so
}
