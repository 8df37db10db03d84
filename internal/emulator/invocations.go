package emulator

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cloud Assistant's one-off commands (docs/protocol.md §4.5), run for real on this machine: each
// instance's script is `bash -c CONTENT` in the instance's home directory, in a process group of
// its own, stdin /dev/null, stdout and stderr in one buffer. Where the reference is silent, the
// choices here are:
//   - Output keeps the first and the last outputHalf bytes and drops the middle, as the real agent's
//     output buffer does ("It only stores the beginning and end of the output",
//     aliyun_assist_client taskengine/outputbuffer); the even split is a guess;
//   - a script that times out is killed with its process group and reports ExitCode 124, the
//     timeout(1) convention; a script killed by a signal reports 128+signal, as a shell does;
//   - when the script's own process exits, whatever it left running in its process group is
//     killed, so nothing outlives an invocation (the real agent's default TerminationMode may
//     leave such processes alone);
//   - per-instance ErrorCodes are recalled from Alibaba's DescribeInvocationResults page
//     (InstanceNotExists appears in the SDK's example) and are unverified; InvokeRecordStatus per
//     result is Running, then Finished when the script ran, Failed when it could not, Stopped when
//     the emulator closed under it;
//   - the script runs as the emulator's own user whatever Username says; USER names Username.

const (
	// maxContentBase64 is RunCommand's limit on CommandContent in Base64, and
	// maxContentKeptBase64 the limit with KeepCommand=true.
	maxContentBase64     = 24 << 10
	maxContentKeptBase64 = 18 << 10
	// maxRunInstances is how many InstanceId.N one RunCommand may name.
	maxRunInstances = 100
	// outputHalf is half of the 24 KB of output DescribeInvocationResults keeps.
	outputHalf = 12 << 10
	// defaultRunTimeout and maxRunTimeout bound Timeout (seconds).
	defaultRunTimeout = 60
	maxRunTimeout     = 86400
	// timeoutExitCode is the ExitCode of a script killed for running out of time.
	timeoutExitCode = 124
	// defaultRunUser is the Linux agent's default user for commands.
	defaultRunUser = "root"
	apiTime        = "2006-01-02T15:04:05Z"
)

// invocation is one RunCommand: a script and its result on each instance, in request order.
type invocation struct {
	id, commandID, username string
	sentUser, passwordName  string // Username and WindowsPasswordName as sent
	results                 []*invokeResult
}

// invokeResult is one instance's run. Its fields change while the script runs, under mu.
type invokeResult struct {
	instanceID string

	mu               sync.Mutex
	status           string // InvocationStatus
	record           string // InvokeRecordStatus
	exitCode         int
	out              outputBuffer
	errCode, errInfo string
	start, finish    time.Time
}

// invocationStore is an emulator's invocations. Closing it kills every script still running.
type invocationStore struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	byID   map[string]*invocation
	order  []*invocation
	tokens map[string]*invocation // ClientToken → the invocation it started
}

func newInvocationStore() *invocationStore {
	st := &invocationStore{byID: map[string]*invocation{}, tokens: map[string]*invocation{}}
	st.ctx, st.cancel = context.WithCancel(context.Background())
	return st
}

// close refuses new invocations and kills the running ones; Close waits for them on e.wg.
func (st *invocationStore) close() {
	st.mu.Lock()
	st.closed = true
	st.mu.Unlock()
	st.cancel()
}

func (e *Emulator) runCommand(r *request) (any, error) {
	listed := r.list("InstanceId")
	var ids []string // each instance once, in request order
	for _, id := range listed {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	typ := r.get("Type")
	switch {
	case len(ids) == 0: // ResourceTag.N, the other way to pick instances, is not emulated
		return nil, missing("InstanceId")
	case len(listed) > maxRunInstances:
		return nil, newAPIError("InvalidParameter", "The number of InstanceId exceeds 100.")
	case typ == "":
		return nil, missing("Type")
	case typ != "RunShellScript" && typ != "RunPowerShellScript" && typ != "RunBatScript":
		return nil, newAPIError("InvalidParameter", "The specified Type is not valid.")
	case r.get("CommandContent") == "":
		return nil, missing("CommandContent")
	case r.get("RepeatMode") != "" && r.get("RepeatMode") != "Once":
		return nil, newAPIError("InvalidParameter", "The emulator runs RepeatMode Once only.")
	}
	script, err := commandContent(r)
	if err != nil {
		return nil, err
	}
	timeout := defaultRunTimeout
	if v := r.get("Timeout"); v != "" {
		if timeout, err = strconv.Atoi(v); err != nil || timeout < 1 || timeout > maxRunTimeout {
			return nil, newAPIError("InvalidParameter", "The specified Timeout is not valid.")
		}
	}
	user := r.get("Username")
	if user == "" {
		user = defaultRunUser
	}

	st := e.inv
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, newAPIError("ServiceUnavailable", "")
	}
	token := r.get("ClientToken")
	if inv := st.tokens[token]; token != "" && inv != nil { // a retry of a call that got through
		return obj{"RequestId": r.id, "CommandId": inv.commandID, "InvokeId": inv.id}, nil
	}
	inv := &invocation{id: "t-emu" + randHex(8), commandID: "c-emu" + randHex(8), username: user,
		sentUser: r.get("Username"), passwordName: r.get("WindowsPasswordName")}
	now := e.opts.Now()
	for _, id := range ids {
		res := &invokeResult{instanceID: id, status: "Pending", record: "Running"}
		inv.results = append(inv.results, res)
		in, _ := e.fleet.instance(id)
		if status, code, info := refusal(in, typ); status != "" {
			res.status, res.record, res.errCode, res.errInfo, res.finish = status, "Failed", code, info, now
			continue
		}
		spec := scriptSpec{
			script:  script,
			dir:     r.get("WorkingDir"),
			home:    filepath.Join(e.opts.StateDir, id),
			user:    user,
			timeout: time.Duration(timeout) * time.Second,
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.execute(st.ctx, res, spec)
		}()
	}
	st.byID[inv.id] = inv
	st.order = append(st.order, inv)
	if token != "" {
		st.tokens[token] = inv
	}
	return obj{"RequestId": r.id, "CommandId": inv.commandID, "InvokeId": inv.id}, nil
}

