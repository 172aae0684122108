package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/spf13/cobra"
)

// brokerCommand is "feedd broker": an embedded Kafka-protocol broker
// (franz-go's kfake) for the demo and local experiments. It is not Kafka:
// production runs against a real Kafka cluster (see docs/kafka.md).
func brokerCommand() *cobra.Command {
	var listen, dataDir string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "run an embedded Kafka-protocol broker for demos and tests",
		Long:  "Runs an embedded Kafka-protocol broker for demos and tests (not for production).",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBroker(cmd.Context(), listen, dataDir, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", localbroker.DefaultListen, "host:port to listen on (port 0: any free port)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "directory to persist topics, records and transactions in (default: memory only)")
	return cmd
}

func runBroker(ctx context.Context, listen, dataDir string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := localbroker.Start(localbroker.Options{Listen: listen, DataDir: dataDir, Logger: log})
	if err != nil {
		return err
	}
	where := "in memory"
	if dataDir != "" {
		where = "data in " + dataDir
	}
	fmt.Fprintf(stdout, "feedd broker listening on %s (%s); not for production\n", b.Addr(), where)
	<-ctx.Done()
	b.Close()
	fmt.Fprintln(stdout, "feedd broker stopped")
	return nil
}
