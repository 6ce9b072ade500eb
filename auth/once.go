package auth

import (
	"context"
	"sync"
)

// onceByKey runs a look-up once per key: concurrent and later calls for the
// same key share the first call's answer. Credentials are fetched once per
// registry and anonymous access probed once per repository with it.
type onceByKey[T any] struct {
	mu    sync.Mutex
	calls map[string]*onceCall[T]
}

type onceCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func (o *onceByKey[T]) do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	o.mu.Lock()
	if o.calls == nil {
		o.calls = map[string]*onceCall[T]{}
	}
	c, ok := o.calls[key]
	if !ok {
		c = &onceCall[T]{done: make(chan struct{})}
		o.calls[key] = c
	}
	o.mu.Unlock()
	if !ok {
		c.val, c.err = fn()
		close(c.done)
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
