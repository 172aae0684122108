package serialsim

import (
	"bufio"
	"errors"
	"io"
	"os"
	"time"
)

// replayFeed writes a captured file as it is, back to back at the line
// rate: its frames are the file's lines, cut after each '\n' and every
// MaxReplayChunk bytes, looping if loop.
type replayFeed struct {
	f    *os.File
	r    *bufio.Reader
	loop bool
	logf func(string, ...any)
}

func newReplayFeed(f *os.File, loop bool, logf func(string, ...any)) *replayFeed {
	return &replayFeed{f: f, r: bufio.NewReaderSize(f, MaxReplayChunk), loop: loop, logf: logf}
}

func (f *replayFeed) notBefore() float64 { return 0 }

func (f *replayFeed) next(uint64, time.Time) ([]byte, bool) {
	for attempt := 0; attempt < 2; attempt++ {
		line, err := f.r.ReadSlice('\n')
		if len(line) > 0 {
			return append([]byte(nil), line...), true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) {
			f.logf("replay: %v", err)
			return nil, false
		}
		if !f.loop {
			return nil, false
		}
		if _, err := f.f.Seek(0, io.SeekStart); err != nil {
			f.logf("replay: %v", err)
			return nil, false
		}
		f.r.Reset(f.f)
	}
	return nil, false
}
