package serialsim

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// BenchmarkPacing feeds a saturated line (the generator asks for far more
// frames than the line carries) into a port that a reader drains, for
// about pacingRun, and reports the line rate the reader measured over the
// configured baud rate: 1 is exact. One run takes longer than the default
// -benchtime, so each sub-benchmark runs once.
func BenchmarkPacing(b *testing.B) {
	const pacingRun = 2 * time.Second
	for _, baud := range []int{115200, 9600} {
		b.Run(fmt.Sprintf("baud=%d", baud), func(b *testing.B) {
			for b.Loop() {
				cfg := Config{Ports: 1, Baud: baud, Rate: 1e6, Seed: 1}
				bps := float64(baud) / 10 // 8N1
				cfg.Count = uint64(math.Ceil(pacingRun.Seconds() * bps / DefaultFrameSize))
				s := startSim(b, cfg)
				r := openReader(b, s.Ports()[0])
				waitFinished(b, s)
				waitFor(b, "every frame at the reader", func() bool {
					l, _ := r.snapshot()
					return uint64(len(l)) >= cfg.Count
				})
				lines, _ := r.snapshot()
				// Rate between the arrival of the first and of the last
				// frame: the bytes of every frame after the first.
				var n int
				for _, l := range lines[1:] {
					n += len(l.data)
				}
				elapsed := lines[len(lines)-1].at.Sub(lines[0].at).Seconds()
				measured := float64(n) * s.Config().BitsPerChar() / elapsed
				b.ReportMetric(measured/float64(baud), "rate/baud")
				b.Logf("%d bytes in %.3fs: %.1f bit/s, %.5f of %d baud", n, elapsed, measured, measured/float64(baud), baud)
				_ = s.Close()
			}
		})
	}
}
