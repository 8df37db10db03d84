package emulator

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"time"
)

// reasonTerminated is the Closed reason a channel gets when EndTerminalSession ends its session.
// What the real gateway sends then is not documented; this name is invented, after the
// Terminated connection status that DescribeTerminalSessions reports (see docs/protocol.md,
// Close reasons).
const reasonTerminated = "Terminated"

// maxEnded is how many ended sessions DescribeTerminalSessions remembers (the service keeps
// four weeks of them).
const maxEnded = 1000

// endedSession is a session EndTerminalSession ended, as DescribeTerminalSessions still lists it.
type endedSession struct {
	s  *termSession
	at time.Time
}

// keepEnded remembers s, ended now, for DescribeTerminalSessions. The caller holds e.mu.
func (e *Emulator) keepEnded(s *termSession) {
	if s == nil {
		return
	}
	e.ended = append(e.ended, endedSession{s: s, at: e.opts.Now()})
	if len(e.ended) > maxEnded {
		e.ended = slices.Delete(e.ended, 0, len(e.ended)-maxEnded)
	}
}

// describeTerminalSessions lists live and ended sessions, newest first, MaxResults (1 to 100,
// default 10) a page; NextToken is the offset of the next page.
func (e *Emulator) describeTerminalSessions(r *request) (any, error) {
	inst, sid := r.get("InstanceId"), r.get("SessionId")
	size := 10
	if v := r.get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, newAPIError("InvalidParameter", "The specified MaxResults is invalid: 1 to 100.")
		}
		size = n
	}
	from := 0
	if v := r.get("NextToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, newAPIError("InvalidNextToken", "The specified NextToken is invalid.")
		}
		from = n
	}
	type row struct {
		s     *termSession
		ended time.Time
	}
	e.mu.Lock()
	rows := make([]row, 0, len(e.sessions)+len(e.ended))
	for _, s := range e.sessions {
		rows = append(rows, row{s: s})
	}
	for _, x := range e.ended {
		rows = append(rows, row{s: x.s, ended: x.at})
	}
	e.mu.Unlock()
	rows = slices.DeleteFunc(rows, func(x row) bool {
		return (inst != "" && x.s.instance.ID != inst) || (sid != "" && x.s.id != sid)
	})
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(b.s.created.Compare(a.s.created), cmp.Compare(a.s.id, b.s.id))
	})
	next := ""
	if from > len(rows) {
		from = len(rows)
	}
	page := rows[from:]
	if len(page) > size {
		page, next = page[:size], strconv.Itoa(from+size)
	}
	out := make([]obj, 0, len(page))
	for _, x := range page {
		out = append(out, describeSession(x.s, x.ended))
	}
	resp := obj{"RequestId": r.id, "Sessions": obj{"Session": out}}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

func describeSession(s *termSession, ended time.Time) obj {
	created := s.created.UTC().Format(time.RFC3339)
	conn := obj{"InstanceId": s.instance.ID, "Status": "Connecting", "StartTime": created}
	clientIP := ""
	s.mu.Lock()
	for c := range s.channels {
		conn["Status"] = "Connected"
		c.wmu.Lock()
		if c.conn != nil {
			if host, _, err := net.SplitHostPort(c.conn.RemoteAddr().String()); err == nil {
				clientIP = host
			}
		}
		c.wmu.Unlock()
	}
	s.mu.Unlock()
	if !ended.IsZero() {
		conn["Status"] = "Terminated"
		conn["EndTime"] = ended.UTC().Format(time.RFC3339)
		conn["ClosedReason"] = reasonTerminated
	}
	return obj{"SessionId": s.id, "CreationTime": created, "ClientIP": clientIP,
		"PortNumber": s.port, "TargetServer": s.target, "Username": s.username,
		"Connections": obj{"Connection": []obj{conn}}}
}