func missing(name string) *apiError {
	return newAPIError("MissingParameter", "The input parameter \""+name+"\" that is mandatory for processing this request is not supplied.")
}

// commandContent decodes CommandContent and applies the 24 KB limit, which is on the Base64 form
// whatever encoding the caller used. Unknown ContentEncoding values mean PlainText.
func commandContent(r *request) (string, error) {
	content := r.get("CommandContent")
	limit := maxContentBase64
	if strings.EqualFold(r.get("KeepCommand"), "true") {
		limit = maxContentKeptBase64
	}
	b64 := strings.EqualFold(r.get("ContentEncoding"), "Base64")
	size := len(content)
	if !b64 {
		size = base64.StdEncoding.EncodedLen(len(content))
	}
	if size > limit {
		// Invented code: the reference gives the limit but not the error.
		return "", newAPIError("InvalidCommandContent.LengthLimitExceeded",
			"The Base64 CommandContent is "+strconv.Itoa(size)+" bytes, more than the "+strconv.Itoa(limit)+" allowed.")
	}
	if !b64 {
		return content, nil
	}
	dec, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return "", newAPIError("InvalidParameter", "The specified CommandContent is not valid Base64.")
	}
	return string(dec), nil
}

// refusal is why an instance cannot run a script of type typ, as a terminal InvocationStatus,
// ErrorCode and ErrorInfo; an empty status means it can. The codes are unverified.
func refusal(in *Instance, typ string) (status, code, info string) {
	windows := in != nil && strings.EqualFold(in.OS, "Windows")
	switch {
	case in == nil:
		return "Invalid", "InstanceNotExists", "the specified instance does not exists"
	case in.Status != "Running":
		return "Invalid", "InstanceNotRunning", "the instance is " + in.Status + ", not Running"
	case in.Agent == nil:
		return "Aborted", "ClientNotInstalled", "the Cloud Assistant agent is not installed"
	case !in.Agent.Online:
		return "Aborted", "ClientNotOnline", "the Cloud Assistant agent is not online"
	case windows == (typ == "RunShellScript"):
		return "Invalid", "CommandNotApplicable", typ + " does not apply to a " + in.OS + " instance"
	case windows:
		return "Failed", "ExecutionException", "the emulator cannot run PowerShell or batch scripts"
	}
	return "", "", ""
}

// scriptSpec is what one instance runs.
type scriptSpec struct {
	script, dir, home, user string
	timeout                 time.Duration
}

// execute runs spec for res and records the outcome; ctx ends when the emulator closes.
func (e *Emulator) execute(ctx context.Context, res *invokeResult, spec scriptSpec) {
	fail := func(status, code, info string) {
		res.mu.Lock()
		defer res.mu.Unlock()
		res.status, res.record, res.errCode, res.errInfo, res.finish = status, "Failed", code, info, e.opts.Now()
	}
	if err := os.MkdirAll(spec.home, 0o700); err != nil {
		fail("Error", "ExecutionException", err.Error())
		return
	}
	if spec.dir == "" {
		spec.dir = spec.home
	} else if fi, err := os.Stat(spec.dir); err != nil || !fi.IsDir() {
		fail("Invalid", "InvalidWorkingDirectory", "the working directory "+spec.dir+" does not exist")
		return
	}
	env := []string{
		"HOME=" + spec.home,
		"USER=" + spec.user,
		"LOGNAME=" + spec.user,
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"PATH=" + os.Getenv("PATH"),
	}
	started := func() {
		res.mu.Lock()
		defer res.mu.Unlock()
		res.status, res.start = "Running", e.opts.Now()
	}
	o := runScript(ctx, spec, env, res, started)
	res.mu.Lock()
	defer res.mu.Unlock()
	res.finish = e.opts.Now()
	if res.start.IsZero() {
		res.start = res.finish
	}
	res.exitCode, res.errInfo, res.record = o.exitCode, o.info, "Finished"
	switch {
	case o.startErr:
		res.status, res.record, res.errCode = "Error", "Failed", "ExecutionException"
	case o.stopped:
		res.status, res.record, res.errCode = "Terminated", "Stopped", "ExecutionInterrupted"
	case o.timedOut:
		res.status, res.errCode = "Timeout", "ExecutionTimeout"
	case o.exitCode == 0:
		res.status = "Success"
	default:
		res.status, res.errCode = "Failed", "ExitCodeNonzero"
	}
}

