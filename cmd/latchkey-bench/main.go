// Command latchkey-bench loads a running Latchkey service with a named
// scenario (me, login, refresh, register, mixed) and reports throughput,
// latency percentiles, errors and the service's memory; "latchkey-bench
// floor" measures what each scenario is bounded by. See internal/bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/latchkey/latchkey/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "latchkey-bench: %v\n", err)
		os.Exit(1)
	}
}
