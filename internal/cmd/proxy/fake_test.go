package proxy

import (
	"context"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
)

// patience bounds every wait; nothing should take a fraction of it.
const patience = 10 * time.Second

// fakeAPI lists a fixed set of instances, whatever the filter.
type fakeAPI struct{ insts []cloud.InstanceInfo }

func (a *fakeAPI) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return a.insts, nil
}
