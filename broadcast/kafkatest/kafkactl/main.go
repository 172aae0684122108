package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/feedd/feedd/broadcast/kafkatest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafkactl:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("usage: kafkactl up|down --dir DIR [--listen 127.0.0.1:PORT]")
	}
	fs := flag.NewFlagSet("kafkactl "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", "/tmp/feedd-kafka", "the broker's configuration, data and logs")
	listen := fs.String("listen", "127.0.0.1:9092", "the listener's address (127.0.0.1 only)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if args[0] == "down" {
		if err := kafkatest.StopIn(abs, kafkatest.DefaultStopTimeout); err != nil {
			return err
		}
		fmt.Printf("stopped; removing %s\n", abs)
		return os.RemoveAll(abs)
	}

	if pid := kafkatest.RunningIn(abs); pid != 0 {
		return fmt.Errorf("a broker already runs in %s (pid %d): make kafka-down first", abs, pid)
	}
	in, err := kafkatest.Find()
	if err != nil {
		return err
	}
	// A fresh node each time: whatever a previous run left is removed.
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b, err := in.Start(ctx, kafkatest.Config{Dir: abs, Listen: *listen, Detach: true,
		Logf: func(format string, args ...any) { fmt.Printf(format+"\n", args...) }})
	if err != nil {
		return err
	}
	fmt.Printf("Apache Kafka %s runs on %s (log: %s); stop it with make kafka-down\n", b.Version(), b.Addr(), b.LogPath())
	return nil
}
