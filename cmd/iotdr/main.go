// Command iotdr is iot-dr's command-line tool. `iotdr drill` runs a disaster-recovery
// drill on the embedded two-Region simulator and prints what it measured.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
