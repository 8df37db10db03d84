package emulator

// RunRequest is what one accepted RunCommand asked for, for tests to check what a client sent.
type RunRequest struct {
	InstanceIDs                   []string
	Username, WindowsPasswordName string // as sent ("" when absent)
}

// RunRequests returns every RunCommand the emulator accepted, in order.
func (e *Emulator) RunRequests() []RunRequest {
	st := e.inv
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []RunRequest
	for _, inv := range st.order {
		rr := RunRequest{Username: inv.sentUser, WindowsPasswordName: inv.passwordName}
		for _, res := range inv.results {
			rr.InstanceIDs = append(rr.InstanceIDs, res.instanceID)
		}
		out = append(out, rr)
	}
	return out
}
