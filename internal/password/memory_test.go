package password

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingObserver counts the hashes.
type countingObserver struct {
	mu     sync.Mutex
	hashes int
}

func (o *countingObserver) ObservePasswordHash(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hashes++
}

func TestWarm(t *testing.T) {
	obs := &countingObserver{}
	const concurrency = 3
	h, err := NewHasher(lowCostParams, concurrency, 0, obs)
	if err != nil {
		t.Fatal(err)
	}
	before := obs.hashes
	if err := h.Warm(t.Context()); err != nil {
		t.Fatalf("Warm() = %v", err)
	}
	if got := obs.hashes - before; got != concurrency {
		t.Errorf("Warm() computed %d hashes, want one per slot, %d", got, concurrency)
	}
	if len(h.slots) != 0 {
		t.Errorf("Warm() left %d slots taken", len(h.slots))
	}
}

func TestWarmCanceled(t *testing.T) {
	h := newLowCostHasher(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.Warm(ctx); err == nil {
		t.Error("Warm(canceled) = nil, want the context's error")
	}
}

// TestReleaseWhenIdle checks that release is called once per idle spell:
// after the hashes stop, not again until another hash has run, and not
// while a hash holds a slot.
func TestReleaseWhenIdle(t *testing.T) {
	h := newLowCostHasher(t, 1)
	var released atomic.Int32
	go h.ReleaseWhenIdle(t.Context(), 5*time.Millisecond, func() { released.Add(1) })
	waitFor := func(n int32) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); released.Load() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("released %d times, want %d", released.Load(), n)
			}
		}
	}
	waitFor(1)
	time.Sleep(50 * time.Millisecond)
	if got := released.Load(); got != 1 {
		t.Fatalf("released %d times in one idle spell, want 1", got)
	}
	// A slot held: busy, however long it takes.
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := released.Load(); got != 1 {
		t.Errorf("released while a hash held a slot (%d times)", got)
	}
	h.release()
	waitFor(2)
}
