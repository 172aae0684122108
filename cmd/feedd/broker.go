package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/feedd/feedd/broadcast/localbroker"
)

// runBroker runs an embedded Kafka-protocol broker (franz-go's kfake) for
// the demo and local experiments. It is not Kafka: production runs against
// a real Kafka cluster (see docs/kafka.md).
func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedd broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", localbroker.DefaultListen, "host:port to listen on (port 0: any free port)")
	dataDir := fs.String("data-dir", "", "directory to persist topics, records and transactions in (default: memory only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: feedd broker [flags]\n\nRuns an embedded Kafka-protocol broker for demos and tests (not for production).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := localbroker.Start(localbroker.Options{Listen: *listen, DataDir: *dataDir, Logger: log})
	if err != nil {
		return err
	}
	where := "in memory"
	if *dataDir != "" {
		where = "data in " + *dataDir
	}
	fmt.Fprintf(stdout, "feedd broker listening on %s (%s); not for production\n", b.Addr(), where)
	<-ctx.Done()
	b.Close()
	fmt.Fprintln(stdout, "feedd broker stopped")
	return nil
}