// outcome is how a script ended.
type outcome struct {
	exitCode          int
	timedOut, stopped bool
	startErr          bool
	info              string
}

// Write adds script output.
func (res *invokeResult) Write(p []byte) (int, error) {
	res.mu.Lock()
	defer res.mu.Unlock()
	return res.out.Write(p)
}

// outputBuffer keeps what the service reports of a script's output: the first and the last
// outputHalf bytes, counting everything between them as dropped.
type outputBuffer struct {
	head, tail []byte
	total      int
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.total += n
	if room := outputHalf - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head, p = append(b.head, p[:k]...), p[k:]
	}
	b.tail = append(b.tail, p...)
	if len(b.tail) > 2*outputHalf { // trim now and then, not on every write
		b.tail = append(b.tail[:0], b.tail[len(b.tail)-outputHalf:]...)
	}
	return n, nil
}

// bytes returns the kept output and the number of bytes dropped.
func (b *outputBuffer) bytes() ([]byte, int) {
	tail := b.tail
	if len(tail) > outputHalf {
		tail = tail[len(tail)-outputHalf:]
	}
	out := append(append(make([]byte, 0, len(b.head)+len(tail)), b.head...), tail...)
	return out, b.total - len(out)
}

func (e *Emulator) describeInvocationResults(r *request) (any, error) {
	invokeID, commandID, instanceID := r.get("InvokeId"), r.get("CommandId"), r.get("InstanceId")
	plain := strings.EqualFold(r.get("ContentEncoding"), "PlainText") // the default is Base64
	st := e.inv
	st.mu.Lock()
	invs := st.order
	if invokeID != "" {
		inv, ok := st.byID[invokeID]
		if !ok {
			st.mu.Unlock()
			return nil, &apiError{Status: http.StatusNotFound, Code: "InvalidInvokeId.NotFound",
				Message: "The specified InvokeId " + invokeID + " does not exist."}
		}
		invs = []*invocation{inv}
	}
	invs = append([]*invocation(nil), invs...)
	st.mu.Unlock()

	type item struct {
		inv *invocation
		res *invokeResult
	}
	var match []item
	for _, inv := range invs {
		if commandID != "" && inv.commandID != commandID {
			continue
		}
		for _, res := range inv.results {
			if instanceID == "" || res.instanceID == instanceID {
				match = append(match, item{inv, res})
			}
		}
	}
	start, end, next, err := page(r, len(match), 10, 1, 50)
	if err != nil {
		return nil, err
	}
	out := make([]obj, 0, end-start)
	for _, it := range match[start:end] {
		out = append(out, it.res.json(it.inv, plain))
	}
	inv := obj{"TotalCount": len(match), "PageSize": end - start, "PageNumber": 1,
		"InvocationResults": obj{"InvocationResult": out}}
	if next != "" {
		inv["NextToken"] = next
	}
	return obj{"RequestId": r.id, "Invocation": inv}, nil
}

// json is the result as DescribeInvocationResults lists it.
func (res *invokeResult) json(inv *invocation, plain bool) obj {
	res.mu.Lock()
	defer res.mu.Unlock()
	out, dropped := res.out.bytes()
	output := base64.StdEncoding.EncodeToString(out)
	if plain {
		output = string(out)
	}
	o := obj{
		"InstanceId": res.instanceID, "InvokeId": inv.id, "CommandId": inv.commandID,
		"InvocationStatus": res.status, "InvokeRecordStatus": res.record, "ExitCode": res.exitCode,
		"Output": output, "Dropped": dropped, "ErrorCode": res.errCode, "ErrorInfo": res.errInfo,
		"Username": inv.username, "Repeats": 0, "Tags": obj{"Tag": []obj{}},
	}
	if !res.start.IsZero() {
		o["StartTime"] = res.start.UTC().Format(apiTime)
	}
	if !res.finish.IsZero() {
		o["FinishedTime"] = res.finish.UTC().Format(apiTime)
	}
	return o
}
