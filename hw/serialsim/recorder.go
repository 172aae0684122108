package serialsim

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// recordFlushEvery is how often the recorder writes the frames whose fate
// became final and flushes the file.
const recordFlushEvery = 200 * time.Millisecond

// recorder writes Config.Record while the Sim runs. The source adds each
// frame as it dispatches it; each port settles its fate for the frame once
// that is final; a goroutine writes the frames at the head of the feed
// whose fate is final on every port, in feed order.
//
// A port's fate is final at once for a frame it drops, pauses, loses to an
// unplug or an overflow, cuts off or writes corrupted; a frame written
// intact is delivered only once the reader has taken it (or when the Sim
// stops and the reader could still read it), and is unplugged if the pty
// closes first. So a reader that stops reading holds back the record (in
// memory) until it reads again, its port is unplugged or the Sim closes.
type recorder struct {
	f     *os.File
	w     *RecordWriter // the writing goroutine's, then close's
	ports int

	mu      sync.Mutex
	base    uint64 // the index of pending[0]
	pending []recEntry
	err     error // the first inconsistency a port reported

	stop chan struct{}
	done chan struct{}
}

type recEntry struct {
	frame RecordedFrame
	open  int // ports whose fate is not final yet
}

// newRecorder creates path, writes h and starts the writing goroutine.
func newRecorder(path string, h RecordHeader) (*recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("serialsim: Record: %w", err)
	}
	w, err := NewRecordWriter(f, h)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("serialsim: Record %s: %w", path, err)
	}
	r := &recorder{f: f, w: w, ports: h.Ports, stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r, nil
}

// add appends frame index (the next in feed order) with no fate yet.
func (r *recorder) add(index uint64, at time.Duration, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if want := r.base + uint64(len(r.pending)); index != want && r.err == nil {
		r.err = fmt.Errorf("serialsim: record: frame %d added after frame %d", index, want-1)
	}
	r.pending = append(r.pending, recEntry{
		frame: RecordedFrame{Index: index, At: at, Data: data, Ports: make([]PortFate, r.ports)},
		open:  r.ports,
	})
}

// settle sets port's final fate for frame index.
func (r *recorder) settle(index uint64, port int, pf PortFate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if index < r.base || index-r.base >= uint64(len(r.pending)) {
		if r.err == nil {
			r.err = fmt.Errorf("serialsim: record: port%d settled frame %d, which is not pending", port, index)
		}
		return
	}
	e := &r.pending[index-r.base]
	if e.frame.Ports[port].Fate != "" {
		if r.err == nil {
			r.err = fmt.Errorf("serialsim: record: port%d settled frame %d twice (%s, then %s)", port, index, e.frame.Ports[port].Fate, pf.Fate)
		}
		return
	}
	e.frame.Ports[port] = pf
	e.open--
}

// takeSettled removes and returns the frames at the head whose fate is final
// on every port.
func (r *recorder) takeSettled() []RecordedFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(r.pending) && r.pending[n].open == 0 {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]RecordedFrame, n)
	for i := range out {
		out[i] = r.pending[i].frame
	}
	r.pending = r.pending[n:]
	r.base += uint64(n)
	return out
}

// write writes the settled head and flushes.
func (r *recorder) write() error {
	for _, f := range r.takeSettled() {
		if err := r.w.Write(f); err != nil {
			return err
		}
	}
	return r.w.Flush()
}

func (r *recorder) run() {
	defer close(r.done)
	t := time.NewTicker(recordFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if err := r.write(); err != nil {
				r.mu.Lock()
				if r.err == nil {
					r.err = err
				}
				r.mu.Unlock()
				return
			}
		}
	}
}

// close stops the writing goroutine, writes what is left and closes the
// file. Called once every port has settled everything (the Sim is done), it
// finds every frame final; a frame that is not is reported, and it and the
// frames after it are not written.
func (r *recorder) close() error {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err == nil {
		err = r.write()
	}
	r.mu.Lock()
	if err == nil && len(r.pending) > 0 {
		e := r.pending[0]
		err = fmt.Errorf("serialsim: record: frame %d and %d after it have no final fate on every port (%+v)", e.frame.Index, len(r.pending)-1, e.frame.Ports)
	}
	r.mu.Unlock()
	return errors.Join(err, r.f.Close())
}
