package emulator

import "strconv"

// installedVersion is what InstallCloudAssistant puts on an instance.
const installedVersion = "2.2.3.1032"

// installCloudAssistant records the agent as installed but not yet running: the real agent
// starts only after the instance reboots (docs/protocol.md §4.4), and the emulator has no reboot,
// so DescribeCloudAssistantStatus reports it offline from then on. The fleet itself is never
// changed, so concurrent readers need no lock.
func (e *Emulator) installCloudAssistant(r *request) (any, error) {
	ids := r.list("InstanceId")
	switch {
	case len(ids) == 0:
		return nil, newAPIError("MissingParameter", "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.")
	case len(ids) > 50:
		return nil, newAPIError("InvalidParameter", "The number of InstanceId exceeds 50 ("+strconv.Itoa(len(ids))+").")
	}
	for _, id := range ids {
		if _, ok := e.fleet.instance(id); !ok {
			return nil, newAPIError("InvalidInstanceId.NotFound", "The specified instance "+id+" does not exist.")
		}
	}
	e.mu.Lock()
	if e.installed == nil {
		e.installed = map[string]bool{}
	}
	for _, id := range ids {
		e.installed[id] = true
	}
	e.mu.Unlock()
	return obj{"RequestId": r.id}, nil
}

// pendingAgent reports whether id had an agent installed that awaits a reboot.
func (e *Emulator) pendingAgent(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.installed[id]
}
