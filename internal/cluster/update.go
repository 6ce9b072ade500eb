package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ServiceUpdater is the part of the Engine API that UpdateService needs.
type ServiceUpdater interface {
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
}

// ErrNoChange, returned by a mutate function, means the service needs no update.
var ErrNoChange = errors.New("no change")

// MaxAttempts bounds how often UpdateService re-reads a service that someone
// else updated between our read and our write.
const MaxAttempts = 5

// UpdateService writes the change mutate makes to svc, with the version svc
// was read at. When the swarm answers that the update is out of sequence
// (someone else updated the service in between), it reads the service again
// and lets mutate decide afresh. mutate edits the spec in place and returns
// the update options (registry auth and the like); the spec goes back exactly
// as read apart from its edits, so that unchanged task specs restart nothing.
func UpdateService(ctx context.Context, api ServiceUpdater, svc swarm.Service, mutate func(*swarm.Service) (client.ServiceUpdateOptions, error)) (swarm.Service, error) {
	for attempt := 1; ; attempt++ {
		opts, err := mutate(&svc)
		if err != nil {
			return svc, err
		}
		opts.Version = svc.Version
		opts.Spec = svc.Spec
		_, err = api.ServiceUpdate(ctx, svc.ID, opts)
		if err == nil || !IsOutOfSequence(err) || attempt == MaxAttempts {
			return svc, err
		}
		res, ierr := api.ServiceInspect(ctx, svc.ID, client.ServiceInspectOptions{})
		if ierr != nil {
			return svc, fmt.Errorf("%w (then re-reading it: %w)", err, ierr)
		}
		svc = res.Service
	}
}

// IsOutOfSequence reports whether err is swarm's version-conflict error.
func IsOutOfSequence(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}
