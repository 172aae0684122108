package serialsim

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	h := RecordHeader{Ports: 2, Baud: 4800, DataBits: 8, Parity: "none", StopBits: 1, Feed: "no-fix", Seed: 7,
		Started: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	w, err := NewRecordWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	frames := []RecordedFrame{
		{Index: 0, At: 10 * time.Millisecond, Data: []byte("$GPGSA,A,1*1E\r\n"),
			Ports: []PortFate{{Fate: FateDelivered}, {Fate: FateDropped}}},
		{Index: 1, At: 20 * time.Millisecond, Data: []byte{0, 1, 0xff},
			Ports: []PortFate{{Fate: FateCorrupted, Bytes: []byte{0, 2, 0xff}}, {Fate: FateDelivered}}},
	}
	for _, f := range frames {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	gotH, got, err := ReadRecord(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if gotH.Format != RecordFormat || gotH.Version != RecordVersion || gotH.Feed != "no-fix" || !gotH.Started.Equal(h.Started) {
		t.Fatalf("header = %+v", gotH)
	}
	if len(got) != 2 || !bytes.Equal(got[1].Data, frames[1].Data) || !bytes.Equal(got[1].Ports[0].Bytes, []byte{0, 2, 0xff}) {
		t.Fatalf("frames = %+v", got)
	}
	if !got[0].DeliveredTo(0) || got[0].DeliveredTo(1) || !got[1].DeliveredAnywhere() {
		t.Fatalf("fates read back wrong: %+v", got)
	}
}

func TestRecordRefusals(t *testing.T) {
	if _, err := NewRecordWriter(&bytes.Buffer{}, RecordHeader{}); err == nil {
		t.Fatal("a header without ports was accepted")
	}
	var buf bytes.Buffer
	w, _ := NewRecordWriter(&buf, RecordHeader{Ports: 1})
	if err := w.Write(RecordedFrame{Index: 1, Ports: []PortFate{{Fate: FateDelivered}}}); err == nil {
		t.Fatal("a frame out of order was accepted")
	}
	if err := w.Write(RecordedFrame{Index: 0}); err == nil {
		t.Fatal("a frame without its port fates was accepted")
	}
	for name, in := range map[string]string{
		"not a record": `{"format":"something-else","version":1,"ports":1}` + "\n",
		"newer":        `{"format":"feedd-sim-record","version":2,"ports":1}` + "\n",
		"truncated":    `{"format":"feedd-sim-record","version":1,"ports":1}` + "\n" + `{"i":0,"data":"","ports":[{"fa`,
		"skipped":      `{"format":"feedd-sim-record","version":1,"ports":1}` + "\n" + `{"i":1,"ports":[{"fate":"delivered"}]}` + "\n",
	} {
		if _, _, err := ReadRecord(strings.NewReader(in)); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}
