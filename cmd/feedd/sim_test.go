package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/internal/testsupport"
)

// simMain runs "feedd sim args...".
func simMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, err := execute(ctx, newRoot(stdout, stderr, simCommand()), append([]string{"sim"}, args...))
	return err
}

func TestSimHelpNamesFeedsAndRecord(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := simMain(context.Background(), []string{"-h"}, &stdout, &stderr); err != nil {
		t.Fatalf("feedd sim -h: %v", err)
	}
	help := stdout.String()
	for _, want := range []string{"--feed", "--record", "--max-write-delay", "--serial.baud", "cycles per second", "back to back",
		"nmea-gps", "no-fix", "ais", "alphabet:K", "seq"} {
		if !strings.Contains(help, want) {
			t.Errorf("feedd sim -h does not mention %q:\n%s", want, help)
		}
	}
}

func TestSimValidationNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "capture.nmea")
	if err := os.WriteFile(capture, []byte("$GPGSV,1,1,00*79\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--feed", "gps"}, "--feed"},
		{[]string{"--feed", "alphabet:0"}, "--feed"},
		{[]string{"--feed", "ais", "--replay", capture}, "--feed"},
		{[]string{"--feed", "nmea-gps", "--rate", "500"}, "--rate"},
		{[]string{"--feed", "no-fix", "--frame-size", "64"}, "--frame-size"},
		{[]string{"--record", dir}, "--record"},
		{[]string{"--max-write-delay", "-1ms"}, "--max-write-delay"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--link-dir", filepath.Join(dir, "tty")}, c.args...)
		err := simMain(context.Background(), args, &stdout, &stderr)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag+":") {
			t.Errorf("feedd sim %s: %v; want an error naming %s", strings.Join(c.args, " "), err, c.flag)
		}
	}
}

// TestSimRunsAFeedAndRecordsIt: feedd sim --feed no-fix --record writes a
// record whose frames are exactly what each port's reader read.
func TestSimRunsAFeedAndRecordsIt(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("FEEDD_REQUIRE_SOCAT") != "" {
			t.Fatal("socat is not installed and FEEDD_REQUIRE_SOCAT is set")
		}
		t.Skip("SKIPPED: socat is not installed (apt-get install socat, or make deps)")
	}
	const n = 60 // ten cycles of six sentences
	dir := t.TempDir()
	linkDir, record := filepath.Join(dir, "tty"), filepath.Join(dir, "run.record")
	var stdout, stderr testsupport.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- simMain(context.Background(), []string{"--ports", "2", "--link-dir", linkDir, "--feed", "no-fix",
			"--rate", "10", "--count", "60", "--record", record, "--stats-interval", "0"}, &stdout, &stderr)
	}()
	var got [2]bytes.Buffer
	readers := make(chan error, 2)
	for i := range 2 {
		path := filepath.Join(linkDir, "port"+strconv.Itoa(i))
		var f *os.File
		testsupport.WaitFor(t, 30*time.Second, path+" to appear", func() (bool, string) {
			var err error
			f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY, 0)
			return err == nil, fmt.Sprintf("%v\n%s", err, stderr.String())
		})
		go func() {
			defer f.Close()
			buf := make([]byte, 4096)
			for bytes.Count(got[i].Bytes(), []byte("\n")) < n {
				k, err := f.Read(buf)
				got[i].Write(buf[:k])
				if err != nil {
					readers <- err
					return
				}
			}
			readers <- nil
		}()
	}
	for range 2 {
		if err := <-readers; err != nil {
			t.Fatalf("reading a port: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("feedd sim: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "port0 "+linkDir+"/port0") || !strings.Contains(out, "sim final") {
		t.Errorf("feedd sim printed:\n%s", out)
	}
	f, err := os.Open(record)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, frames, err := serialsim.ReadRecord(f)
	if err != nil {
		t.Fatal(err)
	}
	if h.Feed != serialsim.FeedNoFix || h.Ports != 2 || len(frames) != n {
		t.Fatalf("record: header %+v and %d frames", h, len(frames))
	}
	var want bytes.Buffer
	for _, fr := range frames {
		want.Write(fr.Data)
		if !fr.DeliveredTo(0) || !fr.DeliveredTo(1) {
			t.Fatalf("frame %d: %+v", fr.Index, fr.Ports)
		}
	}
	for i := range got {
		if !bytes.Equal(got[i].Bytes(), want.Bytes()) {
			t.Fatalf("port%d's reader read what the record does not hold:\n%q\nwant\n%q", i, got[i].Bytes(), want.Bytes())
		}
	}
}
