package engine

import (
	"context"
	"sync"
)

// outbox decouples the scheduler from a request's consumer. The scheduler only
// appends to an unbounded slice under a short lock; a goroutine per request
// moves the events to the request's channel at whatever pace the consumer
// reads. A stalled or vanished client therefore never holds up the batch: its
// events pile up (bounded by MaxTokens) or, once its context ends, are dropped.
type outbox struct {
	mu     sync.Mutex
	events []Event
	last   bool          // no event follows the queued ones
	ready  chan struct{} // capacity 1: "something changed"
}

func newOutbox() *outbox {
	return &outbox{ready: make(chan struct{}, 1)}
}

// push queues ev; last says it ends the stream. Pushes after the last are
// ignored, so a sequence can never be finished twice.
func (o *outbox) push(ev Event, last bool) {
	o.mu.Lock()
	if o.last {
		o.mu.Unlock()
		return
	}
	o.events = append(o.events, ev)
	o.last = last
	o.mu.Unlock()
	o.notify()
}

// end marks the stream finished without a further event (a cancelled request).
func (o *outbox) end() {
	o.mu.Lock()
	o.last = true
	o.mu.Unlock()
	o.notify()
}

func (o *outbox) notify() {
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// drain delivers the queued events to ch until the stream ends or ctx is done,
// then closes ch. It runs in its own goroutine.
func (o *outbox) drain(ctx context.Context, ch chan<- Event) {
	defer close(ch)
	for {
		select {
		case <-o.ready:
		case <-ctx.Done():
			return
		}
		o.mu.Lock()
		evs, last := o.events, o.last
		o.events = nil
		o.mu.Unlock()
		for _, ev := range evs {
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		if last {
			// push refuses events after the last one, so nothing can
			// have arrived since the swap.
			return
		}
	}
}
