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
	if len(h.slots) != concurrency {
		t.Errorf("Warm() left %d slots taken", concurrency-len(h.slots))
	}
	for range concurrency {
		s := <-h.slots
		if len(s.mem) != s.size {
			t.Errorf("after Warm() a slot holds %d bytes, want its %d", len(s.mem), s.size)
		}
		h.slots <- s
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

// mapped counts h's slots whose memory is mapped; it waits for the slots
// held by hashes in flight.
func mapped(h *Hasher) int {
	held := make([]*slot, cap(h.slots))
	n := 0
	for i := range held {
		held[i] = <-h.slots
		if held[i].mem != nil {
			n++
		}
	}
	for _, s := range held {
		h.slots <- s
	}
	return n
}

// TestReleaseWhenIdle checks that the slots' memory goes back after an idle
// spell, not while a hash holds a slot, and that the next hash maps it
// again and gets the key it would get in memory of its own.
func TestReleaseWhenIdle(t *testing.T) {
	h := newLowCostHasher(t, 1)
	if got := mapped(h); got != 1 {
		t.Fatalf("%d slots mapped after NewHasher's hash, want 1", got)
	}
	var releases atomic.Int32
	go h.ReleaseWhenIdle(t.Context(), 5*time.Millisecond, func() { releases.Add(1) })
	waitUnmapped := func(want int32) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); mapped(h) != 0 || releases.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after an idle spell: %d slots mapped, %d releases reported, want 0 and %d", mapped(h), releases.Load(), want)
			}
		}
	}
	waitUnmapped(1)
	// Once per idle spell: no hash since, no second release.
	time.Sleep(50 * time.Millisecond)
	if n := releases.Load(); n != 1 {
		t.Errorf("%d releases reported in one idle spell, want 1", n)
	}

	// A slot held, its memory mapped: busy, however long it takes.
	s, err := h.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.memory()
	time.Sleep(50 * time.Millisecond)
	if s.mem == nil {
		t.Error("the memory of a slot held by a hash went back")
	}
	h.release(s)
	waitUnmapped(2)

	ph := phcHash{params: lowCostParams, salt: newSalt()}
	ph.key = ph.derive(nil, referencePassword, argonKeyLen)
	if ok, _, err := h.Verify(t.Context(), ph.String(), referencePassword); !ok || err != nil {
		t.Errorf("Verify() after the memory went back = %t, %v, want true, nil", ok, err)
	}
}
