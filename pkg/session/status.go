package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// State is the first payload byte of a Status frame: the channel state of 1.02's ChannelState
// enum, which is also what the 1.01 client's status codes are (docs/protocol.md, Payloads: Status).
type State uint8

// Channel states. The official 1.01 client acts on Aborted, Closed and Stream only; ecsterm acts on
// Exited like Closed and on Frozen as "the gateway is going away" (docs/protocol.md, Payloads:
// Status).
const (
	StateInitial State = 0
	StateOpening State = 1
	StateAborted State = 2
	StateOpened  State = 3
	StateClosing State = 4
	StateClosed  State = 5
	StateExited  State = 6
	StateStream  State = 7
	StateFrozen  State = 8
)

func (s State) String() string {
	names := [...]string{"Initial", "Opening", "Aborted", "Opened", "Closing", "Closed", "Exited", "Stream", "Frozen"}
	if int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Status is a decoded Status frame.
type Status struct {
	State State
	// Reason is the text after the state byte (Aborted, Closed, Exited, Frozen).
	Reason string
	// Rate is the bandwidth a Stream status sets, in bits per second (the unit the official client
	// assumes; docs/protocol.md, Payloads: the Stream rate). Zero means "no limit given" and is
	// ignored.
	Rate uint64
}

// ErrEmptyStatus is returned for a Status frame without a state byte.
var ErrEmptyStatus = errors.New("status frame without a state")

// ParseStatus decodes the payload of a Status frame. The text is bounded by the length the sender
// declared and by the bytes present, whichever is smaller, so a lying length field cannot make it
// read past the frame.
func ParseStatus(f *Frame) (Status, error) {
	p := f.Payload
	if n := f.DeclaredLen(); n >= 0 && n < len(p) {
		p = p[:n]
	}
	if len(p) == 0 {
		return Status{}, ErrEmptyStatus
	}
	s := Status{State: State(p[0])}
	rest := p[1:]
	if s.State == StateStream {
		// A big-endian unsigned integer of 1 to 4 bytes; more than 8 cannot fit and is clamped
		// to its low 8 bytes rather than rejected.
		if len(rest) > 8 {
			rest = rest[len(rest)-8:]
		}
		for _, b := range rest {
			s.Rate = s.Rate<<8 | uint64(b)
		}
		return s, nil
	}
	s.Reason = string(rest)
	return s, nil
}

// AppendStatus appends a Status payload carrying a reason text.
func AppendStatus(dst []byte, st State, reason string) []byte {
	return append(append(dst, byte(st)), reason...)
}

// AppendRate appends a Stream status payload setting bps, as a 4-byte big-endian integer.
func AppendRate(dst []byte, bps uint32) []byte {
	return append(dst, byte(StateStream), byte(bps>>24), byte(bps>>16), byte(bps>>8), byte(bps))
}

func parseJSONResize(p []byte) (rows, cols uint16, err error) {
	var v struct {
		Rows *uint16 `json:"rows"`
		Cols *uint16 `json:"cols"`
	}
	if err := json.Unmarshal(p, &v); err != nil || v.Rows == nil || v.Cols == nil {
		return 0, 0, fmt.Errorf("resize payload of %d bytes is neither binary nor {\"rows\",\"cols\"}", len(p))
	}
	return *v.Rows, *v.Cols, nil
}

// ClosedError reports a session the gateway ended for a reason other than a normal exit.
type ClosedError struct {
	State  State
	Reason string
}

func (e *ClosedError) Error() string {
	verb := "closed"
	switch e.State {
	case StateAborted:
		verb = "aborted"
	case StateFrozen:
		verb = "frozen"
	}
	return fmt.Sprintf("session %s by the service: %s", verb, describeReason(e.Reason))
}

// reasons explains the gateway's close codes (docs/protocol.md, Payloads: close reasons) in words a
// user can act on.
var reasons = map[string]string{
	"Exit":                "the remote shell exited",
	"AgentTimeout":        "AgentTimeout (the Cloud Assistant agent did not answer; check that it is running)",
	"InitChannelFailed":   "InitChannelFailed (the agent could not set up the session channel)",
	"OpenChannelFailed":   "OpenChannelFailed (the agent could not open the session channel)",
	"SessionIdDuplicated": "SessionIdDuplicated (the session is already connected elsewhere)",
	"ProcessDataError":    "ProcessDataError (the agent failed to process data)",
	"OpenPtyFailed":       "OpenPtyFailed (the agent could not start a terminal on the instance)",
	"FlowExceedLimit":     "FlowExceedLimit (the session exceeded its bandwidth limit)",
}

func describeReason(r string) string {
	if d, ok := reasons[r]; ok {
		return d
	}
	if r == "" {
		return "no reason given"
	}
	return r
}

// errEnded is what a transport's recv returns when the service ended the session normally (a
// Closed or Exited status with a normal reason, or a normal WebSocket close); Run returns nil.
var errEnded = errors.New("the service ended the session")

// readStatus parses a Status frame, logs it, and returns the error that ends the session when it
// does: errEnded for a normal end, a *ClosedError for any other.
func readStatus(f *Frame, log *slog.Logger) (Status, error) {
	st, err := ParseStatus(f)
	if err != nil {
		return st, fmt.Errorf("malformed status from the session gateway: %w", err)
	}
	log.Debug("status", "state", st.State.String(), "reason", st.Reason, "rate", st.Rate)
	switch st.State {
	case StateClosed, StateExited:
		if st.Reason == "Exit" || st.Reason == "" || st.Reason == "Ok" {
			return st, errEnded
		}
		return st, &ClosedError{State: st.State, Reason: st.Reason}
	case StateAborted, StateFrozen:
		return st, &ClosedError{State: st.State, Reason: st.Reason}
	}
	return st, nil
}
