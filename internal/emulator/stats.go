package emulator

// ConnectedSessions reports how many WebSocket connections (agent channels) instance id has now,
// the count the per-instance limit applies to; load tests wait on it.
func (e *Emulator) ConnectedSessions(id string) int { return e.connectedOn(id) }
