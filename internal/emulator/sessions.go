package emulator

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxCommandLine is StartTerminalSession's limit on CommandLine.
const maxCommandLine = 512

// termSession is one StartTerminalSession result: a URL that any number of WebSocket connections
// may use while it is valid, each becoming its own agent channel (docs/protocol.md §3, §10.3).
type termSession struct {
	id, token string
	instance  *Instance
	created   time.Time
	port      int
	target    string
	command   string
	username  string
	// password and connType are StartTerminalSession's PasswordName and ConnectionType.
	password, connType string

	mu       sync.Mutex
	ended    bool
	channels map[*channel]struct{}
}

// connected reports whether the session has a live channel.
func (s *termSession) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.channels) > 0
}

// end invalidates the session and closes its channels with reason.
func (s *termSession) end(reason string) {
	s.mu.Lock()
	s.ended = true
	chans := make([]*channel, 0, len(s.channels))
	for c := range s.channels {
		chans = append(chans, c)
	}
	s.mu.Unlock()
	for _, c := range chans {
		c.shutdown(reason)
	}
}

func (e *Emulator) startTerminalSession(r *request) (any, error) {
	ids := r.list("InstanceId")
	switch {
	case len(ids) == 0:
		return nil, newAPIError("MissingParameter", "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.")
	case len(ids) > 10:
		return nil, newAPIError("InstanceIds.ExceedLimit", "")
	}
	for _, id := range ids {
		in, ok := e.fleet.instance(id)
		switch {
		case !ok:
			return nil, newAPIError("InvalidInstanceId.NotFound", "The specified instance "+id+" does not exist.")
		case in.Status != "Running":
			return nil, newAPIError("IncorrectInstanceStatus", "The instance "+id+" is "+in.Status+"; it must be Running.")
		case in.Agent == nil:
			return nil, newAPIError("InvalidInstance.NoClient", "The specified instances have no cloud assistant client installed.")
		case !in.Agent.SessionManager:
			return nil, newAPIError("ClientNeedUpgrade", "The cloud assistant client of "+id+" is too old for session management.")
		}
	}
	cmd, portStr, target := r.get("CommandLine"), r.get("PortNumber"), r.get("TargetServer")
	port := 0
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return nil, newAPIError("InvalidParameter", "The specified PortNumber is invalid.")
		}
		port = p
	}
	switch {
	case cmd != "" && (port != 0 || target != ""):
		return nil, newAPIError("InvalidParameter", "CommandLine cannot be combined with PortNumber or TargetServer.")
	case target != "" && port == 0:
		return nil, newAPIError("MissingParameter", "TargetServer needs PortNumber.")
	case utf8.RuneCountInString(cmd) > maxCommandLine:
		return nil, newAPIError("InvalidCommandLine.LengthExceed", "CommandLine is longer than 512 characters.")
	}
	// ConnectionType picks the network of the URL; the emulator has only loopback, so both
	// values give the same URL. PasswordName belongs to Username (the API page: Windows, with
	// Username for a user other than System); alone, or too long, it is refused here, which
	// the page implies but no source shows.
	connType, password := r.get("ConnectionType"), r.get("PasswordName")
	switch {
	case connType != "" && connType != "Internet" && connType != "Intranet":
		return nil, newAPIError("InvalidParameter", "The specified ConnectionType is not valid: use Internet or Intranet.")
	case password != "" && r.get("Username") == "":
		return nil, newAPIError("MissingParameter", "PasswordName needs Username.")
	case utf8.RuneCountInString(password) > 255:
		return nil, newAPIError("InvalidParameter", "PasswordName is longer than 255 characters.")
	case r.get("EncryptionOptions") != "":
		// ecsterm never sends it; how the client's frames change under encryption is unknown.
		return nil, newAPIError("InvalidParameter", "EncryptionOptions is not emulated.")
	}
	in, _ := e.fleet.instance(ids[0])

	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.opts.Now()
	live, onInstance := 0, 0
	for id, s := range e.sessions {
		expired := now.Sub(s.created) > e.opts.URLTTL
		conn := s.connected()
		if s.ended || (expired && !conn) {
			delete(e.sessions, id) // nothing can use it any more
			continue
		}
		live++
		if conn && s.instance.ID == in.ID {
			onInstance++
		}
	}
	if live >= e.opts.SessionsPerRegion {
		return nil, newAPIError("SessionQuota.ExceedLimit", "The region already has "+strconv.Itoa(live)+" sessions, the most allowed.")
	}
	if onInstance >= e.opts.SessionsPerInstance {
		return nil, newAPIError("InstanceSessionQuota.ExceedLimit", "The instance "+in.ID+" already has "+strconv.Itoa(onInstance)+" connected sessions, the most allowed.")
	}
	s := &termSession{
		id: "s-emu" + randHex(8), token: newRequestID(), instance: in, created: now,
		port: port, target: target, command: cmd, username: r.get("Username"),
		password: password, connType: connType,
		channels: map[*channel]struct{}{},
	}
	e.sessions[s.id] = s
	e.started = append(e.started, StartRequest{SessionID: s.id, InstanceID: in.ID, Username: s.username,
		PasswordName: password, ConnectionType: connType, PortNumber: port, TargetServer: target, CommandLine: cmd})
	e.issued = append(e.issued, s.token)
	url := e.scheme("ws") + "://" + e.ln.Addr().String() + "/session?sessionId=" + s.id + "&token=" + s.token
	return obj{"RequestId": r.id, "SessionId": s.id, "SecurityToken": s.token, "WebSocketUrl": url}, nil
}

func (e *Emulator) endTerminalSession(r *request) (any, error) {
	id := r.get("SessionId")
	if id == "" {
		return nil, newAPIError("MissingParameter", "The input parameter \"SessionId\" that is mandatory for processing this request is not supplied.")
	}
	e.mu.Lock()
	s, ok := e.sessions[id]
	delete(e.sessions, id)
	e.keepEnded(s) // DescribeTerminalSessions lists it as Terminated (terminalsessions.go)
	e.mu.Unlock()
	if !ok {
		return nil, newAPIError("InvalidSessionId.NotFound", "The specified session "+id+" does not exist.")
	}
	s.end(reasonTerminated)
	return obj{"RequestId": r.id}, nil
}

// StartRequest is what one accepted StartTerminalSession asked for.
type StartRequest struct {
	SessionID, InstanceID, Username, PasswordName, ConnectionType, TargetServer, CommandLine string
	PortNumber                                                                               int
}

// StartRequests returns every StartTerminalSession the emulator accepted, in order, so that
// tests can check what a client sent.
func (e *Emulator) StartRequests() []StartRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]StartRequest(nil), e.started...)
}

// lookupSession finds a session for the gateway.
func (e *Emulator) lookupSession(id string) (*termSession, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sessions[id]
	return s, ok
}
