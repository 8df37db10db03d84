package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// apiStatus gives each error code the HTTP status the real service answers with, where known
// (the API page; docs/protocol.md §4.7); codes the emulator invents for unknown cases are marked.
var apiStatus = map[string]int{
	"MissingParameter":           400,
	"InvalidParameter":           400,
	"InvalidAction.NotFound":     404,
	"RegionId.ApiNotSupported":   400,
	"InstanceIds.ExceedLimit":    403,
	"Operation.Forbidden":        404,
	"InternalError.Dispatch":     500,
	"InternalError":              500,
	"ServiceUnavailable":         503,
	"Throttling":                 400,
	"Throttling.User":            400,
	"InvalidInstanceId.NotFound": 404,
	"IncorrectInstanceStatus":    403,
	"InvalidInstance.NoClient":   400, // seen in Cloud Assistant docs
	"ClientNeedUpgrade":          400, // seen in the RunCommand doc comment
	"InvalidSessionId.NotFound":  404,
	// Invented: the reference has no codes for the session quotas.
	"SessionQuota.ExceedLimit":         403,
	"InstanceSessionQuota.ExceedLimit": 403,
	"InvalidCommandLine.LengthExceed":  400,
}

var errMessages = map[string]string{
	"RegionId.ApiNotSupported": "The api is not supported in this region.",
	"InstanceIds.ExceedLimit":  "The number of instance IDs exceeds the upper limit.",
	"Operation.Forbidden":      "The operation is not permitted.",
	"InternalError.Dispatch":   "An error occurred when you dispatched the request.",
	"InternalError":            "The request processing has failed due to some unknown error.",
	"ServiceUnavailable":       "The request has failed due to a temporary failure of the server.",
	"Throttling":               "Request was denied due to request throttling.",
	"Throttling.User":          "Request was denied due to user flow control.",
}

func newAPIError(code, msg string) *apiError {
	st, ok := apiStatus[code]
	if !ok {
		st = 400
	}
	if msg == "" {
		msg = errMessages[code]
	}
	if msg == "" {
		msg = code
	}
	return &apiError{Status: st, Code: code, Message: msg}
}

// request is one verified API call.
type request struct {
	action string
	params url.Values
	id     string // RequestId
}

func (r *request) get(name string) string { return r.params.Get(name) }

// list returns the values of a repeated parameter sent as Name.1, Name.2...
func (r *request) list(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := r.params[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

type actionFunc func(*Emulator, *request) (any, error)

var actions = map[string]actionFunc{
	"DescribeRegions":                (*Emulator).describeRegions,
	"DescribeInstances":              (*Emulator).describeInstances,
	"DescribeCloudAssistantStatus":   (*Emulator).describeCloudAssistantStatus,
	"DescribeUserBusinessBehavior":   (*Emulator).describeUserBusinessBehavior,
	"DescribeCloudAssistantSettings": (*Emulator).describeCloudAssistantSettings,
	"ModifyCloudAssistantSettings":   (*Emulator).modifyCloudAssistantSettings,
	"StartTerminalSession":           (*Emulator).startTerminalSession,
	"EndTerminalSession":             (*Emulator).endTerminalSession,
	"DescribeTerminalSessions":       (*Emulator).describeTerminalSessions,
	"InstallCloudAssistant":          (*Emulator).installCloudAssistant,
	"RunCommand":                     (*Emulator).runCommand,
	"DescribeInvocationResults":      (*Emulator).describeInvocationResults,
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeAPIError(w, r, reqID, newAPIError("InvalidParameter", "unreadable body"))
		return
	}
	params, signer, err := e.verifier.verify(r, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = newAPIError("InvalidParameter", err.Error())
		}
		writeAPIError(w, r, reqID, ae)
		return
	}
	action := r.Header.Get("x-acs-action")
	if action == "" {
		action = params.Get("Action")
	}
	e.log.Debug("api", "action", action, "request", reqID)
	e.mu.Lock()
	e.calls[action]++
	e.signers[action] = e.signers[action].add(signer)
	var fault string
	if q := e.faults[action]; len(q) > 0 {
		fault, e.faults[action] = q[0], q[1:]
	}
	h := e.holds[action]
	delete(e.holds, action)
	e.mu.Unlock()
	if h != nil {
		close(h.entered)
		<-h.released
	}
	if fault == "" {
		fault = e.opts.Refuse[action]
	}
	if fault != "" {
		writeAPIError(w, r, reqID, newAPIError(fault, ""))
		return
	}
	if params.Get("Version") == stsVersion {
		e.serveSTS(w, r, &request{action: action, params: params, id: reqID}, signer)
		return
	}
	fn, ok := actions[action]
	if !ok {
		writeAPIError(w, r, reqID, newAPIError("InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	req := &request{action: action, params: params, id: reqID}
	if region := req.get("RegionId"); action != "DescribeRegions" && region != e.fleet.Region {
		if region == "" {
			writeAPIError(w, r, reqID, newAPIError("MissingParameter", "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied."))
		} else {
			writeAPIError(w, r, reqID, newAPIError("RegionId.ApiNotSupported", ""))
		}
		return
	}
	resp, err := fn(e, req)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = newAPIError("InternalError", "")
		}
		writeAPIError(w, r, reqID, ae)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeAPIError answers in Alibaba's JSON error shape.
func writeAPIError(w http.ResponseWriter, r *http.Request, reqID string, ae *apiError) {
	host := r.Host
	product := "Ecs"
	if r.URL.Query().Get("Version") == stsVersion {
		product = "Sts"
	}
	writeJSON(w, ae.Status, map[string]string{
		"RequestId": reqID,
		"HostId":    host,
		"Code":      ae.Code,
		"Message":   ae.Message,
		"Recommend": "https://api.alibabacloud.com/troubleshoot?q=" + url.QueryEscape(ae.Code) + "&product=" + product + "&requestId=" + reqID,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	h := strings.ToUpper(randHex(16))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
