package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// WaitAPI is what waiting for services needs of the Engine.
type WaitAPI interface {
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
}

// ServiceState is where a service stands while we wait for it.
type ServiceState struct {
	ID, Name string
	Done     bool   // converged: every task wanted runs at the current spec (jobs: completed)
	Failed   bool   // will not converge by itself
	Progress string // "2/3 running", "1/1 completed"
	Message  string // why it failed, with the tasks' errors
}

// FailedTasksLimit is how many failed or rejected tasks of the current spec
// make a service count as failing, rather than still starting.
const FailedTasksLimit = 3

// PollInterval is how often Wait looks at the services.
var PollInterval = 500 * time.Millisecond

// Wait polls the services until each has converged or failed, the timeout
// passes (0: no limit) or ctx ends, calling report with every change. It
// returns the last states; the error says which services did not converge.
func Wait(ctx context.Context, api WaitAPI, ids []string, timeout time.Duration, report func([]ServiceState)) ([]ServiceState, error) {
	return wait(ctx, api, ids, timeout, report, false, FailedTasksLimit)
}

// WaitJob waits for a one-off job: its first failed task fails it.
func WaitJob(ctx context.Context, api WaitAPI, id string, timeout time.Duration, report func([]ServiceState)) ([]ServiceState, error) {
	return wait(ctx, api, []string{id}, timeout, report, false, 1)
}

// WaitRollback is Wait for services rolling back: a completed rollback is
// what we wait for, not a failure.
func WaitRollback(ctx context.Context, api WaitAPI, ids []string, timeout time.Duration, report func([]ServiceState)) ([]ServiceState, error) {
	return wait(ctx, api, ids, timeout, report, true, FailedTasksLimit)
}

func wait(ctx context.Context, api WaitAPI, ids []string, timeout time.Duration, report func([]ServiceState), rollingBack bool, failLimit int) ([]ServiceState, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	states := make([]ServiceState, len(ids))
	last := ""
	for {
		pending := 0
		for i, id := range ids {
			if states[i].Done || states[i].Failed {
				continue
			}
			st, err := serviceState(ctx, api, id, rollingBack, failLimit)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return states, err
			}
			states[i] = st
			if !st.Done && !st.Failed {
				pending++
			}
		}
		if sig := fmt.Sprint(states); sig != last && report != nil {
			last = sig
			report(states)
		}
		if pending == 0 && ctx.Err() == nil {
			return states, failures(states)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return states, fmt.Errorf("services did not converge within %s: %w", timeout, failures(pendingAsFailed(states)))
			}
			return states, ctx.Err()
		case <-time.After(PollInterval):
		}
	}
}

func pendingAsFailed(states []ServiceState) []ServiceState {
	out := make([]ServiceState, len(states))
	for i, s := range states {
		out[i] = s
		if !s.Done && !s.Failed {
			out[i].Failed, out[i].Message = true, "still "+s.Progress
		}
	}
	return out
}

func failures(states []ServiceState) error {
	var errs []error
	for _, s := range states {
		if s.Failed {
			errs = append(errs, fmt.Errorf("service %s: %s", s.Name, s.Message))
		}
	}
	return errors.Join(errs...)
}

func serviceState(ctx context.Context, api WaitAPI, id string, rollingBack bool, failLimit int) (ServiceState, error) {
	res, err := api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return ServiceState{}, err
	}
	svc := res.Service
	st := ServiceState{ID: id, Name: svc.Spec.Name}
	if u := svc.UpdateStatus; u != nil {
		switch u.State {
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
			st.Failed, st.Message = true, "update paused: "+u.Message
			return st, nil
		case swarm.UpdateStateRollbackCompleted:
			if !rollingBack {
				st.Failed, st.Message = true, "rolled back: "+u.Message
				return st, nil
			}
		}
	}
	tl, err := api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id)})
	if err != nil {
		return st, err
	}
	// A task runs the current spec when its spec is the service's task
	// template (tasks do not carry the template's Runtime).
	current := func(t swarm.Task) bool {
		tmpl := svc.Spec.TaskTemplate
		tmpl.Runtime = t.Spec.Runtime
		return SpecEqual(t.Spec, tmpl)
	}
	var running, wanted, completed, failedCount, live int
	var lastErr string
	for _, t := range tl.Items {
		if !current(t) {
			continue
		}
		switch t.Status.State {
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
			failedCount++
			lastErr = fmt.Sprintf("task %s: %s", t.ID, firstNonEmpty(t.Status.Err, t.Status.Message))
		case swarm.TaskStateComplete:
			completed++
			live++
		default:
			live++
		}
		if t.DesiredState == swarm.TaskStateRunning {
			wanted++
			if t.Status.State == swarm.TaskStateRunning {
				running++
			}
		}
	}
	m := svc.Spec.Mode
	switch {
	case m.Replicated != nil:
		want := 1
		if m.Replicated.Replicas != nil {
			want = int(*m.Replicated.Replicas)
		}
		st.Progress = fmt.Sprintf("%d/%d running", running, want)
		st.Done = running == want && updateFinished(svc)
	case m.Global != nil:
		st.Progress = fmt.Sprintf("%d/%d running", running, wanted)
		st.Done = running == wanted && updateFinished(svc)
	case m.ReplicatedJob != nil:
		want := 1
		if m.ReplicatedJob.TotalCompletions != nil {
			want = int(*m.ReplicatedJob.TotalCompletions)
		}
		st.Progress = fmt.Sprintf("%d/%d completed", completed, want)
		st.Done = completed >= want
	case m.GlobalJob != nil:
		st.Progress = fmt.Sprintf("%d/%d completed", completed, live)
		st.Done = live > 0 && completed == live
	}
	if !st.Done && failedCount >= failLimit {
		st.Failed, st.Message = true, fmt.Sprintf("%d tasks failed; last: %s", failedCount, lastErr)
	}
	return st, nil
}

func updateFinished(svc swarm.Service) bool {
	u := svc.UpdateStatus
	return u == nil || u.State == swarm.UpdateStateCompleted || u.State == swarm.UpdateStateRollbackCompleted || u.State == ""
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// WaitGone waits until the removed services and their tasks are gone, so that
// their networks can be removed.
func WaitGone(ctx context.Context, api WaitAPI, ids []string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		left := 0
		for _, id := range ids {
			tl, err := api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id)})
			if err != nil {
				return err
			}
			left += len(tl.Items)
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d tasks of removed services are still there: %w", left, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}
